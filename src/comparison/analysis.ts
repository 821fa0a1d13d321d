import { CITATIONS } from './citations.js';
import { hasAmqp, type ComparisonContext } from './context.js';
import type { Provenance, System } from './model.js';
import type { OverheadAnalysis, OverheadRowId } from './overhead.js';
import { measureCompetingConsumers, measureSharedSubscription, type Distribution } from './scalability.js';

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
  const mqttCost = (qos: 0 | 1 | 2) =>
    m?.publishes.find((p) => p.version === '5.0' && p.qos === qos && p.payloadBytes === small && !p.topicAlias);
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
      note: [
        'fire and forget: nothing is stored or retried',
        'PUBACK per message; resent with DUP until acknowledged [MQTT-4.3.2]',
        'PUBREC/PUBREL/PUBCOMP: the packet id is held until PUBCOMP so the message is delivered once [MQTT-4.3.3]',
      ][qos]!,
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
      note: confirms
        ? 'broker basic.ack after routing (and disk write for persistent messages to durable queues); unacked deliveries are requeued'
        : 'a publish lost before the broker routes it is never known; consumer acks still make delivery at-least-once from the queue',
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
      {
        system: 'MQTT',
        pattern: 'shared subscriptions $share/<group>/<filter> (MQTT 5): each message to one member',
        ordering: 'per topic from one publisher; lost across members of a share group',
        rebalancing: 'none needed: members join/leave freely; no partition ownership',
        provenance: measuredMqtt ? 'measured' : 'not measured',
      },
      {
        system: 'Kafka',
        pattern: 'consumer groups: each partition owned by one member',
        ordering: 'per partition, kept under load balancing',
        rebalancing: 'group coordinator reassigns partitions (stop-the-world or cooperative)',
        provenance: 'cited',
      },
      {
        system: 'RabbitMQ',
        pattern: 'competing consumers on one queue, prefetch-bounded',
        ordering: 'per queue, lost across consumers and on requeue',
        rebalancing: 'none: the queue hands the next message to a consumer with credit',
        provenance: measuredAmqp ? 'measured' : 'not measured',
      },
      {
        system: 'Cloud Pub/Sub',
        pattern: 'many subscribers on one subscription, server-side flow control',
        ordering: 'per ordering key when enabled',
        rebalancing: 'managed by the service',
        provenance: 'cited',
      },
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
    figures.push({
      id,
      system,
      variant,
      bytesPerMessage: bytes,
      perDevicePerDay,
      fleetBytesPerSecond,
      provenance: provenance ?? row?.provenance ?? 'not measured',
    });
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
      {
        scenario: 'IoT telemetry from constrained devices on metered links',
        best: ['MQTT'],
        why: 'smallest per-message bytes, persistent sessions, LWT + retained for presence, per-message QoS',
      },
      {
        scenario: 'event streaming / analytics pipeline with replay',
        best: ['Kafka'],
        why: 'a partitioned log with retention and offsets; batching makes per-message cost fall with volume',
      },
      {
        scenario: 'microservice integration, task queues, RPC',
        best: ['RabbitMQ'],
        why: 'exchanges + bindings route flexibly; per-message acks and dead-lettering',
      },
      {
        scenario: 'cloud-native fan-out, serverless triggers',
        best: ['Cloud Pub/Sub'],
        why: 'no servers to run; HTTP/gRPC everywhere; billed per request (min 1 kB) rather than run',
      },
    ],
  };
}
