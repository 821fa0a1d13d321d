/**
 * Kafka's Produce and Fetch requests and responses around a RecordBatch v2 (kafka-record-batch.ts), encoded from
 * the protocol guide and the message definitions, and what producing and fetching the sample costs in bytes.
 */
import { encodeRecord, encodeRecordBatch, KafkaWriter, sampleRecords } from './kafka-record-batch.js';

// ── Requests and responses (size-prefixed, with their headers) ──────────────────────────────────────────
/** Produce v7 (Kafka 2.1+, non-flexible) or v9 (Kafka 2.8+, flexible: compact lengths and tagged fields). */
export type ProduceVersion = 7 | 9;
/** Fetch v11 (Kafka 2.3+, non-flexible) or v12 (Kafka 2.7+, flexible). */
export type FetchVersion = 11 | 12;

const API_KEY = { Produce: 0, Fetch: 1 } as const;

/** Size prefix + request header (v1 non-flexible, v2 flexible: client_id stays a non-compact string) + body. */
function request(apiKey: number, version: number, flexible: boolean, correlationId: number, clientId: string | null, body: Buffer): Buffer {
  const header = new KafkaWriter().int16(apiKey).int16(version).int32(correlationId).string(clientId).taggedFields(flexible).toBuffer();
  return new KafkaWriter()
    .int32(header.length + body.length)
    .raw(header)
    .raw(body)
    .toBuffer();
}

/** Size prefix + response header (v0: correlation id; v1 adds tagged fields) + body. */
function response(flexible: boolean, correlationId: number, body: Buffer): Buffer {
  const header = new KafkaWriter().int32(correlationId).taggedFields(flexible).toBuffer();
  return new KafkaWriter()
    .int32(header.length + body.length)
    .raw(header)
    .raw(body)
    .toBuffer();
}

export interface ProduceRequestOptions {
  version: ProduceVersion;
  correlationId: number;
  clientId: string | null;
  transactionalId?: string | null;
  /** 0, 1 or -1 (all). */
  acks: number;
  timeoutMs: number;
  topic: string;
  partition: number;
  batch: Buffer;
}

/** ProduceRequest: transactional_id, acks, timeout_ms, [topic [partition records]]. */
export function encodeProduceRequest(o: ProduceRequestOptions): Buffer {
  const flexible = o.version >= 9;
  const w = new KafkaWriter()
    .str(o.transactionalId ?? null, flexible)
    .int16(o.acks)
    .int32(o.timeoutMs)
    .arrayLength(1, flexible)
    .str(o.topic, flexible)
    .arrayLength(1, flexible)
    .int32(o.partition)
    .records(o.batch, flexible)
    .taggedFields(flexible)
    .taggedFields(flexible)
    .taggedFields(flexible);
  return request(API_KEY.Produce, o.version, flexible, o.correlationId, o.clientId, w.toBuffer());
}

/** ProduceResponse (acks 1 or all): per partition error, base offset, log append time, log start offset, errors. */
export function encodeProduceResponse(o: {
  version: ProduceVersion;
  correlationId: number;
  topic: string;
  partition: number;
  baseOffset: bigint;
}): Buffer {
  const flexible = o.version >= 9;
  const w = new KafkaWriter()
    .arrayLength(1, flexible)
    .str(o.topic, flexible)
    .arrayLength(1, flexible)
    .int32(o.partition)
    .int16(0) // error_code
    .int64(o.baseOffset)
    .int64(-1) // log_append_time_ms: -1 with CreateTime
    .int64(0) // log_start_offset
    .arrayLength(0, flexible) // record_errors (v8+)
    .str(null, flexible) // error_message (v8+)
    .taggedFields(flexible)
    .taggedFields(flexible)
    .int32(0) // throttle_time_ms
    .taggedFields(flexible);
  return response(flexible, o.correlationId, w.toBuffer());
}

/** FetchRequest for one partition (a full request; incremental fetch sessions, KIP-227, can send less). */
export function encodeFetchRequest(o: {
  version: FetchVersion;
  correlationId: number;
  clientId: string | null;
  topic: string;
  partition: number;
  fetchOffset: bigint;
}): Buffer {
  const flexible = o.version >= 12;
  const w = new KafkaWriter()
    .int32(-1) // replica_id: -1 for consumers
    .int32(500) // max_wait_ms (consumer fetch.max.wait.ms default)
    .int32(1) // min_bytes (fetch.min.bytes default)
    .int32(52_428_800) // max_bytes (fetch.max.bytes default)
    .int8(0) // isolation_level: read_uncommitted
    .int32(0) // session_id
    .int32(-1) // session_epoch: -1 = no fetch session
    .arrayLength(1, flexible)
    .str(o.topic, flexible)
    .arrayLength(1, flexible)
    .int32(o.partition)
    .int32(-1) // current_leader_epoch (v9+)
    .int64(o.fetchOffset);
  if (flexible) w.int32(-1); // last_fetched_epoch (v12+)
  w.int64(-1) // log_start_offset (v5+)
    .int32(1_048_576) // partition_max_bytes (max.partition.fetch.bytes default)
    .taggedFields(flexible)
    .taggedFields(flexible)
    .arrayLength(0, flexible) // forgotten_topics_data (v7+)
    .str('', flexible) // rack_id (v11+)
    .taggedFields(flexible);
  return request(API_KEY.Fetch, o.version, flexible, o.correlationId, o.clientId, w.toBuffer());
}

/** FetchResponse carrying one partition's records (the batch as the producer sent it). */
export function encodeFetchResponse(o: {
  version: FetchVersion;
  correlationId: number;
  topic: string;
  partition: number;
  highWatermark: bigint;
  batch: Buffer;
}): Buffer {
  const flexible = o.version >= 12;
  const w = new KafkaWriter()
    .int32(0) // throttle_time_ms
    .int16(0) // error_code
    .int32(0) // session_id
    .arrayLength(1, flexible)
    .str(o.topic, flexible)
    .arrayLength(1, flexible)
    .int32(o.partition)
    .int16(0) // error_code
    .int64(o.highWatermark)
    .int64(o.highWatermark) // last_stable_offset (v4+)
    .int64(0) // log_start_offset (v5+)
    .arrayLength(null, flexible) // aborted_transactions (v4+): null
    .int32(-1) // preferred_read_replica (v11+)
    .records(o.batch, flexible)
    .taggedFields(flexible)
    .taggedFields(flexible)
    .taggedFields(flexible);
  return response(flexible, o.correlationId, w.toBuffer());
}

// ── The comparison's figures ────────────────────────────────────────────────────────────────────────────
export interface KafkaBatchCost {
  /** Messages in the one RecordBatch of the Produce request. */
  batchSize: number;
  payloadBytes: number;
  produceVersion: ProduceVersion;
  fetchVersion: FetchVersion;
  recordBatch: number;
  /** Size of one record in it (the first; later ones can be a byte longer as deltas grow). */
  firstRecord: number;
  produceRequest: number;
  produceResponse: number;
  fetchRequest: number;
  fetchResponse: number;
  /** Producer side (request + response) plus consumer side (fetch request + response). */
  total: number;
  perMessage: number;
  /** Per message, minus the payload counted twice (once produced, once fetched). */
  overheadPerMessage: number;
}

/** Fixed inputs so the figures are reproducible. */
export const KAFKA_SAMPLE = {
  /** Kafka topic names allow [a-zA-Z0-9._-]: the MQTT topic with dots, the same length. */
  topic: 'sensors.temperature.room1',
  producerClientId: 'room1-sensor',
  consumerClientId: 'room1-display',
  baseTimestamp: 1_700_000_000_000n,
} as const;

/** Computes the bytes of producing `batchSize` sample messages in one batch (acks=1) and fetching them. */
export function kafkaBatchCost(
  payload: Buffer,
  batchSize: number,
  produceVersion: ProduceVersion = 9,
  fetchVersion: FetchVersion = 12,
): KafkaBatchCost {
  const records = sampleRecords(payload, batchSize);
  const batch = encodeRecordBatch({ baseTimestamp: KAFKA_SAMPLE.baseTimestamp, records });
  const { topic } = KAFKA_SAMPLE;
  const produceRequest = encodeProduceRequest({
    version: produceVersion,
    correlationId: 1,
    clientId: KAFKA_SAMPLE.producerClientId,
    acks: 1,
    timeoutMs: 30_000,
    topic,
    partition: 0,
    batch,
  }).length;
  const produceResponse = encodeProduceResponse({ version: produceVersion, correlationId: 1, topic, partition: 0, baseOffset: 0n }).length;
  const fetchRequest = encodeFetchRequest({
    version: fetchVersion,
    correlationId: 1,
    clientId: KAFKA_SAMPLE.consumerClientId,
    topic,
    partition: 0,
    fetchOffset: 0n,
  }).length;
  const fetchResponse = encodeFetchResponse({
    version: fetchVersion,
    correlationId: 1,
    topic,
    partition: 0,
    highWatermark: BigInt(batchSize),
    batch,
  }).length;
  const total = produceRequest + produceResponse + fetchRequest + fetchResponse;
  return {
    batchSize,
    payloadBytes: payload.length,
    produceVersion,
    fetchVersion,
    recordBatch: batch.length,
    firstRecord: encodeRecord(records[0]!).length,
    produceRequest,
    produceResponse,
    fetchRequest,
    fetchResponse,
    total,
    perMessage: Math.round((total / batchSize) * 10) / 10,
    overheadPerMessage: Math.round(((total - 2 * batchSize * payload.length) / batchSize) * 10) / 10,
  };
}
