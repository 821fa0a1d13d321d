import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import {
  crc32c,
  encodeRecord,
  encodeRecordBatch,
  RECORD_BATCH_HEADER_BYTES,
  sampleRecords,
} from '../../src/comparison/kafka-record-batch.js';
import {
  encodeFetchRequest,
  encodeFetchResponse,
  encodeProduceRequest,
  encodeProduceResponse,
  kafkaBatchCost,
  KAFKA_SAMPLE,
} from '../../src/comparison/kafka-requests.js';
import { samplePayload } from '../../src/comparison/model.js';

/** CRC-32C the slow way, bit by bit from the polynomial (Castagnoli, reflected 0x82F63B78): independent of the table. */
function crc32cBitwise(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

const payload16 = samplePayload(16);
const BASE_TS = KAFKA_SAMPLE.baseTimestamp;

test('CRC-32C has the standard check value 0xE3069283 for "123456789" (RFC 3720 B.4 / Kafka Crc32C)', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  // 32 bytes of zeros: 0x8A9136AA (RFC 3720 appendix B.4 test vector).
  assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
});

test('a record with a null key and a 16-byte value is 23 bytes, worked out from the Record v2 layout', () => {
  const record = encodeRecord({ key: null, value: payload16, timestampDelta: 0, offsetDelta: 0 });
  // length varint: body is 22 bytes → zigzag 44 = 0x2c (1 byte)
  // attributes int8 0 | timestampDelta varint 0 → 0x00 | offsetDelta 0 → 0x00
  // key length -1 → zigzag 1 = 0x01 (null key) | value length 16 → zigzag 32 = 0x20 | value (16) | headers count 0 → 0x00
  assert.deepEqual([...record.subarray(0, 6)], [0x2c, 0x00, 0x00, 0x00, 0x01, 0x20]);
  assert.deepEqual(record.subarray(6, 22), payload16);
  assert.equal(record[22], 0x00);
  assert.equal(record.length, 23);
  // Offset/timestamp deltas of 64 need two varint bytes (zigzag 128 = 0x80 0x01).
  assert.equal(encodeRecord({ key: null, value: payload16, timestampDelta: 64, offsetDelta: 64 }).length, 25);
});

test('RecordBatch v2 of one 16-byte record: 61-byte header + 23-byte record = 84 bytes, CRC-32C over attributes..end', () => {
  const batch = encodeRecordBatch({ baseTimestamp: BASE_TS, records: sampleRecords(payload16, 1) });
  assert.equal(RECORD_BATCH_HEADER_BYTES, 8 + 4 + 4 + 1 + 4 + 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4); // = 61
  assert.equal(batch.length, 84);
  assert.equal(batch.readBigInt64BE(0), 0n, 'baseOffset');
  assert.equal(batch.readInt32BE(8), 84 - 12, 'batchLength counts the bytes after itself');
  assert.equal(batch.readInt32BE(12), -1, 'partitionLeaderEpoch (-1: none, as producers send it)');
  assert.equal(batch.readInt8(16), 2, 'magic 2');
  assert.equal(batch.readInt16BE(21), 0, 'attributes: no compression, CreateTime');
  assert.equal(batch.readInt32BE(23), 0, 'lastOffsetDelta');
  assert.equal(batch.readBigInt64BE(27), BASE_TS, 'baseTimestamp');
  assert.equal(batch.readBigInt64BE(35), BASE_TS, 'maxTimestamp');
  assert.equal(batch.readBigInt64BE(43), -1n, 'producerId (not idempotent)');
  assert.equal(batch.readInt16BE(51), -1, 'producerEpoch');
  assert.equal(batch.readInt32BE(53), -1, 'baseSequence');
  assert.equal(batch.readInt32BE(57), 1, 'records count');
  // The CRC field (offset 17) is CRC-32C of everything from attributes (offset 21) to the end.
  const crc = batch.readUInt32BE(17);
  assert.equal(crc, crc32cBitwise(batch.subarray(21)));
  // Pinned: the whole batch. The CRC 0x36e78eae was computed by the bitwise reference above, and kafkajs encodes
  // the same bytes (next test); every other byte is the layout just checked field by field.
  assert.equal(crc, 0x36e78eae);
  assert.equal(
    batch.toString('hex'),
    '0000000000000000' +
      '00000048' +
      'ffffffff' +
      '02' +
      '36e78eae' +
      '0000' +
      '00000000' +
      '0000018bcfe56800' +
      '0000018bcfe56800' +
      'ffffffffffffffff' +
      'ffff' +
      'ffffffff' +
      '00000001' +
      '2c000000' +
      '0120' +
      payload16.toString('hex') +
      '00',
  );
});

test('our RecordBatch and Produce v7 request are byte-for-byte what kafkajs (an independent Kafka client) encodes', async () => {
  const require = createRequire(import.meta.url);
  // kafkajs has no types for its internals; these are its protocol encoders.
  const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch: (o: object) => Promise<{ buffer: Buffer }> };
  const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (o: object) => unknown;
  const Long = require('kafkajs/src/utils/long') as { fromValue: (v: number | string) => unknown; fromInt: (v: number) => unknown };
  const produceV7 = require('kafkajs/src/protocol/requests/produce/v7/request') as (o: object) => { encode: () => Promise<unknown> };
  const request = require('kafkajs/src/protocol/request') as (o: object) => Promise<{ buffer: Buffer }>;

  for (const count of [1, 10, 100]) {
    const records = sampleRecords(payload16, count);
    const ours = encodeRecordBatch({ baseTimestamp: BASE_TS, partitionLeaderEpoch: 0, records });
    const theirs = await RecordBatch({
      firstOffset: Long.fromInt(0),
      firstTimestamp: Number(BASE_TS),
      maxTimestamp: Number(BASE_TS) + count - 1,
      partitionLeaderEpoch: 0,
      lastOffsetDelta: count - 1,
      producerId: Long.fromValue(-1),
      producerEpoch: -1,
      firstSequence: -1,
      records: records.map((r) => Record({ key: null, value: r.value, offsetDelta: r.offsetDelta, timestampDelta: r.timestampDelta })),
    });
    assert.deepEqual(ours, theirs.buffer, `batch of ${count}`);
  }

  // A whole Produce v7 request (size prefix, header v1, body) for one message.
  const batch = encodeRecordBatch({ baseTimestamp: BASE_TS, partitionLeaderEpoch: 0, records: sampleRecords(payload16, 1) });
  const ours = encodeProduceRequest({
    version: 7,
    correlationId: 7,
    clientId: 'room1-sensor',
    acks: 1,
    timeoutMs: 30000,
    topic: KAFKA_SAMPLE.topic,
    partition: 0,
    batch,
  });
  const theirs = await request({
    correlationId: 7,
    clientId: 'room1-sensor',
    request: produceV7({
      acks: 1,
      timeout: 30000,
      producerId: Long.fromValue(-1),
      producerEpoch: -1,
      topicData: [
        {
          topic: KAFKA_SAMPLE.topic,
          partitions: [{ partition: 0, firstSequence: -1, messages: [{ key: null, value: payload16, timestamp: Number(BASE_TS) }] }],
        },
      ],
    }),
  });
  assert.deepEqual(ours, theirs.buffer);
});

test('Produce v9 request for one 16-byte message is 154 bytes, worked out field by field', () => {
  const batch = encodeRecordBatch({ baseTimestamp: BASE_TS, records: sampleRecords(payload16, 1) });
  const bytes = encodeProduceRequest({
    version: 9,
    correlationId: 1,
    clientId: 'room1-sensor',
    acks: 1,
    timeoutMs: 30000,
    topic: KAFKA_SAMPLE.topic,
    partition: 0,
    batch,
  });
  // size 4 | header v2: api_key 2 + api_version 2 + correlation_id 4 + client_id (int16 len + 12) 14 + tagged 1 = 23
  // body: transactional_id null (compact) 1 + acks 2 + timeout 4 + topics count 1 + name (1 + 25) 26
  //       + partitions count 1 + index 4 + records (uvarint 85 → 1 + 84) 85 + tagged 1 + tagged 1 + tagged 1 = 127
  assert.equal(bytes.length, 4 + 23 + 127);
  assert.equal(bytes.readInt32BE(0), bytes.length - 4);
  assert.equal(bytes.readInt16BE(4), 0, 'api key Produce');
  assert.equal(bytes.readInt16BE(6), 9);
  // Produce response v9 (acks=1): size 4 + header v1 5 + [1 + name 26 + 1 + index 4 + error 2 + base_offset 8
  //   + log_append_time 8 + log_start 8 + record_errors 1 + error_message 1 + tagged 1 + tagged 1] + throttle 4 + tagged 1 = 76
  assert.equal(encodeProduceResponse({ version: 9, correlationId: 1, topic: KAFKA_SAMPLE.topic, partition: 0, baseOffset: 0n }).length, 76);
});

test('Fetch v12 request is 118 bytes and the Fetch v12 response carrying the batch is 170 bytes', () => {
  // Request: size 4 + header v2 (2+2+4 + 2+13 "room1-display" + 1) 24 + body: replica 4, max_wait 4, min_bytes 4,
  // max_bytes 4, isolation 1, session_id 4, session_epoch 4, topics 1, name 26, partitions 1, partition 4,
  // current_leader_epoch 4, fetch_offset 8, last_fetched_epoch 4, log_start_offset 8, partition_max_bytes 4,
  // tagged 1, tagged 1, forgotten 1, rack_id "" 1, tagged 1 = 90
  assert.equal(
    encodeFetchRequest({
      version: 12,
      correlationId: 1,
      clientId: 'room1-display',
      topic: KAFKA_SAMPLE.topic,
      partition: 0,
      fetchOffset: 0n,
    }).length,
    4 + 24 + 90,
  );
  const batch = encodeRecordBatch({ baseTimestamp: BASE_TS, records: sampleRecords(payload16, 1) });
  // Response: size 4 + header v1 5 + throttle 4, error 2, session 4, topics 1, name 26, partitions 1, index 4,
  // error 2, high_watermark 8, last_stable 8, log_start 8, aborted (null) 1, preferred_replica 4,
  // records (1 + 84) 85, tagged ×3 3 = 161
  assert.equal(
    encodeFetchResponse({ version: 12, correlationId: 1, topic: KAFKA_SAMPLE.topic, partition: 0, highWatermark: 1n, batch }).length,
    4 + 5 + 161,
  );
});

test('per-message cost falls with batching: 1 → 10 → 100 records per batch', () => {
  const costs = [1, 10, 100].map((n) => kafkaBatchCost(payload16, n));
  assert.deepEqual(
    costs.map((c) => c.total),
    [518, 934, 5218],
  );
  // batch of 10: RecordBatch = 61 + 10 × 23 = 291 (all deltas < 64 fit one varint byte)
  assert.equal(costs[1]!.recordBatch, 291);
  // batch of 100: deltas 64..99 take 2 bytes each for offsetDelta and timestampDelta: 61 + 64×23 + 36×25 = 2433
  assert.equal(costs[2]!.recordBatch, 2433);
  assert.ok(costs[0]!.overheadPerMessage > costs[1]!.overheadPerMessage && costs[1]!.overheadPerMessage > costs[2]!.overheadPerMessage);
  assert.equal(costs[2]!.perMessage, 52.2);
});
