import { decodeVariableByteInteger, INCOMPLETE, MALFORMED, variableByteIntegerEnd } from './variable-byte-integer.js';

/** Why the byte stream could not be split into packets. */
export type FramingError = 'malformed-remaining-length' | 'packet-too-large';

/**
 * Where the packet starting at `offset` ends, from its fixed header (MQTT 5.0 §2.1.1: a type byte, then the
 * Remaining Length): INCOMPLETE while the header is cut short, MALFORMED for a fifth length byte. The end may
 * lie beyond the bytes held. Allocation-free.
 */
export function packetEnd(bytes: Uint8Array, offset: number): number {
  const end = variableByteIntegerEnd(bytes, offset + 1);
  return end < 0 ? end : end + decodeVariableByteInteger(bytes, offset + 1);
}

/**
 * Splits a byte stream into whole MQTT packets by their fixed header (MQTT 5.0 §2.1), enforcing the
 * Maximum Packet Size before any body is buffered, so an oversized packet costs us nothing. Linear in the
 * bytes received: a packet that arrives in many chunks is kept as a list of them and copied once, into its
 * own buffer, when its last byte arrives.
 */
export class Framer {
  /** Bytes received but not yet framed, in order; their total is `buffered`. */
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Total size of the packet the buffered bytes start with; 0 while its fixed header is incomplete. */
  private needed = 0;
  private failed = false;

  constructor(
    private readonly maximumPacketSize: number,
    private readonly onFrame: (frame: Buffer) => void,
    private readonly onError: (error: FramingError) => void,
  ) {}

  /** Bytes held while waiting for the rest of a packet (never more than the Maximum Packet Size). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Feeds received bytes; calls onFrame for each complete packet, in order. */
  push(chunk: Buffer): void {
    if (this.failed || chunk.length === 0) return;
    if (this.buffered === 0) return this.scan(chunk);
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    // Until the fixed header is known fewer than 5 bytes are held, so joining them is cheap; after, join
    // only when the whole packet is here.
    if (this.needed !== 0 && this.buffered < this.needed) return;
    const joined = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    this.chunks = [];
    this.buffered = 0;
    this.needed = 0;
    this.scan(joined);
  }

  /** Frames every whole packet in `buf`; keeps the rest (a view) with the size of its packet when known. */
  private scan(buf: Buffer): void {
    let offset = 0;
    let total = 0;
    while (offset < buf.length && !this.failed) {
      total = 0;
      const end = packetEnd(buf, offset);
      if (end === MALFORMED) {
        // A fifth length byte is malformed [MQTT-1.5.5-1].
        this.fail('malformed-remaining-length');
        return;
      }
      if (end === INCOMPLETE) break;
      total = end - offset;
      if (total > this.maximumPacketSize) {
        this.fail('packet-too-large');
        return;
      }
      if (offset + total > buf.length) break;
      this.onFrame(buf.subarray(offset, offset + total));
      offset += total;
    }
    if (this.failed || offset >= buf.length) return;
    const rest = buf.subarray(offset);
    this.chunks = [rest];
    this.buffered = rest.length;
    this.needed = total;
  }

  private fail(error: FramingError): void {
    this.failed = true;
    this.chunks = [];
    this.buffered = 0;
    this.onError(error);
  }
}
