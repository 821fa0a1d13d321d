import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Framer,
  INCOMPLETE,
  isFailure,
  MALFORMED,
  packetEnd,
  readVariableByteInteger,
  ReasonCode,
  variableByteIntegerSize,
  writeVariableByteInteger,
  type FramingError,
} from '../../src/protocol/index.js';

/** A PUBLISH (QoS 0, MQTT 3.1.1) with a body of `size` bytes after the topic. */
function publishFrame(topic: string, size: number, fill = 0x61): Buffer {
  const topicBytes = Buffer.from(topic);
  const remaining = 2 + topicBytes.length + size;
  const header = Buffer.alloc(1 + variableByteIntegerSize(remaining));
  header[0] = 0x30;
  writeVariableByteInteger(header, 1, remaining);
  const body = Buffer.alloc(remaining, fill);
  body.writeUInt16BE(topicBytes.length, 0);
  topicBytes.copy(body, 2);
  return Buffer.concat([header, body]);
}

function collect(maximum = 1 << 28): { framer: Framer; frames: Buffer[]; errors: FramingError[] } {
  const frames: Buffer[] = [];
  const errors: FramingError[] = [];
  const framer = new Framer(
    maximum,
    (f) => frames.push(Buffer.from(f)),
    (e) => errors.push(e),
  );
  return { framer, frames, errors };
}

describe('Variable Byte Integer (MQTT 5.0 §1.5.5)', () => {
  test('round-trips the boundaries of each size', () => {
    for (const n of [0, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455]) {
      const buf = Buffer.alloc(4);
      const end = writeVariableByteInteger(buf, 0, n);
      assert.equal(end, variableByteIntegerSize(n));
      assert.deepEqual(readVariableByteInteger(buf, 0), { value: n, next: end });
    }
  });

  test('a fifth byte is malformed [MQTT-1.5.5-1]; a cut one is incomplete', () => {
    assert.equal(packetEnd(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), 0), MALFORMED);
    assert.equal(packetEnd(Buffer.from([0x30, 0xff, 0xff]), 0), INCOMPLETE);
    assert.equal(readVariableByteInteger(Buffer.from([0x80, 0x80, 0x80, 0x80]), 0), undefined);
  });
});

describe('reason codes', () => {
  test('0x80 and above are failures (MQTT 5.0 §2.4)', () => {
    assert.equal(isFailure(ReasonCode.GrantedQoS2), false);
    assert.equal(isFailure(ReasonCode.NoMatchingSubscribers), false);
    assert.equal(isFailure(ReasonCode.UnspecifiedError), true);
    assert.equal(isFailure(ReasonCode.TopicNameInvalid), true);
  });
});

describe('Framer', () => {
  test('splits packets that arrive one byte at a time, and several in one chunk', () => {
    const a = publishFrame('a/b', 3);
    const b = publishFrame('c', 200);
    const { framer, frames, errors } = collect();
    for (const byte of Buffer.concat([a, b])) framer.push(Buffer.from([byte]));
    framer.push(Buffer.concat([a, b, a]));
    assert.deepEqual(errors, []);
    assert.deepEqual(frames, [a, b, a, b, a]);
    assert.equal(framer.bufferedBytes, 0);
  });

  test('a packet in many chunks is copied once: work is linear in its size', () => {
    const big = publishFrame('big', 8 * 1024 * 1024);
    const { framer, frames } = collect();
    const concat = Buffer.concat;
    let copied = 0;
    Buffer.concat = ((list: readonly Uint8Array[], length?: number) => {
      const out = concat(list, length);
      copied += out.length;
      return out;
    }) as typeof Buffer.concat;
    try {
      for (let at = 0; at < big.length; at += 1024) framer.push(big.subarray(at, at + 1024));
    } finally {
      Buffer.concat = concat;
    }
    assert.equal(frames.length, 1);
    assert.ok(frames[0]!.equals(big));
    // One copy of the packet, plus at most a few header bytes joined while the fixed header was incomplete.
    assert.ok(copied <= big.length + 1024, `copied ${copied} bytes for a ${big.length}-byte packet`);
  });

  test('refuses a packet over the maximum from its header, before buffering its body', () => {
    const { framer, frames, errors } = collect(1000);
    framer.push(publishFrame('t', 2000).subarray(0, 10));
    assert.deepEqual(errors, ['packet-too-large']);
    assert.equal(frames.length, 0);
    assert.equal(framer.bufferedBytes, 0);
  });
});
