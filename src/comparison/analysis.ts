import { amqplibDefaultPropertyBytes, basicAckFrame, deliveredMessage, publishedMessage } from './amqp-frames.js';
import { AMQP_SAMPLE, measureAmqpOverhead, type AmqpOverhead, type AmqpStepId } from './amqp-overhead.js';
import { CITATIONS } from './citations.js';
import { hasAmqp, type ComparisonContext } from './context.js';
import { kafkaBatchCost, type KafkaBatchCost } from './kafka-record-batch.js';
import { SAMPLE, samplePayload, type Provenance } from './model.js';
import { expectedPublishSize, measureMqttOverhead, type MqttOverhead, type MqttSetupCost, type MqttVersion } from './mqtt-overhead.js';
import { measurePubsubGrpcPublish, pubsubRestPublish, type PubsubGrpcCost, type PubsubRestCost } from './pubsub-publish.js';
import { measureCompetingConsumers, measureSharedSubscription, type Distribution } from './scalability.js';

export type System = 'MQTT' | 'Kafka' | 'RabbitMQ' | 'Cloud Pub/Sub';
export const SYSTEMS: System[] = ['MQTT', 'Kafka', 'RabbitMQ', 'Cloud Pub/Sub'];

/**
 * Ids of the byte-table rows: what code looks a row up by (`variant` is only the label people read). Rows of
 * several measured MQTT brokers share their ids; the first is the primary broker's. `mqtt` and `amqp` are the
 * placeholder rows of a protocol that was not measured.
 */
export type OverheadRowId =
  | `mqtt-${MqttVersion}-qos${0 | 1 | 2}`
  | 'mqtt-5.0-qos0-alias'
  | 'mqtt'
  | 'amqp-no-confirms'
  | 'amqp-confirms'
  | 'amqp'
  | `kafka-batch-${1 | 10 | 100}`
  | 'pubsub-rest'
  | 'pubsub-grpc-first'
  | 'pubsub-grpc-later';

/** Bytes one message costs, per payload size, sender side and receiver side, with where the number comes from. */
export interface OverheadRow {
  id: OverheadRowId;
  system: System;
  /** What people read, e.g. `MQTT 5.0 QoS 0`. */
  variant: string;
  provenance: Provenance;
  /** Which server (measured rows) or which encoder/version (computed rows). */
  basis: string;
  /** Per payload size: publisher-side bytes (message + acks on its connection), subscriber-side, total. */
  bySize: Array<{ payloadBytes: number; publisher: number | null; subscriber: number | null; total: number | null; overhead: number | null }>;
  note?: string;
}

/** Ids of the setup rows, e.g. `mqtt-5.0-connect-publisher` or `amqp-connection-publisher`. */
export type SetupRowId =
  | `mqtt-${MqttVersion}-${'connect' | 'subscribe' | 'disconnect'}-${'publisher' | 'subscriber'}`
  | `amqp-${AmqpStepId}-${'publisher' | 'subscriber'}`
  | 'amqp'
  | 'pubsub-http2'
  | 'kafka-metadata';

const MQTT_SETUP_IDS = { 'CONNECT/CONNACK': 'connect', 'SUBSCRIBE/SUBACK': 'subscribe', DISCONNECT: 'disconnect' } as const;

/** One-off costs per connection. */
export interface SetupRow {
  id: SetupRowId;
  system: System;
  /** What people read, e.g. `MQTT 5.0 CONNECT/CONNACK (publisher)`. */
  step: string;
  bytes: number | null;
  provenance: Provenance;
  basis: string;
  note?: string;
}

/** The AMQP frames as counted on RabbitMQ, or why they were not. */
export type AmqpCount = (AmqpOverhead & { provenance: 'measured' }) | { provenance: 'not measured'; reason: string };

export interface OverheadAnalysis {
  sample: { topic: string; payloadSizes: number[] };
  mqtt: MqttOverhead[];
  amqp: AmqpCount;
  kafka: KafkaBatchCost[];
  pubsub: Array<{ payloadBytes: number; rest: PubsubRestCost; grpc: PubsubGrpcCost }>;
  rows: OverheadRow[];
  setup: SetupRow[];
  /** What the specs say the measured sender-side packets must be, next to what was counted. */
  specChecks: Array<{ what: string; expected: number; measured: number | null }>;
}

/**
 * Seed: analyze_overhead(). Bytes on the wire for the same message in each protocol: MQTT 3.1.1/5.0 and
 * AMQP 0-9-1 counted on real sockets, Kafka and Pub/Sub computed from their public specifications.
 */
export async function analyzeOverhead(ctx: ComparisonContext): Promise<OverheadAnalysis> {
  const sizes = SAMPLE.payloadSizes;
  const mqtt: MqttOverhead[] = [];
  for (const target of ctx.mqtt) {
    if (target.tcp) mqtt.push(await measureMqttOverhead(target.tcp.port, target.label, { host: target.tcp.host }));
  }
  const amqp: AmqpCount = hasAmqp(ctx.amqp)
    ? { provenance: 'measured', ...(await measureAmqpOverhead(ctx.amqp.port, ctx.amqp.label)) }
    : { provenance: 'not measured', reason: ctx.amqp.absent };
  const kafka = [1, 10, 100].flatMap((n) => sizes.map((s) => kafkaBatchCost(samplePayload(s), n)));
  const pubsub: OverheadAnalysis['pubsub'] = [];
  for (const s of sizes) pubsub.push({ payloadBytes: s, rest: pubsubRestPublish(samplePayload(s)), grpc: await measurePubsubGrpcPublish(samplePayload(s)) });

  const rows: OverheadRow[] = [];
  const setup: SetupRow[] = [];
  const specChecks: OverheadAnalysis['specChecks'] = [];
  const topicBytes = Buffer.byteLength(SAMPLE.topic);

  for (const m of mqtt) {
    for (const version of ['3.1.1', '5.0'] as const) {
      for (const qos of [0, 1, 2] as const) {
        const costs = m.publishes.filter((p) => p.version === version && p.qos === qos && !p.topicAlias);
        rows.push({
          id: `mqtt-${version}-qos${qos}`,
          system: 'MQTT',
          variant: `MQTT ${version} QoS ${qos}`,
          provenance: 'measured',
          basis: m.broker,
          bySize: costs.map((c) => ({ payloadBytes: c.payloadBytes, publisher: c.publisher.bytes, subscriber: c.subscriber.bytes, total: c.total, overhead: c.overhead })),
        });
        for (const c of costs) {
          const sent = c.publisher.packets.find((p) => p.direction === '→' && p.type.startsWith('PUBLISH'));
          specChecks.push({ what: `${m.broker}: MQTT ${version} QoS ${qos} PUBLISH, ${c.payloadBytes}-byte payload`, expected: expectedPublishSize(version, topicBytes, c.payloadBytes, qos), measured: sent?.bytes ?? null });
        }
      }
    }
    const alias = m.publishes.filter((p) => p.topicAlias);
    if (alias.length === 2) {
      rows.push({
        id: 'mqtt-5.0-qos0-alias',
        system: 'MQTT',
        variant: 'MQTT 5.0 QoS 0, Topic Alias (after first use)',
        provenance: 'measured',
        basis: m.broker,
        bySize: [{ payloadBytes: alias[1]!.payloadBytes, publisher: alias[1]!.publisher.bytes, subscriber: alias[1]!.subscriber.bytes, total: alias[1]!.total, overhead: alias[1]!.overhead }],
        note:
          `first use ${alias[0]!.publisher.bytes} B (topic + 3-byte alias property); ` +
          'the subscriber side uses an alias only if the broker assigns one outbound ' +
          `(${alias[1]!.subscriber.bytes === alias[1]!.publisher.bytes ? 'this broker does' : 'this broker does not'})`,
      });
      specChecks.push({ what: `${m.broker}: MQTT 5.0 PUBLISH with empty topic + Topic Alias`, expected: expectedPublishSize('5.0', 0, alias[1]!.payloadBytes, 0, 3), measured: alias[1]!.publisher.packets[0]?.bytes ?? null });
    }
    for (const s of m.setup) setup.push({ id: mqttSetupId(s), system: 'MQTT', step: `MQTT ${s.version} ${s.step} (${s.side})`, bytes: s.bytes, provenance: 'measured', basis: m.broker, note: s.packets.map((p) => `${p.type} ${p.bytes}`).join(' + ') });
  }
  if (mqtt.length === 0) {
    rows.push({ id: 'mqtt', system: 'MQTT', variant: 'MQTT', provenance: 'not measured', basis: 'no TCP broker', bySize: sizes.map((s) => ({ payloadBytes: s, publisher: null, subscriber: null, total: null, overhead: null })), note: 'bytes are counted over TCP only' });
  }

  if (amqp.provenance === 'measured') {
    for (const confirms of [false, true]) {
      const costs = amqp.publishes.filter((p) => p.confirms === confirms);
      rows.push({
        id: confirms ? 'amqp-confirms' : 'amqp-no-confirms',
        system: 'RabbitMQ',
        variant: `AMQP 0-9-1 ${confirms ? 'with publisher confirms' : 'no confirms'}, consumer acks`,
        provenance: 'measured',
        basis: `${amqp.server} + amqplib`,
        bySize: costs.map((c) => ({ payloadBytes: c.payloadBytes, publisher: c.publisher.bytes, subscriber: c.subscriber.bytes, total: c.total, overhead: c.overhead })),
      });
      for (const c of costs) {
        const expected = publishedMessage(AMQP_SAMPLE.exchange, AMQP_SAMPLE.routingKey, c.payloadBytes, amqplibDefaultPropertyBytes()).total + (confirms ? basicAckFrame() : 0);
        specChecks.push({ what: `AMQP basic.publish + header + body${confirms ? ' + confirm' : ''}, ${c.payloadBytes}-byte payload`, expected, measured: c.publisher.bytes });
        if (confirms) continue; // the subscriber side does not depend on the publisher's confirms
        const expectedSub = deliveredMessage(AMQP_SAMPLE.consumerTag, AMQP_SAMPLE.exchange, AMQP_SAMPLE.routingKey, c.payloadBytes, amqplibDefaultPropertyBytes()).total + basicAckFrame();
        specChecks.push({ what: `AMQP basic.deliver + header + body + basic.ack, ${c.payloadBytes}-byte payload`, expected: expectedSub, measured: c.subscriber.bytes });
      }
    }
    for (const s of amqp.setup) setup.push({ id: `amqp-${s.id}-${s.side}`, system: 'RabbitMQ', step: `AMQP ${s.step} (${s.side})`, bytes: s.bytes, provenance: 'measured', basis: amqp.server, note: s.frames.map((f) => `${f.type} ${f.bytes}`).join(' + ') });
  } else {
    const bySize = sizes.map((s) => ({ payloadBytes: s, publisher: null, subscriber: null, total: null, overhead: null }));
    rows.push({ id: 'amqp', system: 'RabbitMQ', variant: 'AMQP 0-9-1', provenance: 'not measured', basis: amqp.reason, bySize, note: amqp.reason });
    setup.push({ id: 'amqp', system: 'RabbitMQ', step: 'AMQP connection setup', bytes: null, provenance: 'not measured', basis: amqp.reason });
  }

  for (const n of [1, 10, 100] as const) {
    const costs = kafka.filter((k) => k.batchSize === n);
    rows.push({
      id: `kafka-batch-${n}`,
      system: 'Kafka',
      variant: `Kafka, batch of ${n}${n > 1 ? ' (per message)' : ''}`,
      provenance: 'computed',
      basis: `Produce v${costs[0]!.produceVersion} + Fetch v${costs[0]!.fetchVersion}, RecordBatch v2`,
      bySize: costs.map((k) => ({
        payloadBytes: k.payloadBytes,
        publisher: round1((k.produceRequest + k.produceResponse) / n),
        subscriber: round1((k.fetchRequest + k.fetchResponse) / n),
        total: k.perMessage,
        overhead: k.overheadPerMessage,
      })),
      note: n === 1 ? 'acks=1 Produce response counted; consumers commit offsets periodically, not per message' : undefined,
    });
  }
  rows.push({
    id: 'pubsub-rest',
    system: 'Cloud Pub/Sub',
    variant: 'Pub/Sub REST publish (HTTP/1.1 + JSON + base64)',
    provenance: 'computed',
    basis: `public REST API, ${pubsub[0]!.rest.tokenBytes}-byte bearer token assumed`,
    bySize: pubsub.map((p) => ({ payloadBytes: p.payloadBytes, publisher: p.rest.total, subscriber: null, total: null, overhead: p.rest.total - p.payloadBytes })),
    note: 'publisher side only (request + 200 response); minimal headers, TLS not counted',
  });
  rows.push({
    id: 'pubsub-grpc-first',
    system: 'Cloud Pub/Sub',
    variant: 'Pub/Sub gRPC Publish, first call on a connection',
    provenance: 'computed',
    basis: 'HTTP/2 + HPACK (nghttp2) + protobuf, local stand-in',
    bySize: pubsub.map((p) => ({ payloadBytes: p.payloadBytes, publisher: p.grpc.first.bytes, subscriber: null, total: null, overhead: p.grpc.first.bytes - p.payloadBytes })),
  });
  rows.push({
    id: 'pubsub-grpc-later',
    system: 'Cloud Pub/Sub',
    variant: 'Pub/Sub gRPC Publish, later call (HPACK-indexed headers)',
    provenance: 'computed',
    basis: 'HTTP/2 + HPACK (nghttp2) + protobuf, local stand-in',
    bySize: pubsub.map((p) => ({ payloadBytes: p.payloadBytes, publisher: p.grpc.later.bytes, subscriber: null, total: null, overhead: p.grpc.later.bytes - p.payloadBytes })),
    note: 'nghttp2 never indexes the authorization header, so the token is re-sent (Huffman-coded) on every call',
  });
  setup.push({ id: 'pubsub-http2', system: 'Cloud Pub/Sub', step: 'HTTP/2 preface + SETTINGS exchange (before TLS is counted: it is not)', bytes: pubsub[0]!.grpc.setup.bytes, provenance: 'computed', basis: 'nghttp2 via Node http2' });
  setup.push({ id: 'kafka-metadata', system: 'Kafka', step: 'ApiVersions + Metadata before producing', bytes: null, provenance: 'not measured', basis: 'not computed here (depends on cluster size and topic count)' });

  return { sample: { topic: SAMPLE.topic, payloadSizes: [...sizes] }, mqtt, amqp, kafka, pubsub, rows, setup, specChecks };
}

/** The id of an MQTT setup step, e.g. `mqtt-5.0-connect-publisher`. */
function mqttSetupId(s: MqttSetupCost): SetupRowId {
  return `mqtt-${s.version}-${MQTT_SETUP_IDS[s.step]}-${s.side}`;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

// ── Delivery guarantees ─────────────────────────────────────────────────────────────────────────────────
export interface DeliveryMode {
  system: System;
  mode: string;
  guarantee: 'at most once' | 'at least once' | 'exactly once' | 'effectively once';
  /** Packets/frames per message between publisher and server, and between server and subscriber. */
  publisherUnits: string;
  subscriberUnits: string;
  /** Bytes for the 16-byte sample (both sides), when known. */
  bytes: number | null;
  provenance: Provenance;
  note: string;
}

export interface DeliveryAnalysis {
  modes: DeliveryMode[];
}

/** Seed: analyze_delivery_guarantees(). Each ack model, with the packets it costs taken from the overhead run. */
export function analyzeDeliveryGuarantees(overhead: OverheadAnalysis): DeliveryAnalysis {
  const modes: DeliveryMode[] = [];
  const m = overhead.mqtt[0];
  const small = overhead.sample.payloadSizes[0]!;
  const mqttCost = (qos: 0 | 1 | 2) => m?.publishes.find((p) => p.version === '5.0' && p.qos === qos && p.payloadBytes === small && !p.topicAlias);
  const seq = (rows: Array<{ type: string }> | undefined) => (rows ? rows.map((r) => r.type.replace(/ \(.*\)/, '')).join(' → ') : 'n/a');
  const names = { 0: 'at most once', 1: 'at least once', 2: 'exactly once' } as const;
  for (const qos of [0, 1, 2] as const) {
    const c = mqttCost(qos);
    modes.push({
      system: 'MQTT',
      mode: `QoS ${qos}`,
      guarantee: names[qos],
      publisherUnits: seq(c?.publisher.packets),
      subscriberUnits: seq(c?.subscriber.packets),
      bytes: c?.total ?? null,
      provenance: c ? 'measured' : 'not measured',
      note: ['fire and forget: nothing is stored or retried', 'PUBACK per message; resent with DUP until acknowledged [MQTT-4.3.2]', 'PUBREC/PUBREL/PUBCOMP: the packet id is held until PUBCOMP so the message is delivered once [MQTT-4.3.3]'][qos]!,
    });
  }
  const a = overhead.amqp.provenance === 'measured' ? overhead.amqp : undefined;
  for (const confirms of [false, true]) {
    const c = a?.publishes.find((p) => p.confirms === confirms && p.payloadBytes === small);
    modes.push({
      system: 'RabbitMQ',
      mode: confirms ? 'publisher confirms + consumer acks' : 'no confirms, consumer acks',
      guarantee: confirms ? 'at least once' : 'at most once',
      publisherUnits: seq(c?.publisher.frames),
      subscriberUnits: seq(c?.subscriber.frames),
      bytes: c?.total ?? null,
      provenance: c ? 'measured' : 'not measured',
      note: confirms ? 'broker basic.ack after routing (and disk write for persistent messages to durable queues); unacked deliveries are requeued' : 'a publish lost before the broker routes it is never known; consumer acks still make delivery at-least-once from the queue',
    });
  }
  const k1 = overhead.kafka.find((k) => k.batchSize === 1 && k.payloadBytes === small)!;
  modes.push({
    system: 'Kafka',
    mode: 'acks=1 / acks=all, offset commits',
    guarantee: 'at least once',
    publisherUnits: 'Produce request → Produce response (per batch)',
    subscriberUnits: 'Fetch request → Fetch response (per batch); OffsetCommit periodically',
    bytes: k1.total,
    provenance: 'computed',
    note: `exactly-once with the idempotent producer + transactions (read_committed); ${CITATIONS.kafkaConsumerConfig.says}`,
  });
  const p = overhead.pubsub.find((x) => x.payloadBytes === small)!;
  modes.push({
    system: 'Cloud Pub/Sub',
    mode: 'publish → messageId, pull/streaming pull + acknowledge',
    guarantee: 'at least once',
    publisherUnits: 'POST :publish → 200 {messageIds}',
    subscriberUnits: 'pull/StreamingPull → ack (ack deadline, redelivery)',
    bytes: p.rest.total,
    provenance: 'computed',
    note:
      'publisher side only; exactly-once delivery exists as a subscription option (within a region) — ' +
      'cited from the seed table and Google docs, not exercised here',
  });
  return { modes };
}

// ── Scalability patterns ────────────────────────────────────────────────────────────────────────────────
export interface ScalabilityAnalysis {
  distributions: Distribution[];
  patterns: Array<{ system: System; pattern: string; ordering: string; rebalancing: string; provenance: Provenance }>;
}

/** Seed: analyze_scalability_patterns(). Measures MQTT shared subscriptions and AMQP competing consumers; cites the rest. */
export async function analyzeScalabilityPatterns(ctx: ComparisonContext): Promise<ScalabilityAnalysis> {
  const distributions: Distribution[] = [];
  for (const t of ctx.mqtt) distributions.push(await measureSharedSubscription(t.url, t.label));
  if (hasAmqp(ctx.amqp)) distributions.push(await measureCompetingConsumers(ctx.amqp.url, ctx.amqp.label));
  const measuredMqtt = distributions.some((d) => d.system === 'MQTT 5');
  const measuredAmqp = distributions.some((d) => d.system === 'AMQP 0-9-1');
  return {
    distributions,
    patterns: [
      { system: 'MQTT', pattern: 'shared subscriptions $share/<group>/<filter> (MQTT 5): each message to one member', ordering: 'per topic from one publisher; lost across members of a share group', rebalancing: 'none needed: members join/leave freely; no partition ownership', provenance: measuredMqtt ? 'measured' : 'not measured' },
      { system: 'Kafka', pattern: 'consumer groups: each partition owned by one member', ordering: 'per partition, kept under load balancing', rebalancing: 'group coordinator reassigns partitions (stop-the-world or cooperative)', provenance: 'cited' },
      { system: 'RabbitMQ', pattern: 'competing consumers on one queue, prefetch-bounded', ordering: 'per queue, lost across consumers and on requeue', rebalancing: 'none: the queue hands the next message to a consumer with credit', provenance: measuredAmqp ? 'measured' : 'not measured' },
      { system: 'Cloud Pub/Sub', pattern: 'many subscribers on one subscription, server-side flow control', ordering: 'per ordering key when enabled', rebalancing: 'managed by the service', provenance: 'cited' },
    ],
  };
}

// ── Use-case fit ────────────────────────────────────────────────────────────────────────────────────────
export interface FleetFigure {
  /** The byte-table row the figure is priced from. */
  id: OverheadRowId;
  system: string;
  /** What people read, e.g. `Produce via a bridge batching 100`. */
  variant: string;
  bytesPerMessage: number | null;
  /** Bytes per device per day of telemetry (one message every `intervalSeconds`). */
  perDevicePerDay: number | null;
  /** Aggregate ingress at the server for the whole fleet, bytes/s. */
  fleetBytesPerSecond: number | null;
  provenance: Provenance;
}

export interface UseCaseAnalysis {
  fleet: { devices: number; intervalSeconds: number; messagesPerSecond: number; payloadBytes: number; figures: FleetFigure[] };
  scenarios: Array<{ scenario: string; best: System[]; why: string }>;
}

/**
 * Seed: analyze_use_case_fit(). Matches the systems to scenarios, and prices the seed's fleet (100K devices,
 * one reading every 10 s) in bytes with this run's per-message figures.
 */
export function analyzeUseCaseFit(overhead: OverheadAnalysis, devices = 100_000, intervalSeconds = 10): UseCaseAnalysis {
  const payloadBytes = overhead.sample.payloadSizes[0]!;
  const messagesPerSecond = devices / intervalSeconds;
  const perDay = 86_400 / intervalSeconds;
  const figures: FleetFigure[] = [];
  // Priced from the sender side of each row: what the device (or the bridge) puts on its link.
  const add = (id: OverheadRowId, system: string, variant: string, provenance?: Provenance) => {
    const row = overhead.rows.find((r) => r.id === id);
    const bytes = row?.bySize.find((b) => b.payloadBytes === payloadBytes)?.publisher ?? null;
    const perDevicePerDay = bytes === null ? null : Math.round(bytes * perDay);
    const fleetBytesPerSecond = bytes === null ? null : Math.round(bytes * messagesPerSecond);
    figures.push({ id, system, variant, bytesPerMessage: bytes, perDevicePerDay, fleetBytesPerSecond, provenance: provenance ?? row?.provenance ?? 'not measured' });
  };
  add('mqtt-5.0-qos0', 'MQTT', 'MQTT 5.0 QoS 0');
  add('mqtt-5.0-qos1', 'MQTT', 'MQTT 5.0 QoS 1');
  add('mqtt-5.0-qos0-alias', 'MQTT', 'MQTT 5.0 QoS 0, Topic Alias (after first use)');
  add('mqtt-3.1.1-qos1', 'MQTT', 'MQTT 3.1.1 QoS 1');
  add('amqp-confirms', 'RabbitMQ', 'AMQP 0-9-1 with publisher confirms');
  add('kafka-batch-1', 'Kafka', 'Produce per device (batch of 1)', 'computed');
  add('kafka-batch-100', 'Kafka', 'Produce via a bridge batching 100', 'computed');
  add('pubsub-rest', 'Cloud Pub/Sub', 'REST publish per device', 'computed');
  add('pubsub-grpc-later', 'Cloud Pub/Sub', 'gRPC publish per device (later call)', 'computed');
  return {
    fleet: { devices, intervalSeconds, messagesPerSecond, payloadBytes, figures },
    scenarios: [
      { scenario: 'IoT telemetry from constrained devices on metered links', best: ['MQTT'], why: 'smallest per-message bytes, persistent sessions, LWT + retained for presence, per-message QoS' },
      { scenario: 'event streaming / analytics pipeline with replay', best: ['Kafka'], why: 'a partitioned log with retention and offsets; batching makes per-message cost fall with volume' },
      { scenario: 'microservice integration, task queues, RPC', best: ['RabbitMQ'], why: 'exchanges + bindings route flexibly; per-message acks and dead-lettering' },
      { scenario: 'cloud-native fan-out, serverless triggers', best: ['Cloud Pub/Sub'], why: 'no servers to run; HTTP/gRPC everywhere; billed per request (min 1 kB) rather than run' },
    ],
  };
}
