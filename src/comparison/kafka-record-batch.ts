/**
 * Kafka's wire format, encoded here from the protocol specification (kafka.apache.org/protocol and
 * /documentation/#recordbatch, and the message definitions in clients/src/main/resources/common/message/
 * *.json), to compute exactly how many bytes a message costs in Kafka. No Kafka broker is involved.
 *
 * RecordBatch v2 (magic 2), the on-disk and on-the-wire format since Kafka 0.11:
 *   baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 (2) | crc uint32 |
 *   attributes int16 | lastOffsetDelta int32 | baseTimestamp int64 | maxTimestamp int64 | producerId int64 |
 *   producerEpoch int16 | baseSequence int32 | records count int32 | records…
 * batchLength counts the bytes after itself; crc is CRC-32C (Castagnoli) of attributes … end.
 * Record: length varint | attributes int8 | timestampDelta varlong | offsetDelta varint | keyLength varint |
 *   key | valueLength varint | value | headers count varint | headers… (varints are zigzag, like protobuf sint).
 */

/** Bytes of a RecordBatch v2 before its first record. */
export const RECORD_BATCH_HEADER_BYTES = 61;

// ── CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as Kafka's Crc32C ─────────────────────────────
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C of `data` (check value: crc32c("123456789") = 0xE3069283). */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// ── Primitive types (protocol guide, "Protocol Primitive Types") ─────────────────────────────────────────
/** A growable big-endian writer for Kafka's primitive types. */
export class KafkaWriter {
  private readonly parts: Buffer[] = [];

  int8(v: number): this {
    const b = Buffer.alloc(1);
    b.writeInt8(v);
    return this.raw(b);
  }
  int16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    return this.raw(b);
  }
  int32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    return this.raw(b);
  }
  uint32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    return this.raw(b);
  }
  int64(v: bigint | number): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(BigInt(v));
    return this.raw(b);
  }
  /** UNSIGNED_VARINT: 7 bits a byte, low bits first. */
  uvarint(v: number): this {
    const bytes: number[] = [];
    let n = v >>> 0;
    while (n >= 0x80) {
      bytes.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    bytes.push(n);
    return this.raw(Buffer.from(bytes));
  }
  /** VARINT / VARLONG: zigzag then unsigned varint (values here fit 32 bits). */
  varint(v: number): this {
    return this.uvarint(((v << 1) ^ (v >> 31)) >>> 0);
  }
  /** STRING / NULLABLE_STRING: int16 length (-1 for null) + UTF-8. */
  string(v: string | null): this {
    if (v === null) return this.int16(-1);
    const b = Buffer.from(v, 'utf8');
    return this.int16(b.length).raw(b);
  }
  /** COMPACT_(NULLABLE_)STRING: unsigned varint length+1 (0 for null) + UTF-8. */
  compactString(v: string | null): this {
    if (v === null) return this.uvarint(0);
    const b = Buffer.from(v, 'utf8');
    return this.uvarint(b.length + 1).raw(b);
  }
  /** BYTES / RECORDS in non-flexible versions: int32 length + bytes (-1 for null). */
  bytes(v: Buffer | null): this {
    if (v === null) return this.int32(-1);
    return this.int32(v.length).raw(v);
  }
  /** COMPACT_(NULLABLE_)BYTES / COMPACT_RECORDS: unsigned varint length+1 + bytes. */
  compactBytes(v: Buffer | null): this {
    if (v === null) return this.uvarint(0);
    return this.uvarint(v.length + 1).raw(v);
  }
  /** Array length: int32 in non-flexible versions, unsigned varint n+1 (0 = null) in flexible ones. */
  arrayLength(n: number | null, flexible: boolean): this {
    if (flexible) return this.uvarint(n === null ? 0 : n + 1);
    return this.int32(n === null ? -1 : n);
  }
  /** An empty tagged-field section (flexible versions only). */
  taggedFields(flexible: boolean): this {
    return flexible ? this.uvarint(0) : this;
  }
  str(v: string | null, flexible: boolean): this {
    return flexible ? this.compactString(v) : this.string(v);
  }
  records(v: Buffer | null, flexible: boolean): this {
    return flexible ? this.compactBytes(v) : this.bytes(v);
  }
  raw(b: Uint8Array): this {
    this.parts.push(Buffer.from(b));
    return this;
  }
  get size(): number {
    return this.parts.reduce((n, p) => n + p.length, 0);
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

// ── Records and batches ─────────────────────────────────────────────────────────────────────────────────
export interface KafkaRecord {
  key: Buffer | null;
  value: Buffer | null;
  /** Milliseconds after the batch's base timestamp. */
  timestampDelta: number;
  /** Offset after the batch's base offset. */
  offsetDelta: number;
  headers?: Array<{ key: string; value: Buffer | null }>;
}

/** One Record (inside a RecordBatch v2), length prefix included. */
export function encodeRecord(record: KafkaRecord): Buffer {
  const body = new KafkaWriter()
    .int8(0) // attributes: unused
    .varint(record.timestampDelta)
    .varint(record.offsetDelta);
  if (record.key === null) body.varint(-1);
  else body.varint(record.key.length).raw(record.key);
  if (record.value === null) body.varint(-1);
  else body.varint(record.value.length).raw(record.value);
  const headers = record.headers ?? [];
  body.varint(headers.length);
  for (const h of headers) {
    const k = Buffer.from(h.key, 'utf8');
    body.varint(k.length).raw(k);
    if (h.value === null) body.varint(-1);
    else body.varint(h.value.length).raw(h.value);
  }
  const encoded = body.toBuffer();
  return new KafkaWriter().varint(encoded.length).raw(encoded).toBuffer();
}

export interface RecordBatchOptions {
  baseOffset?: bigint;
  partitionLeaderEpoch?: number;
  /** Compression, timestamp type, transactional, control bits; 0 = uncompressed, CreateTime. */
  attributes?: number;
  baseTimestamp: bigint;
  /** -1 / -1 / -1 for a producer that is not idempotent (the Java client's values). */
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
  records: KafkaRecord[];
}

/** A RecordBatch v2, CRC-32C included. */
export function encodeRecordBatch(options: RecordBatchOptions): Buffer {
  const records = options.records.map(encodeRecord);
  const maxDelta = Math.max(0, ...options.records.map((r) => r.timestampDelta));
  const lastOffsetDelta = Math.max(0, ...options.records.map((r) => r.offsetDelta));
  const crcScope = new KafkaWriter()
    .int16(options.attributes ?? 0)
    .int32(lastOffsetDelta)
    .int64(options.baseTimestamp)
    .int64(options.baseTimestamp + BigInt(maxDelta))
    .int64(options.producerId ?? -1n)
    .int16(options.producerEpoch ?? -1)
    .int32(options.baseSequence ?? -1)
    .int32(records.length);
  for (const r of records) crcScope.raw(r);
  const crcBytes = crcScope.toBuffer();
  const afterLength = new KafkaWriter()
    .int32(options.partitionLeaderEpoch ?? -1)
    .int8(2) // magic
    .uint32(crc32c(crcBytes))
    .raw(crcBytes)
    .toBuffer();
  return new KafkaWriter()
    .int64(options.baseOffset ?? 0n)
    .int32(afterLength.length)
    .raw(afterLength)
    .toBuffer();
}

/** The sample message's records: `count` equal values, 1 ms apart, null keys (no headers, no compression). */
export function sampleRecords(value: Buffer, count: number): KafkaRecord[] {
  return Array.from({ length: count }, (_, i) => ({ key: null, value, timestampDelta: i, offsetDelta: i }));
}

// ── Requests and responses (size-prefixed, with their headers) ──────────────────────────────────────────
/** Produce v7 (Kafka 2.1+, non-flexible) or v9 (Kafka 2.8+, flexible: compact lengths and tagged fields). */
export type ProduceVersion = 7 | 9;
/** Fetch v11 (Kafka 2.3+, non-flexible) or v12 (Kafka 2.7+, flexible). */
export type FetchVersion = 11 | 12;

const API_KEY = { Produce: 0, Fetch: 1 } as const;

/** Size prefix + request header (v1 non-flexible, v2 flexible: client_id stays a non-compact string) + body. */
function request(apiKey: number, version: number, flexible: boolean, correlationId: number, clientId: string | null, body: Buffer): Buffer {
  const header = new KafkaWriter().int16(apiKey).int16(version).int32(correlationId).string(clientId).taggedFields(flexible).toBuffer();
  return new KafkaWriter().int32(header.length + body.length).raw(header).raw(body).toBuffer();
}

/** Size prefix + response header (v0: correlation id; v1 adds tagged fields) + body. */
function response(flexible: boolean, correlationId: number, body: Buffer): Buffer {
  const header = new KafkaWriter().int32(correlationId).taggedFields(flexible).toBuffer();
  return new KafkaWriter().int32(header.length + body.length).raw(header).raw(body).toBuffer();
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
export function encodeProduceResponse(o: { version: ProduceVersion; correlationId: number; topic: string; partition: number; baseOffset: bigint }): Buffer {
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
export function encodeFetchRequest(o: { version: FetchVersion; correlationId: number; clientId: string | null; topic: string; partition: number; fetchOffset: bigint }): Buffer {
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
export function encodeFetchResponse(o: { version: FetchVersion; correlationId: number; topic: string; partition: number; highWatermark: bigint; batch: Buffer }): Buffer {
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
export function kafkaBatchCost(payload: Buffer, batchSize: number, produceVersion: ProduceVersion = 9, fetchVersion: FetchVersion = 12): KafkaBatchCost {
  const records = sampleRecords(payload, batchSize);
  const batch = encodeRecordBatch({ baseTimestamp: KAFKA_SAMPLE.baseTimestamp, records });
  const { topic } = KAFKA_SAMPLE;
  const produceRequest = encodeProduceRequest({ version: produceVersion, correlationId: 1, clientId: KAFKA_SAMPLE.producerClientId, acks: 1, timeoutMs: 30_000, topic, partition: 0, batch }).length;
  const produceResponse = encodeProduceResponse({ version: produceVersion, correlationId: 1, topic, partition: 0, baseOffset: 0n }).length;
  const fetchRequest = encodeFetchRequest({ version: fetchVersion, correlationId: 1, clientId: KAFKA_SAMPLE.consumerClientId, topic, partition: 0, fetchOffset: 0n }).length;
  const fetchResponse = encodeFetchResponse({ version: fetchVersion, correlationId: 1, topic, partition: 0, highWatermark: BigInt(batchSize), batch }).length;
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
