import { amqplibDefaultPropertyBytes, basicAckFrame, deliveredMessage, publishedMessage } from './amqp-frames.js';
import { AMQP_SAMPLE, measureAmqpOverhead, type AmqpOverhead, type AmqpStepId } from './amqp-overhead.js';
import { hasAmqp, type ComparisonContext } from './context.js';
import { kafkaBatchCost, type KafkaBatchCost } from './kafka-requests.js';
import { SAMPLE, samplePayload, type Provenance, type System } from './model.js';
import {
  expectedPublishSize,
  measureMqttOverhead,
  type MqttOverhead,
  type MqttPublishCost,
  type MqttSetupCost,
  type MqttVersion,
} from './mqtt-overhead.js';
import { measurePubsubGrpcPublish, pubsubRestPublish, type PubsubGrpcCost, type PubsubRestCost } from './pubsub-publish.js';

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
  bySize: Array<{
    payloadBytes: number;
    publisher: number | null;
    subscriber: number | null;
    total: number | null;
    overhead: number | null;
  }>;
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

/** What the byte counts are collected into, in the order the report shows them. */
interface Collected {
  rows: OverheadRow[];
  setup: SetupRow[];
  specChecks: OverheadAnalysis['specChecks'];
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
  for (const s of sizes)
    pubsub.push({ payloadBytes: s, rest: pubsubRestPublish(samplePayload(s)), grpc: await measurePubsubGrpcPublish(samplePayload(s)) });

  const out: Collected = { rows: [], setup: [], specChecks: [] };
  for (const m of mqtt) collectMqtt(out, m);
  if (mqtt.length === 0) {
    const note = 'bytes are counted over TCP only';
    out.rows.push({
      id: 'mqtt',
      system: 'MQTT',
      variant: 'MQTT',
      provenance: 'not measured',
      basis: 'no TCP broker',
      bySize: unmeasured(sizes),
      note,
    });
  }
  if (amqp.provenance === 'measured') collectAmqp(out, amqp);
  else {
    const reason = amqp.reason;
    out.rows.push({
      id: 'amqp',
      system: 'RabbitMQ',
      variant: 'AMQP 0-9-1',
      provenance: 'not measured',
      basis: reason,
      bySize: unmeasured(sizes),
      note: reason,
    });
    out.setup.push({
      id: 'amqp',
      system: 'RabbitMQ',
      step: 'AMQP connection setup',
      bytes: null,
      provenance: 'not measured',
      basis: reason,
    });
  }
  collectKafka(out, kafka);
  collectPubsub(out, pubsub);
  const { rows, setup, specChecks } = out;
  return { sample: { topic: SAMPLE.topic, payloadSizes: [...sizes] }, mqtt, amqp, kafka, pubsub, rows, setup, specChecks };
}

/** Empty cells for every payload size, for a protocol that was not measured. */
function unmeasured(sizes: readonly number[]): OverheadRow['bySize'] {
  return sizes.map((s) => ({ payloadBytes: s, publisher: null, subscriber: null, total: null, overhead: null }));
}

/** A measured cost (publisher and subscriber side) as a byte-table cell. */
function cell(c: { payloadBytes: number; publisher: { bytes: number }; subscriber: { bytes: number }; total: number; overhead: number }) {
  return {
    payloadBytes: c.payloadBytes,
    publisher: c.publisher.bytes,
    subscriber: c.subscriber.bytes,
    total: c.total,
    overhead: c.overhead,
  };
}

/** One broker's MQTT rows (each version and QoS, then the Topic Alias), their spec checks and its setup steps. */
function collectMqtt(out: Collected, m: MqttOverhead): void {
  const topicBytes = Buffer.byteLength(SAMPLE.topic);
  for (const version of ['3.1.1', '5.0'] as const) {
    for (const qos of [0, 1, 2] as const) {
      const costs = m.publishes.filter((p) => p.version === version && p.qos === qos && !p.topicAlias);
      out.rows.push({
        id: `mqtt-${version}-qos${qos}`,
        system: 'MQTT',
        variant: `MQTT ${version} QoS ${qos}`,
        provenance: 'measured',
        basis: m.broker,
        bySize: costs.map(cell),
      });
      for (const c of costs) {
        const sent = c.publisher.packets.find((p) => p.direction === '→' && p.type.startsWith('PUBLISH'));
        const expected = expectedPublishSize(version, topicBytes, c.payloadBytes, qos);
        out.specChecks.push({
          what: `${m.broker}: MQTT ${version} QoS ${qos} PUBLISH, ${c.payloadBytes}-byte payload`,
          expected,
          measured: sent?.bytes ?? null,
        });
      }
    }
  }
  const alias = m.publishes.filter((p) => p.topicAlias);
  if (alias.length === 2) {
    const [first, reused] = alias as [MqttPublishCost, MqttPublishCost];
    out.rows.push({
      id: 'mqtt-5.0-qos0-alias',
      system: 'MQTT',
      variant: 'MQTT 5.0 QoS 0, Topic Alias (after first use)',
      provenance: 'measured',
      basis: m.broker,
      bySize: [cell(reused)],
      note:
        `first use ${first.publisher.bytes} B (topic + 3-byte alias property); ` +
        'the subscriber side uses an alias only if the broker assigns one outbound ' +
        `(${reused.subscriber.bytes === reused.publisher.bytes ? 'this broker does' : 'this broker does not'})`,
    });
    const expected = expectedPublishSize('5.0', 0, reused.payloadBytes, 0, 3);
    out.specChecks.push({
      what: `${m.broker}: MQTT 5.0 PUBLISH with empty topic + Topic Alias`,
      expected,
      measured: reused.publisher.packets[0]?.bytes ?? null,
    });
  }
  for (const s of m.setup) {
    const note = s.packets.map((p) => `${p.type} ${p.bytes}`).join(' + ');
    out.setup.push({
      id: mqttSetupId(s),
      system: 'MQTT',
      step: `MQTT ${s.version} ${s.step} (${s.side})`,
      bytes: s.bytes,
      provenance: 'measured',
      basis: m.broker,
      note,
    });
  }
}

/** RabbitMQ's rows with and without publisher confirms, their spec checks, and its setup steps. */
function collectAmqp(out: Collected, amqp: AmqpOverhead): void {
  const { exchange, routingKey, consumerTag } = AMQP_SAMPLE;
  for (const confirms of [false, true]) {
    const costs = amqp.publishes.filter((p) => p.confirms === confirms);
    out.rows.push({
      id: confirms ? 'amqp-confirms' : 'amqp-no-confirms',
      system: 'RabbitMQ',
      variant: `AMQP 0-9-1 ${confirms ? 'with publisher confirms' : 'no confirms'}, consumer acks`,
      provenance: 'measured',
      basis: `${amqp.server} + amqplib`,
      bySize: costs.map(cell),
    });
    for (const c of costs) {
      const published = publishedMessage(exchange, routingKey, c.payloadBytes, amqplibDefaultPropertyBytes()).total;
      const what = `AMQP basic.publish + header + body${confirms ? ' + confirm' : ''}, ${c.payloadBytes}-byte payload`;
      out.specChecks.push({ what, expected: published + (confirms ? basicAckFrame() : 0), measured: c.publisher.bytes });
      if (confirms) continue; // the subscriber side does not depend on the publisher's confirms
      const delivered = deliveredMessage(consumerTag, exchange, routingKey, c.payloadBytes, amqplibDefaultPropertyBytes()).total;
      const whatSub = `AMQP basic.deliver + header + body + basic.ack, ${c.payloadBytes}-byte payload`;
      out.specChecks.push({ what: whatSub, expected: delivered + basicAckFrame(), measured: c.subscriber.bytes });
    }
  }
  for (const s of amqp.setup) {
    const note = s.frames.map((f) => `${f.type} ${f.bytes}`).join(' + ');
    out.setup.push({
      id: `amqp-${s.id}-${s.side}`,
      system: 'RabbitMQ',
      step: `AMQP ${s.step} (${s.side})`,
      bytes: s.bytes,
      provenance: 'measured',
      basis: amqp.server,
      note,
    });
  }
}

/** Kafka's rows per batch size, computed per message. */
function collectKafka(out: Collected, kafka: KafkaBatchCost[]): void {
  for (const n of [1, 10, 100] as const) {
    const costs = kafka.filter((k) => k.batchSize === n);
    out.rows.push({
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
}

/** Cloud Pub/Sub's REST and gRPC rows (publisher side only) and its HTTP/2 setup; Kafka's setup, not computed. */
function collectPubsub(out: Collected, pubsub: OverheadAnalysis['pubsub']): void {
  const grpcBasis = 'HTTP/2 + HPACK (nghttp2) + protobuf, local stand-in';
  const publisherOnly = (p: { payloadBytes: number }, bytes: number) => ({
    payloadBytes: p.payloadBytes,
    publisher: bytes,
    subscriber: null,
    total: null,
    overhead: bytes - p.payloadBytes,
  });
  out.rows.push({
    id: 'pubsub-rest',
    system: 'Cloud Pub/Sub',
    variant: 'Pub/Sub REST publish (HTTP/1.1 + JSON + base64)',
    provenance: 'computed',
    basis: `public REST API, ${pubsub[0]!.rest.tokenBytes}-byte bearer token assumed`,
    bySize: pubsub.map((p) => publisherOnly(p, p.rest.total)),
    note: 'publisher side only (request + 200 response); minimal headers, TLS not counted',
  });
  out.rows.push({
    id: 'pubsub-grpc-first',
    system: 'Cloud Pub/Sub',
    variant: 'Pub/Sub gRPC Publish, first call on a connection',
    provenance: 'computed',
    basis: grpcBasis,
    bySize: pubsub.map((p) => publisherOnly(p, p.grpc.first.bytes)),
  });
  out.rows.push({
    id: 'pubsub-grpc-later',
    system: 'Cloud Pub/Sub',
    variant: 'Pub/Sub gRPC Publish, later call (HPACK-indexed headers)',
    provenance: 'computed',
    basis: grpcBasis,
    bySize: pubsub.map((p) => publisherOnly(p, p.grpc.later.bytes)),
    note: 'nghttp2 never indexes the authorization header, so the token is re-sent (Huffman-coded) on every call',
  });
  const http2Step = 'HTTP/2 preface + SETTINGS exchange (before TLS is counted: it is not)';
  out.setup.push({
    id: 'pubsub-http2',
    system: 'Cloud Pub/Sub',
    step: http2Step,
    bytes: pubsub[0]!.grpc.setup.bytes,
    provenance: 'computed',
    basis: 'nghttp2 via Node http2',
  });
  const kafkaBasis = 'not computed here (depends on cluster size and topic count)';
  out.setup.push({
    id: 'kafka-metadata',
    system: 'Kafka',
    step: 'ApiVersions + Metadata before producing',
    bytes: null,
    provenance: 'not measured',
    basis: kafkaBasis,
  });
}

/** The id of an MQTT setup step, e.g. `mqtt-5.0-connect-publisher`. */
function mqttSetupId(s: MqttSetupCost): SetupRowId {
  return `mqtt-${s.version}-${MQTT_SETUP_IDS[s.step]}-${s.side}`;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
