import { PacketType } from './packet-types.js';
import { decodeVariableByteInteger, variableByteIntegerEnd } from './variable-byte-integer.js';

/*
 * Fields read straight from the bytes of one whole frame (as the Framer delivers it), without a full parse.
 */

/** Where the variable header starts: after the first byte and the Remaining Length (frame.length when malformed). */
export function bodyStart(frame: Uint8Array): number {
  const end = variableByteIntegerEnd(frame, 1);
  return end < 0 ? frame.length : end;
}

/** Reads the protocol name and level of a CONNECT frame without a full parse (to answer bad versions). */
export function peekConnectVersion(frame: Buffer): { name: string; level: number } | undefined {
  if (frame[0] !== undefined && frame[0] >> 4 !== PacketType.CONNECT) return undefined;
  let i = bodyStart(frame);
  if (i + 2 > frame.length) return undefined;
  const nameLength = frame.readUInt16BE(i);
  i += 2;
  if (i + nameLength + 1 > frame.length) return undefined;
  return { name: frame.toString('utf8', i, i + nameLength), level: frame[i + nameLength]! };
}

/** The topic name of a PUBLISH frame as raw bytes (no allocation beyond the view); undefined otherwise or when too short. */
export function publishTopicBytes(frame: Buffer): Buffer | undefined {
  if (frame[0]! >> 4 !== PacketType.PUBLISH) return undefined;
  const i = bodyStart(frame);
  if (i + 2 > frame.length) return undefined;
  const end = i + 2 + frame.readUInt16BE(i);
  return end > frame.length ? undefined : frame.subarray(i + 2, end);
}

/** Raw strings of a frame that must be well-formed UTF-8, and the SUBSCRIBE options bytes. */
export interface FrameStrings {
  strings: Buffer[];
  subscriptionOptions: number[];
}

/**
 * The topic name of a PUBLISH, or the topic filters and subscription options of a SUBSCRIBE or
 * UNSUBSCRIBE, as raw bytes: mqtt-packet decodes strings leniently (ill-formed UTF-8 becomes U+FFFD),
 * so they are checked here [MQTT-1.5.4-1]. Stops quietly where the frame is too short; the parser reports that.
 */
export function frameTopicStrings(frame: Buffer, protocolVersion: number): FrameStrings {
  const out: FrameStrings = { strings: [], subscriptionOptions: [] };
  const type = frame[0]! >> 4;
  if (type !== PacketType.PUBLISH && type !== PacketType.SUBSCRIBE && type !== PacketType.UNSUBSCRIBE) return out;
  let i = bodyStart(frame);
  const readString = (): Buffer | undefined => {
    if (i + 2 > frame.length) return undefined;
    const end = i + 2 + frame.readUInt16BE(i);
    if (end > frame.length) return undefined;
    const bytes = frame.subarray(i + 2, end);
    i = end;
    return bytes;
  };
  if (type === PacketType.PUBLISH) {
    const topic = readString();
    if (topic) out.strings.push(topic);
    return out;
  }
  i += 2; // Packet Identifier
  if (protocolVersion === 5) {
    const end = variableByteIntegerEnd(frame, i);
    if (end < 0) return out;
    i = end + decodeVariableByteInteger(frame, i);
  }
  while (i < frame.length) {
    const filter = readString();
    if (!filter) break;
    out.strings.push(filter);
    if (type === PacketType.SUBSCRIBE && i < frame.length) out.subscriptionOptions.push(frame[i++]!);
  }
  return out;
}
