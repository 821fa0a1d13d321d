import { Framer } from '../protocol/index.js';

/** What the splitter hands on: a whole packet, or bytes it could not frame. */
export type Piece = { frame: Buffer } | { unframed: Buffer; reason: string; startsPacket: boolean };

/**
 * Cuts one direction's byte stream into packets with the protocol's Framer. When the stream cannot be
 * framed (a fifth Remaining Length byte [MQTT-1.5.5-1], or a packet beyond `maxPacketSize`), the bytes
 * held so far and everything after are handed on unframed: a proxy forwards what it cannot read and
 * lets the receiver decide.
 */
export class FrameSplitter {
  private readonly framer: Framer;
  /** The received chunks not yet framed (the first may start inside a framed packet's end: see `trim`). */
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** Bytes at the tail of `held` that are not yet part of a frame. */
  private unframedBytes = 0;
  private failure: string | undefined;

  constructor(
    maxPacketSize: number,
    private readonly onPiece: (piece: Piece) => void,
  ) {
    this.framer = new Framer(
      maxPacketSize,
      (frame) => {
        this.unframedBytes -= frame.length;
        this.onPiece({ frame });
      },
      (error) => (this.failure = error === 'packet-too-large' ? `packet larger than ${maxPacketSize} bytes` : 'malformed Remaining Length'),
    );
  }

  /** Feeds received bytes. */
  push(chunk: Buffer): void {
    if (this.failure !== undefined) {
      this.onPiece({ unframed: chunk, reason: 'after a framing error', startsPacket: false });
      return;
    }
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    this.unframedBytes += chunk.length;
    this.framer.push(chunk);
    this.trim();
    if (this.failure !== undefined) this.release(`${this.failure}: this and all later bytes this way are forwarded undecoded`);
  }

  /** The stream ended: hands on the start of a packet whose end never came, if any. */
  end(): void {
    if (this.unframedBytes > 0) this.release('the stream ended inside this packet');
  }

  /** Drops the framed bytes from the front of `held`. */
  private trim(): void {
    while (this.heldBytes > this.unframedBytes) {
      const first = this.held[0]!;
      const excess = this.heldBytes - this.unframedBytes;
      if (first.length <= excess) {
        this.held.shift();
        this.heldBytes -= first.length;
      } else {
        this.held[0] = first.subarray(excess);
        this.heldBytes -= excess;
      }
    }
  }

  private release(reason: string): void {
    const rest = Buffer.concat(this.held, this.heldBytes);
    this.held = [];
    this.heldBytes = this.unframedBytes = 0;
    this.onPiece({ unframed: rest, reason, startsPacket: true });
  }
}
