import { randomBytes } from 'node:crypto';
import type { IClientPublishOptions, MqttClient } from 'mqtt';
import mqttPacket, { type IPublishPacket, type Packet, type UserProperties } from 'mqtt-packet';
import { disconnect, formatPacket, wireSize, type TracedPacket } from '../client/index.js';
import type { ExerciseContext } from './context.js';
import { Checks, sleep, stats, table, waitFor, type ExerciseReport } from './report.js';

// ─── Shared subscriptions ────────────────────────────────────────────────────────────────────────

/** One member of the shared group and the messages it processed. */
export interface WorkerShare {
  worker: string;
  count: number;
  /** Sequence numbers of the messages it got, in arrival order. */
  seqs: number[];
}

export interface SharedSubscriptionsResult {
  topic: string;
  /** `$share/workers/<topic>`: what each worker subscribed to. */
  shareFilter: string;
  published: number;
  workers: WorkerShare[];
  /** A plain (non-shared) subscriber to the same topic: it gets every message. */
  plainSubscriber: { count: number };
  /** Sequence numbers processed by more than one worker, and by none. */
  duplicates: number[];
  missing: number[];
  /** Per device key (the payload's `device`): which workers handled its readings. */
  devices: Record<string, string[]>;
}

/**
 * N workers share `$share/workers/<topic>`, a plain subscriber listens to `<topic>`, and M readings are
 * published: each reading goes to exactly one worker, the plain subscriber gets all (seed:
 * demonstrate_shared_subscriptions).
 */
export async function demonstrateSharedSubscriptions(
  ctx: ExerciseContext,
  options: { workers?: number; messages?: number; devices?: number } = {},
): Promise<SharedSubscriptionsResult> {
  const workerCount = options.workers ?? 3;
  const messages = options.messages ?? 30;
  const deviceCount = options.devices ?? 4;
  const topic = ctx.topic('jobs/thumbnails');
  // [MQTT-4.8.2-1], [MQTT-4.8.2-2] `$share/` + a share name without / + # + `/` + an ordinary filter.
  const shareFilter = `$share/workers/${topic}`;

  const workers: WorkerShare[] = [];
  const deviceOf = new Map<number, string>();
  for (let i = 1; i <= workerCount; i++) {
    const share: WorkerShare = { worker: `worker-${i}`, count: 0, seqs: [] };
    workers.push(share);
    const client = await ctx.connect(share.worker);
    client.on('message', (_topic, payload) => {
      const { seq, device } = JSON.parse(payload.toString()) as { seq: number; device: string };
      share.seqs.push(seq);
      share.count++;
      deviceOf.set(seq, device);
    });
    await client.subscribeAsync(shareFilter, { qos: 1 });
  }
  const plainSubscriber = { count: 0 };
  const plain = await ctx.connect('plain-sub');
  plain.on('message', () => plainSubscriber.count++);
  await plain.subscribeAsync(topic, { qos: 1 });

  const publisher = await ctx.connect('job-pub');
  for (let seq = 1; seq <= messages; seq++) {
    await publisher.publishAsync(topic, JSON.stringify({ seq, device: `cam-${seq % deviceCount}` }), { qos: 1 });
  }
  const processed = () => workers.reduce((n, w) => n + w.count, 0);
  await waitFor(() => processed() >= messages && plainSubscriber.count >= messages, 3000);
  // A duplicate would arrive right behind the original; give it a moment to show up.
  await sleep(100);

  const seen = new Map<number, number>();
  for (const w of workers) for (const seq of w.seqs) seen.set(seq, (seen.get(seq) ?? 0) + 1);
  const duplicates = [...seen].filter(([, n]) => n > 1).map(([seq]) => seq);
  const missing: number[] = [];
  for (let seq = 1; seq <= messages; seq++) if (!seen.has(seq)) missing.push(seq);
  const devices: Record<string, string[]> = {};
  for (const w of workers) {
    for (const seq of w.seqs) {
      const list = (devices[deviceOf.get(seq)!] ??= []);
      if (!list.includes(w.worker)) list.push(w.worker);
    }
  }
  for (const list of Object.values(devices)) list.sort();
  return { topic, shareFilter, published: messages, workers, plainSubscriber, duplicates, missing, devices };
}

// ─── Message expiry ──────────────────────────────────────────────────────────────────────────────

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

/**
 * A persistent-session subscriber goes offline; messages with a 1 s and a 60 s expiry are published and
 * retained ones with 1 s and 4 s; after ~2 s only the live ones arrive, carrying what is left of their
 * lifetime (seed: demonstrate_message_expiry).
 */
export async function demonstrateMessageExpiry(ctx: ExerciseContext, options: { offlineMs?: number } = {}): Promise<MessageExpiryResult> {
  const offlineMs = options.offlineMs ?? 2100;
  const alerts = ctx.topic('alerts/#');
  const queuedPlan = [
    { topic: ctx.topic('alerts/door-open'), expiry: 1 },
    { topic: ctx.topic('alerts/battery-low'), expiry: 60 },
  ];
  const retainedPlan = [
    { topic: ctx.topic('status/flash-sale'), expiry: 1 },
    { topic: ctx.topic('status/parking-spots'), expiry: 4 },
  ];
  // The session outlives the connection by 60 s [MQTT-3.1.2-23]; a fresh one first (Clean Start 1).
  const session = { properties: { sessionExpiryInterval: 60 } };
  const first = await ctx.connect('expiry-sub', { ...session, clean: true });
  await first.subscribeAsync(alerts, { qos: 1 });
  await disconnect(first);
  ctx.forget(first);

  const publisher = await ctx.connect('expiry-pub');
  for (const m of queuedPlan) {
    await publisher.publishAsync(m.topic, `expires in ${m.expiry} s`, { qos: 1, properties: { messageExpiryInterval: m.expiry } });
  }
  for (const m of retainedPlan) {
    await publisher.publishAsync(m.topic, `valid for ${m.expiry} s`, { qos: 1, retain: true, properties: { messageExpiryInterval: m.expiry } });
  }
  const offlineSince = Date.now();
  await sleep(offlineMs);

  // Clean Start 0: resume the session and get what was queued for it — minus what expired [MQTT-3.3.2-5].
  const resumeMark = ctx.trace.mark();
  const resumed = await ctx.connect('expiry-sub', { ...session, clean: false });
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

  const outcome = (plan: Array<{ topic: string; expiry: number }>, publishes: TracedPacket[]): ExpiringMessage[] =>
    plan.map((m) => {
      const p = publishes.find((x) => x.topic === m.topic);
      const result: ExpiringMessage = { topic: m.topic, publishedExpiry: m.expiry, delivered: p !== undefined };
      if (p) {
        const expiry = p.properties?.messageExpiryInterval;
        if (typeof expiry === 'number') result.expiryOnWire = expiry;
        result.retainFlag = p.retain === true;
      }
      return result;
    });
  const resumedPackets = ctx.trace.since(resumeMark, { client: 'expiry-sub' });
  const connack = resumedPackets.find((p) => p.type === 'CONNACK');
  const result: MessageExpiryResult = {
    queued: { offlineMs: resumedOfflineMs, sessionPresent: connack?.sessionPresent === true, messages: outcome(queuedPlan, resumedPublishes()), packets: resumedPackets },
    retained: { waitedMs, messages: outcome(retainedPlan, latePublishes()), packets: ctx.trace.since(lateMark, { client: 'late-sub' }) },
  };

  // Leave nothing behind on the broker: end the session now (DISCONNECT with Session Expiry 0) and
  // clear the live retained message with an empty retained payload [MQTT-3.3.1-6].
  await new Promise<void>((resolve) => resumed.end(false, { properties: { sessionExpiryInterval: 0 } }, () => resolve()));
  ctx.forget(resumed);
  for (const m of retainedPlan) await publisher.publishAsync(m.topic, '', { qos: 1, retain: true });
  return result;
}

// ─── Request / reply ─────────────────────────────────────────────────────────────────────────────

/** One request, the reply matched to it by Correlation Data, and the round trip. */
export interface RequestOutcome {
  n: number;
  x: number;
  /** Correlation Data as hex. */
  correlation: string;
  /** How long the responder sat on it before answering (chosen at random, to reorder replies). */
  responderDelayMs: number;
  reply?: { square: number };
  /** The reply's result belongs to this request (x²). */
  matched: boolean;
  roundTripMs?: number;
}

export interface RequestReplyResult {
  requestTopic: string;
  responseTopic: string;
  requests: RequestOutcome[];
  /** Request numbers in the order their replies arrived. */
  arrivalOrder: number[];
  /** Replies whose Correlation Data matched no outstanding request. */
  unmatchedReplies: number;
  /** What the responder saw on each request: the Response Topic and Correlation Data, unaltered? */
  responderSaw: { responseTopicIntact: number; correlationIntact: number; requests: number };
  /** The first request's PUBLISH out and its reply's PUBLISH in, as traced. */
  packets: TracedPacket[];
}

/**
 * A responder answers on each request's Response Topic with its Correlation Data; several requests are
 * in flight at once and answered in a shuffled order, and the requester matches every reply by its
 * Correlation Data (seed: demonstrate_request_reply; MQTT 5.0 §4.10).
 */
export async function demonstrateRequestReply(ctx: ExerciseContext, options: { requests?: number } = {}): Promise<RequestReplyResult> {
  const count = options.requests ?? 5;
  const requestTopic = ctx.topic('rpc/square');
  // A response topic unique to this requester, so replies for others never reach it (§4.10.2).
  const responseTopic = ctx.topic(`rpc/replies/${ctx.clientId('requester')}`);
  // Distinct delays 0, 20, 40 … ms in random order: replies come back in a different order than asked.
  const delays = shuffle(Array.from({ length: count }, (_, i) => i * 20));
  const responderSaw = { responseTopicIntact: 0, correlationIntact: 0, requests: 0 };
  const sentCorrelations = new Set<string>();

  const mark = ctx.trace.mark();
  const responder = await ctx.connect('responder');
  let handled = 0;
  responder.on('message', (_topic, payload, packet) => {
    const { x } = JSON.parse(payload.toString()) as { x: number };
    const replyTo = packet.properties?.responseTopic;
    const correlationData = packet.properties?.correlationData;
    responderSaw.requests++;
    // [MQTT-3.3.2-15], [MQTT-3.3.2-16] the broker forwards both unaltered.
    if (replyTo === responseTopic) responderSaw.responseTopicIntact++;
    if (correlationData && sentCorrelations.has(correlationData.toString('hex'))) responderSaw.correlationIntact++;
    if (!replyTo) return;
    const delay = delays[handled++ % delays.length]!;
    setTimeout(() => {
      // The reply carries the request's Correlation Data back; it needs no Response Topic itself.
      responder.publish(replyTo, JSON.stringify({ square: x * x }), { qos: 1, properties: correlationData ? { correlationData } : {} });
    }, delay);
  });
  await responder.subscribeAsync(requestTopic, { qos: 1 });

  const requester = await ctx.connect('requester');
  const requests: RequestOutcome[] = [];
  const pending = new Map<string, { outcome: RequestOutcome; sentAt: number }>();
  const arrivalOrder: number[] = [];
  let unmatchedReplies = 0;
  requester.on('message', (_topic, payload, packet) => {
    const at = performance.now();
    const key = packet.properties?.correlationData?.toString('hex');
    const entry = key !== undefined ? pending.get(key) : undefined;
    if (!entry) {
      unmatchedReplies++;
      return;
    }
    pending.delete(key!);
    const reply = JSON.parse(payload.toString()) as { square: number };
    entry.outcome.reply = reply;
    entry.outcome.matched = reply.square === entry.outcome.x * entry.outcome.x;
    entry.outcome.roundTripMs = Math.round((at - entry.sentAt) * 1000) / 1000;
    arrivalOrder.push(entry.outcome.n);
  });
  // Subscribe to the response topic before asking anything (§4.10.1: a reply with no subscriber is lost).
  await requester.subscribeAsync(responseTopic, { qos: 1 });

  const sends: Array<Promise<unknown>> = [];
  for (let n = 1; n <= count; n++) {
    const correlationData = randomBytes(8);
    const outcome: RequestOutcome = { n, x: n * 7, correlation: correlationData.toString('hex'), responderDelayMs: 0, matched: false };
    requests.push(outcome);
    sentCorrelations.add(outcome.correlation);
    pending.set(outcome.correlation, { outcome, sentAt: performance.now() });
    sends.push(requester.publishAsync(requestTopic, JSON.stringify({ x: outcome.x }), { qos: 1, properties: { responseTopic, correlationData } }));
  }
  await Promise.all(sends);
  await waitFor(() => pending.size === 0, 3000 + Math.max(...delays));
  // The responder handles requests in the order they arrive, i.e. the order they were sent.
  requests.forEach((r, i) => (r.responderDelayMs = delays[i]!));

  const traced = ctx.trace.since(mark);
  const firstCorrelation = requests[0]?.correlation;
  const hex = (p: TracedPacket) => (p.properties?.correlationData as Buffer | undefined)?.toString('hex');
  const packets = traced.filter(
    (p) => p.type === 'PUBLISH' && hex(p) === firstCorrelation && (p.client === 'requester' || p.client === 'responder'),
  );
  return { requestTopic, responseTopic, requests, arrivalOrder, unmatchedReplies, responderSaw, packets };
}

// ─── User properties ─────────────────────────────────────────────────────────────────────────────

export interface UserPropertiesResult {
  topic: string;
  sent: UserProperties;
  received?: UserProperties;
  /** Name/value pairs in wire order, as sent and as received. */
  sentPairs: Array<[string, string]>;
  receivedPairs: Array<[string, string]>;
  /** Bytes the user properties add to this PUBLISH. */
  bytesOnWire: number;
}

/** Publishes with user properties, one name repeated, and shows they arrive unchanged and in order. */
export async function demonstrateUserProperties(ctx: ExerciseContext): Promise<UserPropertiesResult> {
  const topic = ctx.topic('sensors/temperature/room1');
  // A name may appear more than once (§3.3.2.3.7); MQTT.js writes an array as repeated pairs.
  const sent: UserProperties = { source: 'gateway-7', 'schema-version': '2', tag: ['calibrated', 'indoor', 'floor-3'] };
  const subscriber = await ctx.connect('props-sub');
  let received: UserProperties | undefined;
  let delivered = false;
  subscriber.on('message', (_topic, _payload, packet) => {
    received = packet.properties?.userProperties;
    delivered = true;
  });
  await subscriber.subscribeAsync(topic, { qos: 1 });
  const publisher = await ctx.connect('props-pub');
  const payload = JSON.stringify({ celsius: 21.4 });
  await publisher.publishAsync(topic, payload, { qos: 1, properties: { userProperties: sent } });
  await waitFor(() => delivered, 3000);
  const bare: IPublishPacket = { cmd: 'publish', topic, payload, qos: 1, messageId: 1, retain: false, dup: false };
  const bytesOnWire = wireSize({ ...bare, properties: { userProperties: sent } }, 5) - wireSize(bare, 5);
  return { topic, sent, received, sentPairs: pairs(sent), receivedPairs: pairs(received), bytesOnWire };
}

// ─── Topic aliases ───────────────────────────────────────────────────────────────────────────────

export interface TopicAliasResult {
  topic: string;
  messages: number;
  /** Topic Alias Maximum in the broker's CONNACK: the highest alias we may send (0 = none). */
  brokerTopicAliasMaximum: number;
  /** Topic Alias Maximum we announced in CONNECT for the subscriber (what the broker may use to us). */
  subscriberTopicAliasMaximum: number;
  /** PUBLISH sizes on the wire, client → broker, message by message. */
  withoutAlias: number[];
  withAlias: number[];
  /** Topic field of each aliased PUBLISH on the wire ('' once the alias is set). */
  aliasedTopics: string[];
  /** Per message after the first, bytes saved; and the one-off cost of setting the alias. */
  savedPerMessage: number;
  firstMessageExtra: number;
  /** Messages the subscriber got, all with the full topic name restored. */
  delivered: { count: number; allOnTopic: boolean };
  /** Broker → subscriber: PUBLISHes that used an alias, and the highest alias value seen. */
  inbound: { publishes: number; aliased: number; maxAlias: number };
  pubackReasonCodes: number[];
}

/**
 * Publishes K messages to one long topic without and with a Topic Alias, and measures the PUBLISH
 * sizes in the trace; also shows whether the broker aliases towards a subscriber that allows it.
 */
export async function demonstrateTopicAliases(ctx: ExerciseContext, options: { messages?: number } = {}): Promise<TopicAliasResult> {
  const messages = options.messages ?? 10;
  const topic = ctx.topic('factory/plant-07/line-3/cell-12/robot-arm-4/joint-2/torque/measurements');
  const subscriberTopicAliasMaximum = 10;
  const mark = ctx.trace.mark();

  // The subscriber lets the broker use aliases 1..10 towards it [MQTT-3.3.2-11].
  const subscriber = await ctx.connect('alias-sub', { properties: { topicAliasMaximum: subscriberTopicAliasMaximum } });
  const delivered = { count: 0, allOnTopic: true };
  subscriber.on('message', (t) => {
    delivered.count++;
    if (t !== topic) delivered.allOnTopic = false;
  });
  await subscriber.subscribeAsync(topic, { qos: 1 });

  const reading = (i: number, who: string) => `${who} torque=${(40 + i * 0.25).toFixed(2)}Nm`;
  const plain = await ctx.connect('plain-pub');
  for (let i = 0; i < messages; i++) await plain.publishAsync(topic, reading(i, 'P'), { qos: 1 });

  // autoUseTopicAlias: once an alias is set for a topic, MQTT.js sends later PUBLISHes with an empty topic.
  const aliased = await ctx.connect('alias-pub', { autoUseTopicAlias: true });
  const connack = ctx.trace.since(mark, { client: 'alias-pub' }).find((p) => p.type === 'CONNACK');
  const brokerTopicAliasMaximum = Number(connack?.properties?.topicAliasMaximum ?? 0);
  for (let i = 0; i < messages; i++) {
    const options: IClientPublishOptions = { qos: 1 };
    // [MQTT-3.3.2-9] never an alias above the broker's Topic Alias Maximum; none when it is 0.
    if (i === 0 && brokerTopicAliasMaximum >= 1) options.properties = { topicAlias: 1 };
    await aliased.publishAsync(topic, reading(i, 'A'), options);
  }
  await waitFor(() => delivered.count >= 2 * messages, 3000);

  const traced = ctx.trace.since(mark);
  const publishesOf = (client: string) => traced.filter((p) => p.client === client && p.type === 'PUBLISH' && p.direction === 'out');
  const withoutAlias = publishesOf('plain-pub').map((p) => p.bytes);
  const withAliasPackets = publishesOf('alias-pub');
  const withAlias = withAliasPackets.map((p) => p.bytes);
  const inboundPublishes = traced.filter((p) => p.client === 'alias-sub' && p.type === 'PUBLISH' && p.direction === 'in');
  const inboundAliases = inboundPublishes.map((p) => Number(p.properties?.topicAlias ?? 0));
  return {
    topic,
    messages,
    brokerTopicAliasMaximum,
    subscriberTopicAliasMaximum,
    withoutAlias,
    withAlias,
    aliasedTopics: withAliasPackets.map((p) => p.topic ?? ''),
    savedPerMessage: messages > 1 ? withoutAlias[1]! - withAlias[1]! : 0,
    firstMessageExtra: withAlias[0]! - withoutAlias[0]!,
    delivered,
    inbound: { publishes: inboundPublishes.length, aliased: inboundPublishes.filter((p) => p.topic === '').length, maxAlias: Math.max(0, ...inboundAliases) },
    pubackReasonCodes: traced.filter((p) => p.client === 'alias-pub' && p.type === 'PUBACK').map((p) => p.reasonCode ?? 0),
  };
}

// ─── Receive Maximum flow control ────────────────────────────────────────────────────────────────

/** One step of a slow subscriber's window: a PUBLISH arriving on its socket or its PUBACK leaving. */
export interface FlowEvent {
  /** Milliseconds since the first PUBLISH arrived. */
  at: number;
  event: 'PUBLISH' | 'PUBACK';
  messageId: number;
  /** Unacknowledged QoS 1 PUBLISHes held by the subscriber after this event. */
  inFlight: number;
}

export interface FlowRound {
  /** Receive Maximum the subscriber sent in CONNECT; undefined = not sent (65,535). */
  receiveMaximum?: number;
  received: number;
  maxInFlight: number;
  durationMs: number;
  timeline: FlowEvent[];
}

export interface FlowControlResult {
  messages: number;
  ackDelayMs: number;
  limited: FlowRound;
  unlimited: FlowRound;
}

/**
 * A subscriber that acknowledges slowly connects with Receive Maximum 2; 10 QoS 1 messages are
 * published at once; the subscriber's socket shows the broker never has more than 2 unacknowledged
 * PUBLISHes out to it [MQTT-3.3.4-9], [MQTT-4.9.0-2]. The same again without a Receive Maximum, for contrast.
 */
export async function demonstrateFlowControl(
  ctx: ExerciseContext,
  options: { receiveMaximum?: number; messages?: number; ackDelayMs?: number } = {},
): Promise<FlowControlResult> {
  const receiveMaximum = options.receiveMaximum ?? 2;
  const messages = options.messages ?? 10;
  const ackDelayMs = options.ackDelayMs ?? 50;
  const limited = await flowRound(ctx, 'slow-sub', receiveMaximum, messages, ackDelayMs);
  const unlimited = await flowRound(ctx, 'slow-sub-nolimit', undefined, messages, ackDelayMs);
  return { messages, ackDelayMs, limited, unlimited };
}

async function flowRound(ctx: ExerciseContext, label: string, receiveMaximum: number | undefined, messages: number, ackDelayMs: number): Promise<FlowRound> {
  const topic = ctx.topic(`work/${label}`);
  const subscriber = await ctx.connect(label, receiveMaximum !== undefined ? { properties: { receiveMaximum } } : {});
  // MQTT.js sends the PUBACK when handleMessage calls back: delaying it makes a slow consumer.
  subscriber.handleMessage = (_packet, callback) => void setTimeout(() => callback(), ackDelayMs);
  const events: Array<{ t: number; event: 'PUBLISH' | 'PUBACK'; messageId: number }> = [];
  // MQTT.js handles incoming packets one at a time (the next only after the PUBACK), so its own
  // events would never show two in flight. The socket shows what the broker really sent, and when.
  tapIncoming(subscriber, (packet) => {
    if (packet.cmd === 'publish' && packet.qos > 0 && packet.topic !== undefined) events.push({ t: performance.now(), event: 'PUBLISH', messageId: packet.messageId! });
  });
  subscriber.on('packetsend', (packet) => {
    if (packet.cmd === 'puback') events.push({ t: performance.now(), event: 'PUBACK', messageId: (packet as { messageId: number }).messageId });
  });
  await subscriber.subscribeAsync(topic, { qos: 1 });

  const publisher = await ctx.connect(`${label}-pub`);
  // All at once: the publisher's own window is the broker's Receive Maximum (1024 / 65,535), not 2.
  await Promise.all(Array.from({ length: messages }, (_, i) => publisher.publishAsync(topic, `job ${i + 1}`, { qos: 1 })));
  const acks = () => events.filter((e) => e.event === 'PUBACK').length;
  await waitFor(() => acks() >= messages, messages * ackDelayMs + 3000);

  const start = events[0]?.t ?? performance.now();
  let inFlight = 0;
  let maxInFlight = 0;
  const timeline: FlowEvent[] = events.map((e) => {
    inFlight += e.event === 'PUBLISH' ? 1 : -1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    return { at: Math.round((e.t - start) * 10) / 10, event: e.event, messageId: e.messageId, inFlight };
  });
  const durationMs = events.length > 0 ? Math.round(events[events.length - 1]!.t - start) : 0;
  await disconnect(subscriber);
  ctx.forget(subscriber);
  return { receiveMaximum, received: events.filter((e) => e.event === 'PUBLISH').length, maxInFlight, durationMs, timeline };
}

/** Parses what arrives on a client's socket, independently of MQTT.js, and reports each packet. */
function tapIncoming(client: MqttClient, onPacket: (packet: Packet) => void): void {
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  parser.on('packet', onPacket);
  // Attached after CONNACK, so the first byte seen starts a packet.
  client.stream.on('data', (chunk: Buffer) => parser.parse(chunk));
}

// ─── Helpers ─────────────────────────────────────────────────────────────────────────────────────

/** User properties as name/value pairs in wire order (an array value is a repeated name). */
function pairs(properties: UserProperties | undefined): Array<[string, string]> {
  if (!properties) return [];
  return Object.entries(properties).flatMap(([name, value]) => (Array.isArray(value) ? value.map((v) => [name, v] as [string, string]) : [[name, value] as [string, string]]));
}

/** Fisher–Yates shuffle (a copy). */
function shuffle<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** `1,4,7,…` with runs kept short for a table cell. */
function listSeqs(seqs: number[], max = 12): string {
  const shown = seqs.slice(0, max).join(',');
  return seqs.length > max ? `${shown},…` : shown;
}

/** A traced packet with the properties this exercise is about. */
function packetWithProperties(p: TracedPacket, keys: string[]): string {
  const extra = keys
    .filter((k) => p.properties?.[k] !== undefined)
    .map((k) => {
      const v = p.properties![k];
      return `${k}=${Buffer.isBuffer(v) ? `0x${v.toString('hex')}` : typeof v === 'object' ? JSON.stringify(v) : String(v)}`;
    });
  return `  ${formatPacket(p)}${extra.length > 0 ? `  ${extra.join(' ')}` : ''}`;
}

// ─── The exercise ────────────────────────────────────────────────────────────────────────────────

export interface Mqtt5FeaturesResult {
  sharedSubscriptions: SharedSubscriptionsResult;
  messageExpiry: MessageExpiryResult;
  requestReply: RequestReplyResult;
  userProperties: UserPropertiesResult;
  topicAliases: TopicAliasResult;
  flowControl: FlowControlResult;
}

/** Runs exercise 4 and reports it. */
export async function runMqtt5Features(ctx: ExerciseContext): Promise<ExerciseReport<Mqtt5FeaturesResult>> {
  const started = Date.now();
  const checks = new Checks();
  const sections: ExerciseReport['sections'] = [];

  // Shared subscriptions.
  const shared = await demonstrateSharedSubscriptions(ctx);
  const processed = shared.workers.reduce((n, w) => n + w.count, 0);
  sections.push({
    title: `Shared subscription ${shared.shareFilter}: ${shared.published} messages, ${shared.workers.length} workers`,
    lines: [
      ...table(
        ['subscriber', 'messages', 'sequence numbers'],
        [...shared.workers.map((w) => [w.worker, w.count, listSeqs(w.seqs)]), ['plain-sub (not shared)', shared.plainSubscriber.count, 'all']],
      ),
      `  group total ${processed}, duplicates ${shared.duplicates.length}, missing ${shared.missing.length}`,
      `  readings of one device went to: ${Object.entries(shared.devices).sort(([a], [b]) => a.localeCompare(b)).map(([d, ws]) => `${d} → ${ws.length} of ${shared.workers.length} workers`).join(', ')}`,
    ],
  });
  // MQTT 5.0 §4.8.2: a message matching a shared subscription goes to only one of its sessions.
  checks.expect(
    'every message was processed exactly once across the shared group',
    shared.duplicates.length === 0 && shared.missing.length === 0 && processed === shared.published,
    `duplicates [${shared.duplicates}], missing [${shared.missing}]`,
  );
  checks.expect('the plain subscriber got every message', shared.plainSubscriber.count === shared.published, `got ${shared.plainSubscriber.count}`);
  checks.expect('every worker got a share of the messages', shared.workers.every((w) => w.count > 0), shared.workers.map((w) => `${w.worker}=${w.count}`).join(' '));

  // Message expiry.
  const expiry = await demonstrateMessageExpiry(ctx);
  const expiryRows = [...expiry.queued.messages.map((m) => ({ ...m, how: 'queued (offline session)' })), ...expiry.retained.messages.map((m) => ({ ...m, how: 'retained → late subscriber' }))];
  sections.push({
    title: `Message expiry: subscriber offline ${(expiry.queued.offlineMs / 1000).toFixed(1)} s, retained read after ${(expiry.retained.waitedMs / 1000).toFixed(1)} s`,
    lines: [
      ...table(
        ['topic', 'how', 'expiry set', 'delivered', 'expiry on the wire'],
        expiryRows.map((m) => [m.topic, m.how, `${m.publishedExpiry} s`, m.delivered ? 'yes' : 'no (expired)', m.expiryOnWire !== undefined ? `${m.expiryOnWire} s` : '—']),
      ),
      '  the resumed subscriber, as traced:',
      ...expiry.queued.packets.filter((p) => p.type !== 'CONNECT').map((p) => packetWithProperties(p, ['messageExpiryInterval'])),
    ],
  });
  checks.expect('the broker kept the offline session (CONNACK Session Present = 1)', expiry.queued.sessionPresent);
  const [shortQueued, longQueued] = expiry.queued.messages;
  // [MQTT-3.3.2-5] an expired message is not delivered.
  checks.expect('the queued 1 s message had expired and was not delivered [MQTT-3.3.2-5]', shortQueued?.delivered === false);
  // [MQTT-3.3.2-6] the interval forwarded is what is left, not what was set.
  const waitedQueuedS = expiry.queued.offlineMs / 1000;
  checks.expect(
    'the queued 60 s message arrived with its remaining lifetime (< 60 s) [MQTT-3.3.2-6]',
    longQueued?.delivered === true && longQueued.expiryOnWire !== undefined && longQueued.expiryOnWire < 60 && longQueued.expiryOnWire >= 60 - Math.ceil(waitedQueuedS) - 2,
    `expiry on the wire ${longQueued?.expiryOnWire}`,
  );
  const [shortRetained, longRetained] = expiry.retained.messages;
  // §3.3.1.3: if the current retained message of a topic expires, there is no retained message for it.
  checks.expect('the retained 1 s message had expired and was not sent to the late subscriber [MQTT-3.3.2-5]', shortRetained?.delivered === false);
  checks.expect(
    'the retained 4 s message arrived with its remaining lifetime (1–3 s) [MQTT-3.3.2-6]',
    longRetained?.delivered === true && longRetained.expiryOnWire !== undefined && longRetained.expiryOnWire >= 1 && longRetained.expiryOnWire < 4,
    `expiry on the wire ${longRetained?.expiryOnWire}`,
  );

  // Request / reply.
  const rpc = await demonstrateRequestReply(ctx);
  const rtts = stats(rpc.requests.flatMap((r) => (r.roundTripMs !== undefined ? [r.roundTripMs] : [])));
  // What the round trip costs beyond the responder's deliberate delay: the broker hops, twice.
  const overhead = stats(rpc.requests.flatMap((r) => (r.roundTripMs !== undefined ? [r.roundTripMs - r.responderDelayMs] : [])));
  sections.push({
    title: `Request/reply: ${rpc.requests.length} requests in flight on ${rpc.requestTopic}, replies on ${rpc.responseTopic}`,
    lines: [
      ...table(
        ['request', 'x', 'correlation data', 'responder delay', 'reply', 'matched', 'round trip'],
        rpc.requests.map((r) => [`#${r.n}`, r.x, r.correlation, `${r.responderDelayMs} ms`, r.reply ? `square=${r.reply.square}` : '—', r.matched ? 'yes' : 'NO', r.roundTripMs !== undefined ? `${r.roundTripMs.toFixed(1)} ms` : '—']),
      ),
      `  sent in order 1..${rpc.requests.length}, replies arrived as ${rpc.arrivalOrder.map((n) => `#${n}`).join(' ')}; round trip p50 ${rtts.p50.toFixed(1)} ms, max ${rtts.max.toFixed(1)} ms`,
      `  beyond the responder's delay each round trip took ${overhead.p50.toFixed(1)} ms (p50) for request → broker → responder → broker → requester`,
      ...(overhead.p50 > 30
        ? ['  (~40 ms is the signature of TCP delayed ACK meeting Nagle\'s algorithm on a socket without TCP_NODELAY — e.g. Mosquitto without set_tcp_nodelay true)']
        : []),
      '  request #1 and its reply, as traced:',
      ...rpc.packets.map((p) => packetWithProperties(p, ['responseTopic', 'correlationData'])),
    ],
  });
  checks.expect('the responder saw every Response Topic and Correlation Data unaltered [MQTT-3.3.2-15], [MQTT-3.3.2-16]', rpc.responderSaw.requests === rpc.requests.length && rpc.responderSaw.responseTopicIntact === rpc.requests.length && rpc.responderSaw.correlationIntact === rpc.requests.length, JSON.stringify(rpc.responderSaw));
  checks.expect('every reply was matched to its request by Correlation Data', rpc.requests.every((r) => r.matched) && rpc.unmatchedReplies === 0, `${rpc.requests.filter((r) => !r.matched).length} unmatched request(s), ${rpc.unmatchedReplies} stray repl(ies)`);

  // User properties.
  const props = await demonstrateUserProperties(ctx);
  const samePairs = JSON.stringify(props.sentPairs) === JSON.stringify(props.receivedPairs);
  sections.push({
    title: `User properties on ${props.topic} (+${props.bytesOnWire} B on the wire)`,
    lines: table(['#', 'sent', 'received'], Array.from({ length: Math.max(props.sentPairs.length, props.receivedPairs.length) }, (_, i) => [i + 1, pairText(props.sentPairs[i]), pairText(props.receivedPairs[i])])),
  });
  checks.expect('user properties arrived unaltered, repeated name included, in order [MQTT-3.3.2-17], [MQTT-3.3.2-18]', samePairs, `received ${JSON.stringify(props.receivedPairs)}`);

  // Topic aliases.
  const aliases = await demonstrateTopicAliases(ctx);
  const aliasRows = aliases.withoutAlias.map((b, i) => [i + 1, `${b} B`, `${aliases.withAlias[i]} B`, aliases.aliasedTopics[i] === '' ? '(alias 1 only)' : 'topic + alias 1', `${b - aliases.withAlias[i]!}`]);
  const totalPlain = aliases.withoutAlias.reduce((a, b) => a + b, 0);
  const totalAliased = aliases.withAlias.reduce((a, b) => a + b, 0);
  sections.push({
    title: `Topic aliases: ${aliases.messages} PUBLISHes each to a ${aliases.topic.length}-character topic (broker's Topic Alias Maximum ${aliases.brokerTopicAliasMaximum})`,
    lines: [
      ...table(['#', 'without alias', 'with alias', 'topic field', 'saved'], aliasRows),
      `  total ${totalPlain} B vs ${totalAliased} B: ${aliases.savedPerMessage} B saved per message once the alias is set (the first costs ${aliases.firstMessageExtra} B more)`,
      `  broker → alias-sub (Topic Alias Maximum ${aliases.subscriberTopicAliasMaximum}): ${aliases.inbound.aliased} of ${aliases.inbound.publishes} PUBLISHes used an alias${aliases.inbound.aliased > 0 ? ` (highest alias ${aliases.inbound.maxAlias})` : ' — aliasing is optional for the sender'}`,
    ],
  });
  checks.expect("the broker's CONNACK allows topic aliases (Topic Alias Maximum ≥ 1)", aliases.brokerTopicAliasMaximum >= 1, `Topic Alias Maximum ${aliases.brokerTopicAliasMaximum}`);
  checks.expect(
    'aliased PUBLISHes after the first were sent with an empty topic and accepted',
    aliases.aliasedTopics.slice(1).every((t) => t === '') && aliases.pubackReasonCodes.length === aliases.messages && aliases.pubackReasonCodes.every((c) => c < 0x80),
    `topics ${JSON.stringify(aliases.aliasedTopics)}, PUBACK reason codes ${aliases.pubackReasonCodes}`,
  );
  checks.expect('the subscriber got every message under the full topic name', aliases.delivered.count === 2 * aliases.messages && aliases.delivered.allOnTopic, `got ${aliases.delivered.count}`);
  // [MQTT-3.3.2-11] the broker never uses an alias above what the client announced.
  checks.expect('the broker used no alias above the subscriber\'s Topic Alias Maximum [MQTT-3.3.2-11]', aliases.inbound.maxAlias <= aliases.subscriberTopicAliasMaximum, `highest alias ${aliases.inbound.maxAlias}`);

  // Receive Maximum flow control.
  const flow = await demonstrateFlowControl(ctx);
  const { limited, unlimited } = flow;
  sections.push({
    title: `Flow control: ${flow.messages} QoS 1 messages at once to a subscriber that acknowledges after ${flow.ackDelayMs} ms`,
    lines: [
      ...table(
        ['subscriber', 'Receive Maximum', 'received', 'max unacknowledged', 'took'],
        [
          ['slow-sub', limited.receiveMaximum ?? '—', limited.received, limited.maxInFlight, `${limited.durationMs} ms`],
          ['slow-sub-nolimit', unlimited.receiveMaximum ?? 'not sent (65535)', unlimited.received, unlimited.maxInFlight, `${unlimited.durationMs} ms`],
        ],
      ),
      '  both take about as long: the consumer acknowledges one message per delay either way; Receive Maximum bounds',
      '  how many unacknowledged messages pile up at it (memory, redelivery after a crash), not its speed',
      `  slow-sub's socket (Receive Maximum ${limited.receiveMaximum}), first events:`,
      ...limited.timeline.slice(0, 10).map((e) => `  ${e.at.toFixed(1).padStart(7)} ms  ${e.event === 'PUBLISH' ? '← PUBLISH' : '→ PUBACK '} id=${String(e.messageId).padEnd(3)} unacknowledged ${'▮'.repeat(e.inFlight)}${e.inFlight}`),
      ...(limited.timeline.length > 10 ? [`  … ${limited.timeline.length - 10} more`] : []),
      ...(limited.maxInFlight > limited.receiveMaximum!
        ? [
            `  ✗ the broker overran the window: after a PUBACK it sent up to ${maxBurstAfterAck(limited.timeline)} new PUBLISHes, so up to ${limited.maxInFlight} were`,
            '    unacknowledged (Mosquitto 2.0.11 does this; its 2.0.13 ChangeLog lists "various fixes around inflight quota management")',
          ]
        : []),
    ],
  });
  checks.expect('the slow subscriber received all messages', limited.received === flow.messages && unlimited.received === flow.messages, `${limited.received} and ${unlimited.received} of ${flow.messages}`);
  checks.expect(
    `the broker never had more than ${limited.receiveMaximum} unacknowledged PUBLISHes out to it [MQTT-3.3.4-9], [MQTT-4.9.0-2]`,
    limited.maxInFlight <= limited.receiveMaximum!,
    `max in flight ${limited.maxInFlight}`,
  );

  const workersLine = shared.workers.map((w) => `${w.worker} ${w.count}`).join(', ');
  const spread = Object.values(shared.devices).map((ws) => ws.length);
  const spreadText = Math.min(...spread) === Math.max(...spread) ? `${Math.max(...spread)}` : `${Math.min(...spread)}–${Math.max(...spread)}`;
  return {
    exercise: 'mqtt5-features',
    title: 'Exercise 4 — MQTT 5.0 features: shared subscriptions, expiry, request/reply, properties, aliases, flow control',
    broker: ctx.url,
    sections,
    keyQuestion: {
      question: 'How do MQTT shared subscriptions compare to Kafka consumer groups? What does Kafka provide that shared subs do not?',
      answer: [
        `Both spread work over a group: here ${shared.published} messages went ${workersLine} — each exactly once — while`,
        `plain-sub got all ${shared.plainSubscriber.count}; a worker joins by subscribing, with no partitions to plan. But the broker picks the worker`,
        `per message, so each device's readings went to ${spreadText} workers and are processed in parallel, in no guaranteed order. Kafka`,
        'keys a record to one partition and one consumer (order per key), rebalances partitions with committed offsets, and replays.',
      ],
    },
    checks: checks.list,
    data: { sharedSubscriptions: shared, messageExpiry: expiry, requestReply: rpc, userProperties: props, topicAliases: aliases, flowControl: flow },
    durationMs: Date.now() - started,
  };
}

/** The most PUBLISHes that arrived between one PUBACK and the next event that was a PUBACK. */
function maxBurstAfterAck(timeline: FlowEvent[]): number {
  let max = 0;
  let run = -1;
  for (const e of timeline) {
    if (e.event === 'PUBACK') run = 0;
    else if (run >= 0) max = Math.max(max, ++run);
  }
  return max;
}

function pairText(pair: [string, string] | undefined): string {
  return pair ? `${pair[0]}: ${pair[1]}` : '—';
}
