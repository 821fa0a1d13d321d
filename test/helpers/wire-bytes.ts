import { variableByteIntegerSize, writeVariableByteInteger } from '../../src/protocol/index.js';

/**
 * Hand-written MQTT bytes for tests whose packets no encoder would produce (malformed packets, the
 * fuzzer): the primitives of MQTT 5.0 §1.5 and a packet around them.
 */

/** Two-byte big-endian integer (MQTT 5.0 §1.5.2). */
export const u16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff]);

/** UTF-8 Encoded String: 2-byte length then the bytes (§1.5.4); a Buffer is taken as raw bytes. */
export const str = (s: string | Buffer): Buffer => {
  const bytes = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return Buffer.concat([u16(bytes.length), bytes]);
};

/** Variable Byte Integer (§1.5.5). */
export function varint(n: number): Buffer {
  const out = Buffer.alloc(variableByteIntegerSize(n));
  writeVariableByteInteger(out, 0, n);
  return out;
}

/** A property block: Property Length then the properties (§2.2.2). */
export const props = (...parts: Array<Buffer | number[]>): Buffer => {
  const body = Buffer.concat(parts.map((b) => Buffer.from(b)));
  return Buffer.concat([varint(body.length), body]);
};

/** A packet: first byte (type and flags), Remaining Length computed from the parts, then the parts. */
export function pkt(first: number, ...parts: Array<Buffer | number[]>): Buffer {
  const body = Buffer.concat(parts.map((p) => Buffer.from(p)));
  return Buffer.concat([Buffer.from([first]), varint(body.length), body]);
}
