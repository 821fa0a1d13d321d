import type { MqttClient } from 'mqtt';
import type { QoS } from 'mqtt-packet';
import type { TracedPacket } from '../client/index.js';
import { canRelay } from '../link/index.js';
import type { ExerciseContext } from './context.js';
import { Checks, packetLines, type Section, stats, table, waitFor, type ExerciseReport } from './report.js';
import { demonstrateLinkBreakCase, type LinkBreakCase, reportLinkBreakCases } from './qos-levels/link-break-cases.js';
import { demonstrateLinkBreaks, type LinkBreaksResult, reportLinkBreaks } from './qos-levels/link-breaks.js';

/** The packets of one QoS flow on each side of the broker [MQTT-4.3.1], [MQTT-4.3.2], [MQTT-4.3.3]. */
export const EXPECTED_FLOW: Record<QoS, { publisher: string[]; subscriber: string[] }> = {
  0: { publisher: ['→PUBLISH'], subscriber: ['←PUBLISH'] },
  1: { publisher: ['→PUBLISH', '←PUBACK'], subscriber: ['←PUBLISH', '→PUBACK'] },
  2: {
    publisher: ['→PUBLISH', '←PUBREC', '→PUBREL', '←PUBCOMP'],
    subscriber: ['←PUBLISH', '→PUBREC', '←PUBREL', '→PUBCOMP'],
  },
};

/** One message's flow at one QoS, as it crossed the wire on both connections. */
export interface QosFlow {
  qos: QoS;
  /** Compact sequences like `→PUBLISH`, `←PUBACK` (direction seen from that client). */
  publisherSequence: string[];
  subscriberSequence: string[];
  publisher: TracedPacket[];
  subscriber: TracedPacket[];
  bytes: { publisher: number; subscriber: number };
}

/** Delivered QoS for each (granted, published) pair: effective QoS = min(published, granted) [MQTT-3.8.4-8]. */
export interface DowngradeResult {
  /** grid[granted][published] = QoS the subscriber received. */
  grid: number[][];
}

/** Timing and cost per message at one QoS over n messages sent one at a time. */
export interface QosComparison {
  qos: QoS;
  messages: number;
  received: number;
  latencyMs: { n: number; mean: number; p50: number; p99: number; max: number };
  packetsPerMessage: { publisher: number; subscriber: number };
  bytesPerMessage: { publisher: number; subscriber: number };
}

export interface QosLevelsResult {
  flows: QosFlow[];
  downgrade: DowngradeResult;
  comparison: QosComparison[];
  /** Many messages through breaking links (absent when the broker URL is not mqtt://). */
  linkBreaks?: LinkBreaksResult;
  /** The three deterministic link breaks. */
  linkBreakCases: LinkBreakCase[];
}

const sequence = (packets: TracedPacket[]) => packets.map((p) => `${p.direction === 'out' ? '→' : '←'}${p.type}`);
const sum = (packets: TracedPacket[]) => packets.reduce((total, p) => total + p.bytes, 0);

/** Publishes one message at `qos` to a subscriber granted QoS 2 and returns both sides' packets. */
async function demonstrateQos(ctx: ExerciseContext, qos: QoS): Promise<QosFlow> {
  const topic = ctx.topic(`lab/qos${qos}/demo`);
  const subscriber = await ctx.connect(`sub-qos${qos}`);
  await subscriber.subscribeAsync(topic, { qos: 2 });
  const publisher = await ctx.connect(`pub-qos${qos}`);
  const mark = ctx.trace.mark();
  let received = false;
  subscriber.on('message', () => (received = true));
  await publisher.publishAsync(topic, `reading at QoS ${qos}`, { qos });
  // The subscriber's side finishes on its own: wait (bounded) until its last packet of the flow is out.
  const last = EXPECTED_FLOW[qos].subscriber.at(-1)!;
  await waitFor(() => received && sequence(ctx.trace.since(mark, { client: `sub-qos${qos}` })).includes(last), 3000);
  const publisherPackets = ctx.trace.since(mark, { client: `pub-qos${qos}` });
  const subscriberPackets = ctx.trace.since(mark, { client: `sub-qos${qos}` });
  return {
    qos,
    publisherSequence: sequence(publisherPackets),
    subscriberSequence: sequence(subscriberPackets),
    publisher: publisherPackets,
    subscriber: subscriberPackets,
    bytes: { publisher: sum(publisherPackets), subscriber: sum(subscriberPackets) },
  };
}

/** QoS 0, at most once: one PUBLISH, nothing comes back (seed: demonstrate_qos0). */
export const demonstrateQos0 = (ctx: ExerciseContext) => demonstrateQos(ctx, 0);
/** QoS 1, at least once: PUBLISH then PUBACK (seed: demonstrate_qos1). */
export const demonstrateQos1 = (ctx: ExerciseContext) => demonstrateQos(ctx, 1);
/** QoS 2, exactly once: PUBLISH, PUBREC, PUBREL, PUBCOMP (seed: demonstrate_qos2). */
export const demonstrateQos2 = (ctx: ExerciseContext) => demonstrateQos(ctx, 2);

/** Subscribers granted QoS 0, 1 and 2 each receive messages published at QoS 0, 1 and 2. */
export async function demonstrateDowngrade(ctx: ExerciseContext): Promise<DowngradeResult> {
  const topic = ctx.topic('lab/qos/downgrade');
  const grid: number[][] = [[], [], []];
  const subscribers: MqttClient[] = [];
  for (const granted of [0, 1, 2] as const) {
    const client = await ctx.connect(`granted-${granted}`);
    client.on('message', (_t, payload, packet) => (grid[granted]![Number(payload.toString())] = packet.qos));
    await client.subscribeAsync(topic, { qos: granted });
    subscribers.push(client);
  }
  const publisher = await ctx.connect('pub-downgrade');
  for (const published of [0, 1, 2] as const) await publisher.publishAsync(topic, String(published), { qos: published });
  await waitFor(() => grid.every((row) => row.filter((q) => q !== undefined).length === 3), 3000);
  return { grid };
}

/**
 * Sends `messages` messages at each QoS, one at a time, and measures publish → receive latency and the
 * packets and bytes each message costs on both connections (seed: compare_qos_levels).
 */
export async function compareQosLevels(ctx: ExerciseContext, messages = 200): Promise<QosComparison[]> {
  const out: QosComparison[] = [];
  for (const qos of [0, 1, 2] as const) {
    const topic = ctx.topic(`lab/qos${qos}/compare`);
    const subLabel = `cmp-sub-${qos}`;
    const pubLabel = `cmp-pub-${qos}`;
    const subscriber = await ctx.connect(subLabel);
    await subscriber.subscribeAsync(topic, { qos: 2 });
    const publisher = await ctx.connect(pubLabel);
    let onReceive: (() => void) | undefined;
    let received = 0;
    subscriber.on('message', () => {
      received++;
      onReceive?.();
    });
    const mark = ctx.trace.mark();
    const latencies: number[] = [];
    const payload = Buffer.alloc(16, 0x61);
    for (let i = 0; i < messages; i++) {
      const arrived = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`message ${i} at QoS ${qos} did not arrive within 5 s`)), 5000);
        onReceive = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      const started = performance.now();
      const published = publisher.publishAsync(topic, payload, { qos });
      await arrived;
      latencies.push(performance.now() - started);
      await published;
    }
    const last = EXPECTED_FLOW[qos].subscriber.at(-1)!;
    await waitFor(() => sequence(ctx.trace.since(mark, { client: subLabel })).filter((s) => s === last).length >= messages, 3000);
    const pub = ctx.trace.since(mark, { client: pubLabel });
    const sub = ctx.trace.since(mark, { client: subLabel });
    const per = (x: number) => Math.round((x / messages) * 100) / 100;
    out.push({
      qos,
      messages,
      received,
      latencyMs: stats(latencies),
      packetsPerMessage: { publisher: per(pub.length), subscriber: per(sub.length) },
      bytesPerMessage: { publisher: per(sum(pub)), subscriber: per(sum(sub)) },
    });
  }
  return out;
}

/** Runs exercise 2 and reports it. */
export async function runQosLevels(
  ctx: ExerciseContext,
  options: { messages?: number; linkBreakMessages?: number } = {},
): Promise<ExerciseReport<QosLevelsResult>> {
  const started = Date.now();
  const flows = [await demonstrateQos0(ctx), await demonstrateQos1(ctx), await demonstrateQos2(ctx)];
  const downgrade = await demonstrateDowngrade(ctx);
  const comparison = await compareQosLevels(ctx, options.messages ?? 200);
  // Broken links need the link proxy, which relays plain TCP (mqtt://).
  const linkBreaks = canRelay(ctx.url) ? await demonstrateLinkBreaks(ctx, { messages: options.linkBreakMessages }) : undefined;
  const linkBreakCases = linkBreaks
    ? [await demonstrateLinkBreakCase(ctx, 0), await demonstrateLinkBreakCase(ctx, 1), await demonstrateLinkBreakCase(ctx, 2)]
    : [];
  const checks = new Checks();
  const sections = [reportFlows(flows, checks), reportDowngrade(downgrade, checks), reportComparison(comparison, checks)];
  if (linkBreaks) sections.push(reportLinkBreaks(linkBreaks, checks), reportLinkBreakCases(linkBreakCases, checks));
  return {
    exercise: 'qos-levels',
    title: 'Exercise 2 — QoS levels: what each guarantee costs on the wire',
    broker: ctx.url,
    sections,
    keyQuestion: keyQuestion(comparison, linkBreaks),
    checks: checks.list,
    data: { flows, downgrade, comparison, linkBreaks, linkBreakCases },
    durationMs: Date.now() - started,
  };
}

/** The section of the three packet flows, recording that each side is the spec's sequence. */
function reportFlows(flows: QosFlow[], checks: Checks): Section {
  const lines: string[] = [];
  for (const flow of flows) {
    const expected = EXPECTED_FLOW[flow.qos];
    const publisher = flow.publisherSequence.join(' ');
    const subscriber = flow.subscriberSequence.join(' ');
    checks.expect(
      `QoS ${flow.qos}: publisher side is ${expected.publisher.join(' ')}`,
      flow.publisherSequence.join() === expected.publisher.join(),
      publisher,
    );
    checks.expect(
      `QoS ${flow.qos}: subscriber side is ${expected.subscriber.join(' ')}`,
      flow.subscriberSequence.join() === expected.subscriber.join(),
      subscriber,
    );
    const packets = flow.publisher.length + flow.subscriber.length;
    lines.push(`  QoS ${flow.qos}: ${packets} packets, ${flow.bytes.publisher + flow.bytes.subscriber} bytes in all`);
    lines.push(...packetLines([...flow.publisher, ...flow.subscriber].sort((a, b) => a.at - b.at)).map((l) => `  ${l}`));
    if (flow.qos === 2) lines.push(...qos2Notes(flow));
  }
  return { title: 'One message per QoS, publisher → broker → subscriber (the subscriber was granted QoS 2)', lines };
}

/** The downgrade grid, recording that each message arrived at min(published, granted). */
function reportDowngrade(downgrade: DowngradeResult, checks: Checks): Section {
  for (const granted of [0, 1, 2]) {
    for (const published of [0, 1, 2]) {
      const got = downgrade.grid[granted]![published];
      const expected = Math.min(published, granted);
      checks.expect(
        `published QoS ${published} to a QoS ${granted} subscription arrives at QoS ${expected}`,
        got === expected,
        `arrived at QoS ${got}`,
      );
    }
  }
  return {
    title: 'Downgrade: a subscriber receives min(published QoS, granted QoS) [MQTT-3.8.4-8]',
    lines: table(
      ['granted \\ published', 'QoS 0', 'QoS 1', 'QoS 2'],
      [0, 1, 2].map((g) => [`QoS ${g}`, ...[0, 1, 2].map((p) => `QoS ${downgrade.grid[g]![p]}`)]),
    ),
  };
}

/** The timed comparison, recording that every message arrived. */
function reportComparison(comparison: QosComparison[], checks: Checks): Section {
  for (const c of comparison)
    checks.expect(`all ${c.messages} QoS ${c.qos} messages arrived`, c.received === c.messages, `${c.received} arrived`);
  return {
    title: `${comparison[0]!.messages} messages per QoS, one at a time, 16-byte payload (timings are this run's, on this machine)`,
    lines: table(
      ['QoS', 'arrived', 'mean ms', 'p50 ms', 'p99 ms', 'packets/msg pub+sub', 'bytes/msg pub+sub'],
      comparison.map((c) => [
        c.qos,
        `${c.received}/${c.messages}`,
        c.latencyMs.mean,
        c.latencyMs.p50,
        c.latencyMs.p99,
        `${c.packetsPerMessage.publisher} + ${c.packetsPerMessage.subscriber}`,
        `${c.bytesPerMessage.publisher} + ${c.bytesPerMessage.subscriber}`,
      ]),
    ),
  };
}

/** The key question's answer, continued with what broken links did to each QoS in this run. */
function linkBreaksAnswer({ report, cutEvery }: LinkBreaksResult): string[] {
  const [q0, q1, q2] = [0, 1, 2].map((q) => report.outcomes.find((o) => o.qos === q)!);
  return [
    `When the links broke (every ${cutEvery} packets here), QoS 0 lost ${q0!.lost} of ${q0!.sent} readings, QoS 1 lost none but delivered`,
    `${q1!.duplicated} twice, QoS 2 delivered ${q2!.received} of ${q2!.sent} exactly once: ` +
      'QoS 1 with idempotent handling suits alerts; QoS 2 where a copy does harm.',
  ];
}

/** The seed's key question, answered with this run's packets and latencies. */
function keyQuestion(comparison: QosComparison[], linkBreaks: LinkBreaksResult | undefined): ExerciseReport['keyQuestion'] {
  const [q0, q1, q2] = comparison as [QosComparison, QosComparison, QosComparison];
  const endToEnd = (c: QosComparison) => c.packetsPerMessage.publisher + c.packetsPerMessage.subscriber;
  const packetsPerSecond = (c: QosComparison) => Math.round(10_000 * endToEnd(c)).toLocaleString('en-US');
  return {
    question: 'Why would you ever use QoS 0 if messages can be lost? (10,000 sensors publishing every second)',
    answer: [
      `Here QoS 0 cost ${endToEnd(q0)} packets per reading end to end, QoS 1 ${endToEnd(q1)} and QoS 2 ${endToEnd(q2)};`,
      `for 10,000 readings/s that is ${packetsPerSecond(q0)} vs ${packetsPerSecond(q1)} vs ${packetsPerSecond(q2)} ` +
        'packets/s through the broker, and p50 latency was',
      `${q0.latencyMs.p50} vs ${q1.latencyMs.p50} vs ${q2.latencyMs.p50} ms. ` +
        'A lost temperature reading is replaced by the next one a second later, so paying',
      'for acknowledgements buys nothing; keep QoS 1/2 for alerts and commands, where one lost or duplicated message matters.',
      ...(linkBreaks ? linkBreaksAnswer(linkBreaks) : []),
    ],
  };
}

/** What the QoS 2 trace shows but does not say: whose packet ids these are, and why acks differ in size. */
function qos2Notes(flow: QosFlow): string[] {
  const publisherId = flow.publisher.find((p) => p.type === 'PUBLISH')?.messageId;
  const subscriberId = flow.subscriber.find((p) => p.type === 'PUBLISH')?.messageId;
  const acks = [...flow.publisher, ...flow.subscriber].filter((p) => p.type !== 'PUBLISH');
  const sizes = [...new Set(acks.map((p) => p.bytes))].sort((a, b) => a - b);
  return [
    `    ids: the publisher's PUBLISH was id=${publisherId}, the broker's to the subscriber id=${subscriberId}. A packet id names a`,
    '    message in flight on one connection only (MQTT 5.0 §2.2.1): each side picks its own, and PUBREC/PUBREL/PUBCOMP repeat it.',
    ...(sizes.length > 1
      ? [
          `    sizes: acks of ${sizes.join(' and ')} bytes. An ack is fixed header 2 + packet id 2 = 4 bytes;`,
          '    MQTT 5 adds a reason code and a property length (6 bytes), which a sender may leave out when the reason',
          '    is Success with no properties (§3.5.2.1).',
        ]
      : []),
  ];
}
