import type { MqttClient } from 'mqtt';
import { disconnect, type TracedPacket } from '../../client/index.js';
import type { ExerciseContext } from '../context.js';
import { type Checks, packetLines, type Section, sleep, waitFor } from '../report.js';
import { clearRetained, deviceStatusTopic } from './device-status.js';
import { collect, flag, ms, type ReceivedMessage, showPayload, stopwatch } from './received-messages.js';

/** What the retained-status demonstration saw: a late subscriber, then the clearing of the status. */
export interface RetainedStatusResult {
  topic: string;
  /** Retained publishes in order; only the last one is kept per topic [MQTT-3.3.1-5]. */
  published: string[];
  /** A client that connected and subscribed after the publishes. */
  lateSubscriber: {
    received: ReceivedMessage[];
    /** Milliseconds between SUBACK and the retained PUBLISH, from the packet trace (negative: it came first). */
    afterSubackMs?: number;
    packets: TracedPacket[];
  };
  /** Then the status was cleared with an empty retained payload. */
  clear: {
    /** What the late subscriber (still subscribed) got: the empty message, delivered like any other. */
    liveSubscriberGot: ReceivedMessage[];
    /** A client subscribing after the clear, and what it got in `waitedMs`. */
    laterSubscriber: { received: ReceivedMessage[]; waitedMs: number; packets: TracedPacket[] };
  };
}

/**
 * Publishes a device status as retained ("booting", then "online"); a subscriber arriving later gets
 * only the latest one, at once and flagged RETAIN=1; an empty retained payload then clears it, and a
 * subscriber after that gets nothing (seed: publish_retained_status).
 */
export async function publishRetainedStatus(ctx: ExerciseContext, options: { quietMs?: number } = {}): Promise<RetainedStatusResult> {
  const quietMs = options.quietMs ?? 500;
  const clock = stopwatch();
  const topic = deviceStatusTopic(ctx, 'sensor42');
  const published = ['booting', 'online'];
  try {
    await publishStatuses(ctx, topic, published);
    // Connects after the publisher is gone: retained messages do not need the publisher, nor a session.
    const { late, lateReceived, lateSubscriber } = await lateSubscriberArrives(ctx, topic, clock);

    // [MQTT-3.3.1-6] an empty retained payload removes the retained message, and is otherwise
    // "processed normally": current subscribers get it like any live message.
    const clearer = await ctx.connect('status-pub');
    const before = lateReceived.length;
    await clearer.publishAsync(topic, '', { qos: 1, retain: true });
    await waitFor(() => lateReceived.length > before, 2000);
    await disconnect(clearer);
    ctx.forget(clearer);

    const laterMark = ctx.trace.mark();
    const laterReceived: ReceivedMessage[] = [];
    const later = await ctx.connect('later-sub');
    collect(later, 'later-sub', clock, laterReceived);
    await later.subscribeAsync(topic, { qos: 1 });
    // Nothing is expected; a retained message would come right after SUBACK, so a bounded wait settles it.
    await sleep(quietMs);
    for (const c of [late, later]) {
      await disconnect(c);
      ctx.forget(c);
    }
    const laterSubscriber = { received: laterReceived, waitedMs: quietMs, packets: ctx.trace.since(laterMark, { client: 'later-sub' }) };
    return { topic, published, lateSubscriber, clear: { liveSubscriberGot: lateReceived.slice(before), laterSubscriber } };
  } finally {
    await clearRetained(ctx, [topic]);
  }
}

/**
 * `status-pub` publishes each status retained at QoS 1 and disconnects. [MQTT-3.3.1-5] the broker keeps one
 * retained message per topic: "online" replaces "booting".
 */
async function publishStatuses(ctx: ExerciseContext, topic: string, payloads: string[]): Promise<void> {
  const publisher = await ctx.connect('status-pub');
  for (const status of payloads) await publisher.publishAsync(topic, status, { qos: 1, retain: true });
  await disconnect(publisher);
  ctx.forget(publisher);
}

/** `late-sub` subscribes after the status was published and gets the retained one (it stays subscribed). */
async function lateSubscriberArrives(
  ctx: ExerciseContext,
  topic: string,
  clock: () => number,
): Promise<{ late: MqttClient; lateReceived: ReceivedMessage[]; lateSubscriber: RetainedStatusResult['lateSubscriber'] }> {
  const lateMark = ctx.trace.mark();
  const lateReceived: ReceivedMessage[] = [];
  const late = await ctx.connect('late-sub');
  collect(late, 'late-sub', clock, lateReceived);
  await late.subscribeAsync(topic, { qos: 1 });
  await waitFor(() => lateReceived.length >= 1, 2000);
  // A stale "booting" would come right behind "online"; give it a moment to show up.
  await sleep(100);
  const latePackets = ctx.trace.since(lateMark, { client: 'late-sub' });
  const suback = latePackets.find((p) => p.type === 'SUBACK');
  const retainedPublish = latePackets.find((p) => p.type === 'PUBLISH' && p.direction === 'in');
  const lateSubscriber: RetainedStatusResult['lateSubscriber'] = { received: [...lateReceived], packets: latePackets };
  if (suback && retainedPublish) lateSubscriber.afterSubackMs = Math.round((retainedPublish.at - suback.at) * 1000) / 1000;
  return { late, lateReceived, lateSubscriber };
}

/** The report sections for the retained status and its clearing, recording their checks. */
export function reportRetainedStatus(r: RetainedStatusResult, checks: Checks): Section[] {
  const lateGot = r.lateSubscriber.received;
  checks.conforms(
    ['MQTT-3.3.1-5', 'MQTT-3.3.1-8'],
    'a late subscriber gets only the latest retained status, flagged RETAIN=1',
    lateGot.length === 1 && lateGot[0]!.payload === 'online' && lateGot[0]!.retain,
    JSON.stringify(lateGot.map((m) => [m.payload, m.retain])),
  );
  const live = r.clear.liveSubscriberGot;
  checks.conforms(
    ['MQTT-3.3.1-6'],
    'the empty retained publish reaches current subscribers like a live message',
    live.length === 1 && live[0]!.bytes === 0,
    JSON.stringify(live.map((m) => [m.payload, m.retain])),
  );
  const later = r.clear.laterSubscriber;
  checks.conforms(
    ['MQTT-3.3.1-6', 'MQTT-3.3.1-7'],
    'after the empty retained publish, a new subscriber gets nothing',
    later.received.length === 0,
    JSON.stringify(later.received.map((m) => m.payload)),
  );
  const shown = (messages: ReceivedMessage[]) => messages.map((m) => `${showPayload(m)} ${flag(m.retain)}`).join(', ');
  return [
    {
      title:
        `Retained status: published ${r.published.map((p) => `"${p}"`).join(' then ')} (retained) to ${r.topic}, ` +
        'then a subscriber arrives',
      lines: [
        ...packetLines(r.lateSubscriber.packets),
        `  → ${lateGot.length} message(s): ${shown(lateGot) || 'none'}, ` +
          `${ms(r.lateSubscriber.afterSubackMs)} after SUBACK — the subscriber did not wait for the next publish.`,
        `  Only the last retained message per topic is kept: "booting" is gone.`,
      ],
    },
    {
      title: 'Clearing it: PUBLISH retain=1 with an empty payload',
      lines: [
        `  late-sub (still subscribed) got: ${shown(live) || 'nothing'}`,
        `  later-sub (subscribed after the clear), waited ${later.waitedMs} ms:`,
        ...packetLines(later.packets),
        `  → ${later.received.length === 0 ? 'no PUBLISH: the retained message is gone' : `${later.received.length} message(s)`}`,
      ],
    },
  ];
}
