import type { MqttClient } from 'mqtt';
import { disconnect } from '../../client/index.js';
import { createLinkProxy } from '../../link/index.js';
import type { ExerciseContext } from '../context.js';
import { type Checks, type Section, sleep, table, waitFor } from '../report.js';

/** One subscriber Receive Maximum on the flaky link. */
export interface FlakyRound {
  receiveMaximum: number;
  /** Distinct messages the subscriber had when the faults stopped. */
  receivedUnderFaults: number;
  /** Distinct messages once the link was repaired and the rest came. */
  received: number;
  /** Deliveries beyond the first of a message, in the whole round. */
  duplicated: number;
  /** PUBLISH packets the broker sent the subscriber, first sends and resends, under faults. */
  publishesUnderFaults: number;
  /** Times the subscriber's link broke. */
  cuts: number;
  /**
   * The most PUBLISHes the broker sent on one connection before the first PUBCOMP reached it: its send
   * quota starts at most at Receive Maximum and only a PUBCOMP raises it [MQTT-4.9.0-2], so no more is allowed.
   */
  largestBurst: number;
}

/** Receive Maximum 65,535 against 10 for a subscriber whose link keeps breaking. */
export interface FlakyFlowControlResult {
  messages: number;
  cutEvery: number;
  faultsSeconds: number;
  rounds: FlakyRound[];
}

/**
 * A publisher on a good link sends `messages` QoS 2 messages at once to a subscriber whose link breaks
 * every `cutEvery` packets; it reconnects with its session each time, and the broker sends again what
 * was in flight [MQTT-4.4.0-1] — up to the subscriber's Receive Maximum [MQTT-3.3.4-9]. With 65,535
 * every resume can be a burst longer than the link lasts. After `faultsSeconds` the link is repaired
 * and the rest arrives. Once with Receive Maximum 65,535 (MQTT's default), once with 10.
 */
export async function demonstrateFlakyFlowControl(
  ctx: ExerciseContext,
  options: { messages?: number; cutEvery?: number; faultsSeconds?: number } = {},
): Promise<FlakyFlowControlResult> {
  const messages = options.messages ?? 500;
  const cutEvery = options.cutEvery ?? 40;
  const faultsSeconds = options.faultsSeconds ?? 15;
  const rounds: FlakyRound[] = [];
  for (const receiveMaximum of [65_535, 10]) rounds.push(await flakyRound(ctx, receiveMaximum, messages, cutEvery, faultsSeconds));
  return { messages, cutEvery, faultsSeconds, rounds };
}

async function flakyRound(
  ctx: ExerciseContext,
  receiveMaximum: number,
  messages: number,
  cutEvery: number,
  faultsSeconds: number,
): Promise<FlakyRound> {
  const topic = ctx.topic(`work/flaky-rm${receiveMaximum}`);
  const proxy = await createLinkProxy({ to: ctx.url });
  let cuts = 0;
  let publishes = 0;
  // PUBLISHes per connection until the first PUBCOMP from the subscriber gets through to the broker.
  const burst = new Map<number, number>();
  let largestBurst = 0;
  proxy.on('link', (e) => e.kind === 'cut' && cuts++);
  proxy.on('packet', (p) => {
    if (p.fate !== 'forwarded') return;
    if (p.type === 'PUBLISH' && p.direction === 'to-client') {
      publishes++;
      const sent = burst.get(p.connection);
      if (sent !== -1) burst.set(p.connection, (sent ?? 0) + 1);
      largestBurst = Math.max(largestBurst, burst.get(p.connection)!);
    } else if (p.type === 'PUBCOMP' && p.direction === 'to-broker') {
      burst.set(p.connection, -1);
    }
  });
  const seen = new Map<string, number>();
  try {
    const options = { clean: false, reconnectPeriod: 100, properties: { sessionExpiryInterval: 300, receiveMaximum } };
    const subscriber = await ctx.connectTo(proxy.url, `flaky-sub-rm${receiveMaximum}`, options);
    subscriber.on('error', () => {});
    subscriber.on('message', (t, payload) => t === topic && seen.set(payload.toString(), (seen.get(payload.toString()) ?? 0) + 1));
    await subscriber.subscribeAsync(topic, { qos: 2 });
    proxy.faults = { cutEvery };
    const publisher = await ctx.connect(`flaky-pub-rm${receiveMaximum}`);
    const faultsEnd = Date.now() + faultsSeconds * 1000;
    // Bounded: an acknowledgement that never comes must not hold the exercise past its faults.
    await Promise.race([publishAll(publisher, topic, messages, faultsEnd), sleep(faultsSeconds * 1000)]);
    await sleep(Math.max(0, faultsEnd - Date.now()));
    const receivedUnderFaults = seen.size;
    const publishesUnderFaults = publishes;
    proxy.faults = {};
    await waitFor(() => seen.size >= messages, 15_000);
    await sleep(200);
    const duplicated = [...seen.values()].reduce((n, times) => n + times - 1, 0);
    await Promise.race([disconnect(subscriber, true), sleep(2000)]);
    // Forgotten only once it is certainly closed: an end() that did not call back within 2 s gets its socket destroyed.
    if (!subscriber.disconnected) subscriber.stream?.destroy();
    ctx.forget(subscriber);
    return { receiveMaximum, receivedUnderFaults, received: seen.size, duplicated, publishesUnderFaults, cuts, largestBurst };
  } finally {
    await proxy.close();
  }
}

/** Publishes `messages` QoS 2 messages, at most 20 unacknowledged (Mosquitto's default Receive Maximum), until `deadline`. */
async function publishAll(publisher: MqttClient, topic: string, messages: number, deadline: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < messages && Date.now() < deadline) await publisher.publishAsync(topic, String(next++), { qos: 2 });
  };
  await Promise.all(Array.from({ length: 20 }, lane));
}

/** The two rounds side by side. */
export function reportFlakyFlowControl(result: FlakyFlowControlResult, checks: Checks): Section {
  const [big, small] = result.rounds as [FlakyRound, FlakyRound];
  checks.expect(
    'QoS 2 on the flaky link: nothing delivered twice, with either Receive Maximum',
    result.rounds.every((r) => r.duplicated === 0),
    result.rounds.map((r) => `${r.duplicated} duplicated`).join(', '),
  );
  const windowKept = checks.conforms(
    ['MQTT-3.3.4-9', 'MQTT-4.9.0-2'],
    `Receive Maximum ${small.receiveMaximum}: never more PUBLISHes on a connection before a PUBCOMP`,
    small.largestBurst <= small.receiveMaximum,
    `${small.largestBurst} PUBLISHes before the first PUBCOMP`,
  );
  // What the small window buys follows from keeping it: a broker that overruns it is reported by the check above.
  if (windowKept) {
    checks.expect(
      `Receive Maximum ${small.receiveMaximum}: all ${result.messages} delivered while the link kept breaking`,
      small.receivedUnderFaults === result.messages,
      `${small.receivedUnderFaults} of ${result.messages}`,
    );
  }
  const perMessage = (r: FlakyRound) => (r.publishesUnderFaults / Math.max(1, r.receivedUnderFaults)).toFixed(1);
  return {
    title:
      `Flow control on a flaky link: ${result.messages} QoS 2 messages at once, ` +
      `the subscriber's link cut every ${result.cutEvery} packets for ${result.faultsSeconds} s`,
    lines: [
      ...table(
        [
          'Receive Maximum',
          `delivered in ${result.faultsSeconds} s`,
          'PUBLISH per delivery',
          'largest burst',
          'link cuts',
          'after repair',
          'duplicated',
        ],
        result.rounds.map((r) => [
          r.receiveMaximum.toLocaleString('en-US'),
          `${r.receivedUnderFaults} of ${result.messages}`,
          perMessage(r),
          r.largestBurst,
          r.cuts,
          `${r.received - r.receivedUnderFaults} (in 15 s at most)`,
          r.duplicated,
        ]),
      ),
      `  With ${big.receiveMaximum.toLocaleString('en-US')}, each resume may send the whole backlog again; ` +
        'when that burst is longer than the link lasts,',
      '  the same messages go out again and again and few complete. A small Receive Maximum keeps each resume short, so every',
      '  connection finishes some flows before it breaks: on a flaky link it is the setting that makes progress.',
      '  (largest burst: PUBLISHes sent on one connection before the first PUBCOMP reached the broker.)',
      ...(small.largestBurst > small.receiveMaximum
        ? [
            `  ✗ This broker sent ${small.largestBurst} PUBLISHes on one connection ` +
              `to a subscriber that allows ${small.receiveMaximum} [MQTT-3.3.4-9].`,
          ]
        : []),
    ],
  };
}
