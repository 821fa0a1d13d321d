import { isUtf8 } from 'node:buffer';
import { PacketType, readVariableByteInteger } from '../protocol/index.js';

/** How each property's value is encoded (MQTT 5.0 §2.2.2.2), by property identifier. */
type ValueType = 'byte' | 'u16' | 'u32' | 'varint' | 'string' | 'binary' | 'pair';

const PROPERTY_TYPES: ReadonlyMap<number, ValueType> = new Map<number, ValueType>([
  [0x01, 'byte'],
  [0x02, 'u32'],
  [0x03, 'string'],
  [0x08, 'string'],
  [0x09, 'binary'],
  [0x0b, 'varint'],
  [0x11, 'u32'],
  [0x12, 'string'],
  [0x13, 'u16'],
  [0x15, 'string'],
  [0x16, 'binary'],
  [0x17, 'byte'],
  [0x18, 'u32'],
  [0x19, 'byte'],
  [0x1a, 'string'],
  [0x1c, 'string'],
  [0x1f, 'string'],
  [0x21, 'u16'],
  [0x22, 'u16'],
  [0x23, 'u16'],
  [0x24, 'byte'],
  [0x25, 'byte'],
  [0x26, 'pair'],
  [0x27, 'u32'],
  [0x28, 'byte'],
  [0x29, 'byte'],
  [0x2a, 'byte'],
]);

/** User Property is the one property a packet may repeat ("allowed to appear multiple times", e.g. MQTT 5.0 §3.3.2.3.7). */
const USER_PROPERTY = 0x26;

/** Offsets of the property blocks (their Property Length) of an MQTT 5 frame, by packet type (MQTT 5.0 §3). */
function propertyBlockOffsets(frame: Buffer): number[] {
  const header = readVariableByteInteger(frame, 1);
  if (!header) return [];
  const start = header.next;
  const bodyLength = frame.length - start;
  const u16At = (i: number) => (i + 2 <= frame.length ? frame.readUInt16BE(i) : undefined);
  const type = frame[0]! >> 4;
  switch (type) {
    case PacketType.CONNECT: {
      // CONNECT: protocol name, level, flags, keep alive, properties; then the client id and, with the Will Flag, will properties.
      const nameLength = u16At(start);
      if (nameLength === undefined) return [];
      const props = start + 2 + nameLength + 4;
      const flags = frame[start + 2 + nameLength + 1];
      const block = readVariableByteInteger(frame, props);
      if (flags === undefined || !block || (flags & 0x04) === 0) return [props];
      const idLength = u16At(block.next + block.value);
      return idLength === undefined ? [props] : [props, block.next + block.value + 2 + idLength];
    }
    case PacketType.PUBLISH: {
      const topicLength = u16At(start);
      if (topicLength === undefined) return [];
      const qos = (frame[0]! >> 1) & 0x03;
      return [start + 2 + topicLength + (qos > 0 ? 2 : 0)];
    }
    case PacketType.PUBACK:
    case PacketType.PUBREC:
    case PacketType.PUBREL:
    case PacketType.PUBCOMP:
      // Packet Identifier, then (optionally) a Reason Code, then (optionally) properties.
      return bodyLength > 3 ? [start + 3] : [];
    case PacketType.SUBSCRIBE:
    case PacketType.UNSUBSCRIBE:
      return [start + 2];
    case PacketType.DISCONNECT:
    case PacketType.AUTH:
      return bodyLength > 1 ? [start + 1] : [];
    default:
      return [];
  }
}

/** What is wrong with a frame's properties: a value running past its block, bad UTF-8, or a repeat. */
export type PropertyProblem = { kind: 'malformed'; detail: string } | { kind: 'repeated'; id: number };

/**
 * Checks the property blocks of a parsed MQTT 5 frame on its bytes. mqtt-packet's parser lets through a
 * string or binary value running past the property block (it yields null), decodes ill-formed UTF-8
 * leniently, and keeps only the last of two repeats when the first value is falsy (0, false, "").
 */
export function propertyProblem(frame: Buffer): PropertyProblem | undefined {
  for (const offset of propertyBlockOffsets(frame)) {
    const block = readVariableByteInteger(frame, offset);
    if (!block || block.next + block.value > frame.length) return { kind: 'malformed', detail: 'property length runs past the packet' };
    const end = block.next + block.value;
    const seen = new Set<number>();
    let i = block.next;
    while (i < end) {
      const id = frame[i++]!;
      const type = PROPERTY_TYPES.get(id);
      if (!type) return { kind: 'malformed', detail: `unknown property identifier 0x${id.toString(16)}` };
      if (seen.has(id) && id !== USER_PROPERTY) return { kind: 'repeated', id };
      seen.add(id);
      const value = readValue(frame, i, type, end);
      if (value === undefined) return { kind: 'malformed', detail: `property 0x${id.toString(16)} runs past its property block` };
      if (!value.utf8) return { kind: 'malformed', detail: `property 0x${id.toString(16)} is not well-formed UTF-8 or contains U+0000` };
      i = value.next;
    }
  }
  return undefined;
}

/**
 * Reads one value ending at or before `end`: the offset after it and, for strings, whether they are valid
 * [MQTT-1.5.4-1], [MQTT-1.5.4-2].
 */
function readValue(frame: Buffer, i: number, type: ValueType, end: number): { next: number; utf8: boolean } | undefined {
  const fixed = (n: number) => (i + n <= end ? { next: i + n, utf8: true } : undefined);
  const lengthPrefixed = (at: number, text: boolean): { next: number; utf8: boolean } | undefined => {
    if (at + 2 > end) return undefined;
    const next = at + 2 + frame.readUInt16BE(at);
    if (next > end) return undefined;
    const bytes = frame.subarray(at + 2, next);
    return { next, utf8: !text || (isUtf8(bytes) && !bytes.includes(0)) };
  };
  switch (type) {
    case 'byte':
      return fixed(1);
    case 'u16':
      return fixed(2);
    case 'u32':
      return fixed(4);
    case 'varint': {
      const v = readVariableByteInteger(frame, i);
      return v && v.next <= end ? { next: v.next, utf8: true } : undefined;
    }
    case 'string':
      return lengthPrefixed(i, true);
    case 'binary':
      return lengthPrefixed(i, false);
    case 'pair': {
      const key = lengthPrefixed(i, true);
      const value = key && lengthPrefixed(key.next, true);
      return key && value ? { next: value.next, utf8: key.utf8 && value.utf8 } : undefined;
    }
  }
}
