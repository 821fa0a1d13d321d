import type { QoS } from 'mqtt-packet';
import { disconnect } from '../../client/index.js';
import { type CutOnRule, createLinkProxy, formatLinkEventLine, formatPacketLine, summarizePacket } from '../../link/index.js';
import type { ExerciseContext } from '../context.js';
import { type Checks, type Section, sleep, waitFor } from '../report.js';

/** One deterministic link break: the packet the link broke on, what crossed it, what the subscriber got. */
export interface LinkBreakCase {
  qos: QoS;
  /** What happens, in one line. */
  story: string;
  /** The packet the link broke on instead of forwarding it, e.g. "PUBACK to-client". */
  cutOn: string;
  /** Times the subscriber received the message. */
  delivered: number;
  /** What the QoS contract gives here. */
  expected: number;
  /** The packet id and DUP flag of each PUBLISH the publisher sent, in order. */
  publishes: Array<{ packetId?: number; dup: boolean }>;
  /** The publisher's link packet by packet as the proxy decoded it, and the subscriber's deliveries. */
  trace: string[];
}

const CASES: Record<QoS, { rule: CutOnRule; expected: number; story: string }> = {
  0: {
    rule: { type: 'PUBLISH', direction: 'to-broker' },
    expected: 0,
    story: 'QoS 0, the link breaks before the broker: lost, nobody sends it again',
  },
  1: {
    rule: { type: 'PUBACK', direction: 'to-client' },
    expected: 2,
    story: 'QoS 1, the link breaks as the PUBACK returns: sent again, delivered twice',
  },
  2: {
    rule: { type: 'PUBREC', direction: 'to-client' },
    expected: 1,
    story: 'QoS 2, the link breaks between PUBREC and PUBREL: sent again, still delivered once',
  },
};

/**
 * Publishes one message at `qos` from a publisher whose link (a proxy) breaks at one chosen packet; the
 * publisher has a persistent session (Clean Start 0, Session Expiry 60 s) and reconnects by itself, the
 * subscriber is connected directly. Returns the publisher's link, packet by packet.
 */
export async function demonstrateLinkBreakCase(ctx: ExerciseContext, qos: QoS): Promise<LinkBreakCase> {
  const { rule, expected, story } = CASES[qos];
  const proxy = await createLinkProxy({ to: ctx.url });
  const started = Date.now();
  const trace: string[] = [];
  const publishes: LinkBreakCase['publishes'] = [];
  proxy.on('packet', (p) => {
    if (p.type === 'PINGREQ' || p.type === 'PINGRESP') return;
    trace.push(formatPacketLine(summarizePacket(p), { since: started, clientId: false }));
    if (p.direction === 'to-broker' && p.packet?.cmd === 'publish') publishes.push({ packetId: p.packet.messageId, dup: p.packet.dup });
  });
  proxy.on('link', (e) => e.kind !== 'open' && trace.push(formatLinkEventLine(e, { since: started, clientId: false })));
  try {
    const topic = ctx.topic(`lab/qos${qos}/link-break`);
    const subscriber = await ctx.connect(`break-sub-q${qos}`);
    let delivered = 0;
    subscriber.on('message', (t) => {
      if (t !== topic) return;
      delivered++;
      trace.push(`${String(Date.now() - started).padStart(6)} ms    the subscriber receives the message (${delivered})`);
    });
    await subscriber.subscribeAsync(topic, { qos: 2 });
    const publisher = await ctx.connectTo(proxy.url, `break-pub-q${qos}`, {
      clean: false,
      reconnectPeriod: 100,
      properties: { sessionExpiryInterval: 60 },
    });
    publisher.on('error', () => {});
    proxy.faults = { cutOn: [rule] };
    const reconnected = new Promise((resolve) => publisher.once('connect', resolve));
    const acknowledged = publisher.publishAsync(topic, 'reading', { qos });
    await Promise.race([reconnected, sleep(3000)]);
    if (qos > 0) await Promise.race([acknowledged, sleep(5000)]);
    await waitFor(() => delivered >= expected, 2000);
    // A further delivery would come now, if there were one.
    await sleep(300);
    await Promise.race([disconnect(publisher), sleep(2000)]);
    ctx.forget(publisher);
    return { qos, story, cutOn: `${rule.type} ${rule.direction}`, delivered, expected, publishes, trace: [...trace] };
  } finally {
    await proxy.close();
  }
}

/** The three cases, each with its packet trace, checked against what its QoS promises. */
export function reportLinkBreakCases(cases: LinkBreakCase[], checks: Checks): Section {
  const lines: string[] = [];
  for (const c of cases) {
    checks.expect(`${c.story} (MQTT 5.0 §4.3.${c.qos + 1})`, c.delivered === c.expected, `delivered ${c.delivered} time(s)`);
    const ids = c.publishes.map((p) => p.packetId);
    if (c.qos > 0)
      checks.expect(
        `QoS ${c.qos}: sent again on the resumed session with its packet id [MQTT-4.4.0-1]`,
        ids.length === 2 && ids[0] === ids[1],
        `${ids}`,
      );
    lines.push(`  ${c.story} — delivered ${c.delivered} time(s):`, ...c.trace.map((l) => `    ${l}`), '');
  }
  const resent = cases.flatMap((c) => c.publishes.slice(1));
  if (resent.some((p) => !p.dup)) {
    lines.push(
      '  The publisher (MQTT.js) sent its PUBLISH again with DUP=0, though [MQTT-3.3.1-1] asks for DUP=1 (mqttjs/MQTT.js#692):',
      '  nothing depends on it — the QoS 2 copy was recognised by its packet id, which the broker keeps until PUBREL.',
    );
  }
  return {
    title: 'When the link breaks at one chosen packet (the publisher reconnects with its session; the trace is its link)',
    lines: lines.at(-1) === '' ? lines.slice(0, -1) : lines,
  };
}
