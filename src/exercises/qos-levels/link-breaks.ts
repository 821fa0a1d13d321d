import { CHAOS_DEFAULTS, type ChaosReport, runChaos } from '../../chaos/index.js';
import type { ExerciseContext } from '../context.js';
import { type Checks, type Section, table } from '../report.js';

/** Per QoS, many messages through links that keep breaking: the counts at the subscriber. */
export interface LinkBreaksResult {
  messages: number;
  cutEvery: number;
  /** The chaos run behind the counts (mqttlab chaos against this exercise's broker). */
  report: ChaosReport;
}

/**
 * Per QoS a publisher and a persistent-session subscriber (Clean Start 0, Session Expiry, automatic
 * reconnect) through links that break every `cutEvery` packets: what the subscriber got, once, twice or
 * never. The same run as `mqttlab chaos --broker <url> --messages n --cut-every k`.
 */
export async function demonstrateLinkBreaks(
  ctx: ExerciseContext,
  options: { messages?: number; cutEvery?: number } = {},
): Promise<LinkBreaksResult> {
  const messages = options.messages ?? 200;
  const cutEvery = options.cutEvery ?? 40;
  const report = await runChaos({ ...CHAOS_DEFAULTS, broker: ctx.url, messages, faults: { cutEvery }, timeoutMs: 60_000 });
  return { messages, cutEvery, report };
}

/** The counts per QoS, checked against each contract. */
export function reportLinkBreaks(result: LinkBreaksResult, checks: Checks): Section {
  const { report } = result;
  for (const o of report.outcomes)
    checks.expect(
      `QoS ${o.qos} through breaking links: ${o.contract}`,
      o.verdict === 'pass',
      `${o.verdict}: lost ${o.lost}, duplicated ${o.duplicated}`,
    );
  return {
    title:
      `When the link breaks: ${result.messages} messages per QoS, ` +
      `both clients' links cut every ${result.cutEvery} packets (${report.cuts} cuts)`,
    lines: [
      ...table(
        ['QoS', 'delivered', 'lost', 'duplicated', "PUBLISH with DUP=1 on the subscriber's link"],
        report.outcomes.map((o) => [o.qos, `${o.received} of ${o.sent}`, o.lost, o.duplicated, o.dupFlags]),
      ),
      "  QoS 0 is lost whenever the subscriber's link is down (nothing is sent again); QoS 1 is sent again after every",
      '  break until acknowledged, so what was in flight arrives twice; QoS 2 is sent again too, but the receiver keeps',
      '  the packet id until PUBREL, so a copy before PUBREL is recognised and delivered once.',
    ],
  };
}
