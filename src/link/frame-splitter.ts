import { Framer } from '../broker/framer.js';

/** What the splitter hands on: a whole packet, or bytes it could not frame. */
export type Piece = { frame: Buffer } | { unframed: Buffer; reason: string; startsPacket: boolean };

/**
 * Cuts one direction's byte stream into packets with the broker's Framer. When the stream cannot be
 * framed (a fifth Remaining Length byte [MQTT-1.5.5-1], or a packet beyond `maxPacketSize`), the bytes
 * held so far and everything after are handed on unframed: a proxy forwards what it cannot read and
 * lets the receiver decide.
 */
export class FrameSplitter {
  private readonly framer: Framer;
  private held: Buffer = Buffer.alloc(0);
  private framedInPush = 0;
  private failure: string | undefined;
  private failed = false;

  constructor(
    maxPacketSize: number,
    private readonly onPiece: (piece: Piece) => void,
  ) {
    this.framer = new Framer(
      maxPacketSize,
      (frame) => {
        this.framedInPush += frame.length;
        this.onPiece({ frame });
      },
      (error) => (this.failure = error === 'packet-too-large' ? `packet larger than ${maxPacketSize} bytes` : 'malformed Remaining Length'),
    );
  }

  /** The stream ended: hands on the start of a packet whose end never came, if any. */
  end(): void {
    if (this.held.length === 0) return;
    const rest = this.held;
    this.held = Buffer.alloc(0);
    this.onPiece({ unframed: rest, reason: 'the stream ended inside this packet', startsPacket: true });
  }

  /** Feeds received bytes. */
  push(chunk: Buffer): void {
    if (this.failed) {
      this.onPiece({ unframed: chunk, reason: 'after a framing error', startsPacket: false });
      return;
    }
    this.held = this.held.length === 0 ? chunk : Buffer.concat([this.held, chunk]);
    this.framedInPush = 0;
    this.framer.push(chunk);
    this.held = this.held.subarray(this.framedInPush);
    if (this.failure !== undefined) {
      this.failed = true;
      const rest = this.held;
      this.held = Buffer.alloc(0);
      this.onPiece({ unframed: rest, reason: `${this.failure}: this and all later bytes this way are forwarded undecoded`, startsPacket: true });
    }
  }
}
