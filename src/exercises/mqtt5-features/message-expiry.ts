import type { MqttClient } from 'mqtt';
import { disconnect, type TracedPacket } from '../../client/index.js';
import type { ExerciseContext } from '../context.js';
import { type Checks, packetWithProperties, type Section, sleep, table, waitFor } from '../report.js';

/** A message published with a Message Expiry Interval, and what (if anything) reached the subscriber. */
export interface ExpiringMessage {
  topic: string;
  /** Message Expiry Interval the publisher set, seconds. */
  publishedExpiry: number;
  delivered: boolean;
  /** Message Expiry Interval on the PUBLISH the subscriber received: the remaining lifetime. */
  expiryOnWire?: number;
  retainFlag?: boolean;
}

/** What the message-expiry demonstration saw for queued and for retained messages. */
export interface MessageExpiryResult {
  /** Queued for a persistent session while its client was offline. */
  queued: {
    offlineMs: number;
    sessionPresent: boolean;
    messages: ExpiringMessage[];
    /** The reconnecting subscriber's packets (CONNECT … the queued PUBLISHes). */
    packets: TracedPacket[];
  };
  /** Retained, then read by a fresh subscriber later. */
  retained: {
    waitedMs: number;
    messages: ExpiringMessage[];
    packets: TracedPacket[];
  };
}

/** A topic and the Message Expiry Interval (seconds) it is published with. */
type ExpiryPlan = Array<{ topic: string; expiry: number }>;

/** The session outlives the connection by 60 s [MQTT-3.1.2-23]. */
const SESSION = { properties: { sessionExpiryInterval: 60 } };

/**
 * A persistent-session subscriber goes offline; messages with a 1 s and a 60 s expiry are published and
 * retained ones with 1 s and 4 s; after ~2 s only the live ones arrive, carrying what is left of their
 * lifetime (seed: demonstrate_message_expiry).
 */
export async function demonstrateMessageExpiry(ctx: ExerciseContext, options: { offlineMs?: number } = {}): Promise<MessageExpiryResult> {
  const offlineMs = options.offlineMs ?? 2100;
  const queuedPlan: ExpiryPlan = [
    { topic: ctx.topic('alerts/door-open'), expiry: 1 },
    { topic: ctx.topic('alerts/battery-low'), expiry: 60 },
  ];
  const retainedPlan: ExpiryPlan = [
    { topic: ctx.topic('status/flash-sale'), expiry: 1 },
    { topic: ctx.topic('status/parking-spots'), expiry: 4 },
  ];
  // A fresh session first (Clean Start 1).
  const first = await ctx.connect('expiry-sub', { ...SESSION, clean: true });
  await first.subscribeAsync(ctx.topic('alerts/#'), { qos: 1 });
  await disconnect(first);
  ctx.forget(first);

  const publisher = await publishExpiring(ctx, queuedPlan, retainedPlan);
  const offlineSince = Date.now();
  await sleep(offlineMs);

  // Clean Start 0: resume the session and get what was queued for it — minus what expired [MQTT-3.3.2-5].
  const resumeMark = ctx.trace.mark();
  const resumed = await ctx.connect('expiry-sub', { ...SESSION, clean: false });
  const resumedOfflineMs = Date.now() - offlineSince;
  const resumedPublishes = () => ctx.trace.since(resumeMark, { client: 'expiry-sub' }).filter((p) => p.type === 'PUBLISH');
  const longLived = queuedPlan[queuedPlan.length - 1]!.topic;
  await waitFor(() => resumedPublishes().some((p) => p.topic === longLived), 3000);

  const lateMark = ctx.trace.mark();
  const late = await ctx.connect('late-sub');
  await late.subscribeAsync(ctx.topic('status/#'), { qos: 1 });
  const latePublishes = () => ctx.trace.since(lateMark, { client: 'late-sub' }).filter((p) => p.type === 'PUBLISH');
  await waitFor(() => latePublishes().length >= 1, 2000);
  // Queued and retained messages go out in one burst after CONNACK / SUBACK; anything stale would be in it.
  await sleep(150);
  const waitedMs = Date.now() - offlineSince;

  const resumedPackets = ctx.trace.since(resumeMark, { client: 'expiry-sub' });
  const connack = resumedPackets.find((p) => p.type === 'CONNACK');
  const result: MessageExpiryResult = {
    queued: {
      offlineMs: resumedOfflineMs,
      sessionPresent: connack?.sessionPresent === true,
      messages: outcome(queuedPlan, resumedPublishes()),
      packets: resumedPackets,
    },
    retained: { waitedMs, messages: outcome(retainedPlan, latePublishes()), packets: ctx.trace.since(lateMark, { client: 'late-sub' }) },
  };
  await leaveNothingBehind(ctx, resumed, publisher, retainedPlan);
  return result;
}

/** Publishes the queued plan (QoS 1) and the retained plan (QoS 1, retained), each with its expiry; returns the publisher. */
async function publishExpiring(ctx: ExerciseContext, queuedPlan: ExpiryPlan, retainedPlan: ExpiryPlan): Promise<MqttClient> {
  const publisher = await ctx.connect('expiry-pub');
  for (const m of queuedPlan) {
    await publisher.publishAsync(m.topic, `expires in ${m.expiry} s`, { qos: 1, properties: { messageExpiryInterval: m.expiry } });
  }
  for (const m of retainedPlan) {
    const properties = { messageExpiryInterval: m.expiry };
    await publisher.publishAsync(m.topic, `valid for ${m.expiry} s`, { qos: 1, retain: true, properties });
  }
  return publisher;
}

/** What reached the subscriber of each planned message, with the expiry on the wire. */
function outcome(plan: ExpiryPlan, publishes: TracedPacket[]): ExpiringMessage[] {
  return plan.map((m) => {
    const p = publishes.find((x) => x.topic === m.topic);
    const result: ExpiringMessage = { topic: m.topic, publishedExpiry: m.expiry, delivered: p !== undefined };
    if (p) {
      const expiry = p.properties?.messageExpiryInterval;
      if (typeof expiry === 'number') result.expiryOnWire = expiry;
      result.retainFlag = p.retain === true;
    }
    return result;
  });
}

/**
 * Leaves nothing behind on the broker: ends the session now (DISCONNECT with Session Expiry 0) and clears
 * the live retained message with an empty retained payload [MQTT-3.3.1-6].
 */
async function leaveNothingBehind(
  ctx: ExerciseContext,
  resumed: MqttClient,
  publisher: MqttClient,
  retainedPlan: ExpiryPlan,
): Promise<void> {
  await new Promise<void>((resolve) => resumed.end(false, { properties: { sessionExpiryInterval: 0 } }, () => resolve()));
  ctx.forget(resumed);
  for (const m of retainedPlan) await publisher.publishAsync(m.topic, '', { qos: 1, retain: true });
}

/** The report section for message expiry, recording its checks. */
export function reportMessageExpiry(expiry: MessageExpiryResult, checks: Checks): Section {
  checks.expect('the broker kept the offline session (CONNACK Session Present = 1)', expiry.queued.sessionPresent);
  const [shortQueued, longQueued] = expiry.queued.messages;
  // [MQTT-3.3.2-5] an expired message is not delivered.
  checks.conforms(['MQTT-3.3.2-5'], 'the queued 1 s message had expired and was not delivered', shortQueued?.delivered === false);
  // [MQTT-3.3.2-6] the interval forwarded is what is left, not what was set.
  const waitedQueuedS = expiry.queued.offlineMs / 1000;
  const queuedLeft = longQueued?.expiryOnWire;
  checks.conforms(
    ['MQTT-3.3.2-6'],
    'the queued 60 s message arrived with its remaining lifetime (< 60 s)',
    longQueued?.delivered === true && queuedLeft !== undefined && queuedLeft < 60 && queuedLeft >= 60 - Math.ceil(waitedQueuedS) - 2,
    `expiry on the wire ${queuedLeft}`,
  );
  const [shortRetained, longRetained] = expiry.retained.messages;
  // §3.3.1.3: if the current retained message of a topic expires, there is no retained message for it.
  checks.conforms(
    ['MQTT-3.3.2-5'],
    'the retained 1 s message had expired and was not sent to the late subscriber',
    shortRetained?.delivered === false,
  );
  const retainedLeft = longRetained?.expiryOnWire;
  checks.conforms(
    ['MQTT-3.3.2-6'],
    'the retained 4 s message arrived with its remaining lifetime (1–3 s)',
    longRetained?.delivered === true && retainedLeft !== undefined && retainedLeft >= 1 && retainedLeft < 4,
    `expiry on the wire ${retainedLeft}`,
  );
  const rows = [
    ...expiry.queued.messages.map((m) => ({ ...m, how: 'queued (offline session)' })),
    ...expiry.retained.messages.map((m) => ({ ...m, how: 'retained → late subscriber' })),
  ];
  const offlineS = (expiry.queued.offlineMs / 1000).toFixed(1);
  const waitedS = (expiry.retained.waitedMs / 1000).toFixed(1);
  return {
    title: `Message expiry: subscriber offline ${offlineS} s, retained read after ${waitedS} s`,
    lines: [
      ...table(
        ['topic', 'how', 'expiry set', 'delivered', 'expiry on the wire'],
        rows.map((m) => [
          m.topic,
          m.how,
          `${m.publishedExpiry} s`,
          m.delivered ? 'yes' : 'no (expired)',
          m.expiryOnWire !== undefined ? `${m.expiryOnWire} s` : '—',
        ]),
      ),
      '  the resumed subscriber, as traced:',
      ...expiry.queued.packets.filter((p) => p.type !== 'CONNECT').map((p) => packetWithProperties(p, ['messageExpiryInterval'])),
    ],
  };
}
