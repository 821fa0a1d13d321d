/** Why the byte stream could not be split into packets. */
export type FramingError = 'malformed-remaining-length' | 'packet-too-large';

/**
 * Splits a byte stream into whole MQTT packets by their fixed header (MQTT 5.0 §2.1), enforcing the
 * Maximum Packet Size before any body is buffered, so an oversized packet costs us nothing.
 */
export class Framer {
  private pending: Buffer | undefined;
  private failed = false;

  constructor(
    private readonly maximumPacketSize: number,
    private readonly onFrame: (frame: Buffer) => void,
    private readonly onError: (error: FramingError) => void,
  ) {}

  /** Feeds received bytes; calls onFrame for each complete packet, in order. */
  push(chunk: Buffer): void {
    if (this.failed) return;
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let offset = 0;
    while (offset < buf.length && !this.failed) {
      let length = 0;
      let multiplier = 1;
      let i = offset + 1;
      let complete = false;
      for (let n = 0; n < 4 && i < buf.length; n++) {
        const byte = buf[i++]!;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        // A fifth length byte is malformed [MQTT-1.5.5-1]; fewer means we wait for more bytes.
        if (i - offset - 1 >= 4) this.fail('malformed-remaining-length');
        break;
      }
      const total = i - offset + length;
      if (total > this.maximumPacketSize) {
        this.fail('packet-too-large');
        break;
      }
      if (offset + total > buf.length) break;
      this.onFrame(buf.subarray(offset, offset + total));
      offset += total;
    }
    this.pending = offset < buf.length && !this.failed ? buf.subarray(offset) : undefined;
  }

  private fail(error: FramingError): void {
    this.failed = true;
    this.onError(error);
  }
}

/** Reads the protocol name and level of a CONNECT frame without a full parse (to answer bad versions). */
export function peekConnectVersion(frame: Buffer): { name: string; level: number } | undefined {
  if (frame[0] !== undefined && frame[0] >> 4 !== 1) return undefined;
  let i = 1;
  while (i < frame.length && i < 5 && (frame[i]! & 0x80) !== 0) i++;
  i++;
  if (i + 2 > frame.length) return undefined;
  const nameLength = frame.readUInt16BE(i);
  i += 2;
  if (i + nameLength + 1 > frame.length) return undefined;
  return { name: frame.toString('utf8', i, i + nameLength), level: frame[i + nameLength]! };
}

/** The topic name of a PUBLISH frame as raw bytes (no allocation beyond the view); undefined otherwise or when too short. */
export function publishTopicBytes(frame: Buffer): Buffer | undefined {
  if (frame[0]! >> 4 !== 3) return undefined;
  let i = 1;
  while (i < frame.length && (frame[i]! & 0x80) !== 0) i++;
  i++;
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
  if (type !== 3 && type !== 8 && type !== 10) return out;
  let i = 1;
  while (i < frame.length && (frame[i]! & 0x80) !== 0) i++;
  i++;
  const readString = (): Buffer | undefined => {
    if (i + 2 > frame.length) return undefined;
    const end = i + 2 + frame.readUInt16BE(i);
    if (end > frame.length) return undefined;
    const bytes = frame.subarray(i + 2, end);
    i = end;
    return bytes;
  };
  if (type === 3) {
    const topic = readString();
    if (topic) out.strings.push(topic);
    return out;
  }
  i += 2; // Packet Identifier
  if (protocolVersion === 5) {
    let length = 0;
    let multiplier = 1;
    for (let n = 0; n < 4 && i < frame.length; n++) {
      const byte = frame[i++]!;
      length += (byte & 0x7f) * multiplier;
      multiplier *= 128;
      if ((byte & 0x80) === 0) break;
    }
    i += length;
  }
  while (i < frame.length) {
    const filter = readString();
    if (!filter) break;
    out.strings.push(filter);
    if (type === 8 && i < frame.length) out.subscriptionOptions.push(frame[i++]!);
  }
  return out;
}
