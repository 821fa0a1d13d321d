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
