import type { Socket } from 'node:net';
import { packetTypeOf, peekConnectVersion } from '../protocol/index.js';
import type { Random } from '../util/index.js';
import { decodeFrame, type LinkPacket, type PacketFate, type ProtocolLevel } from './decode.js';
import type { CutOnRule, LinkDirection, LinkFaults } from './faults.js';
import { FrameSplitter, type Piece } from './frame-splitter.js';
import { LinkPacer } from './pacer.js';

/** Something that happened to a connection through the link (packets aside). */
export interface LinkEvent {
  at: number;
  connection: number;
  clientId?: string;
  kind: 'open' | 'close' | 'cut' | 'silent' | 'side-closed';
  detail: string;
}

/** How a link is cut: FIN (`close`) or RST (`reset`) on both sides; neither sends DISCONNECT. */
export type CutHow = 'close' | 'reset';

/** What a connection needs from its proxy. */
export interface LinkConnectionHooks {
  faults(): LinkFaults;
  /** Claims a cut-on rule matching this packet, once per proxy; undefined when none is left. */
  claimCutOn(type: string, direction: LinkDirection): CutOnRule | undefined;
  packet(packet: LinkPacket): void;
  event(event: LinkEvent): void;
  closed(connection: LinkConnection): void;
}

/** Bytes in transit one way above which the sender is paused (TCP backpressure through the proxy). */
const HIGH_WATER_BYTES = 1 << 20;

type Cargo = { frame: Buffer; type: LinkPacket['type']; packet?: LinkPacket['packet']; malformed?: string } | { end: true };

/** One direction: bytes from `source`, split into packets, paced, written to `target`. */
interface Way {
  direction: LinkDirection;
  source: Socket;
  target: Socket;
  splitter: FrameSplitter;
  pacer: LinkPacer<Cargo>;
  /** The `end` (FIN) from the source was passed on. */
  ended: boolean;
  /** The source socket is closed. */
  gone: boolean;
}

/** One client connection through the proxy, and its connection to the broker. */
export class LinkConnection {
  clientId: string | undefined;
  protocolVersion: ProtocolLevel = 4;
  /** Packets seen both ways (what `cutEvery` counts). */
  packets = 0;
  private closed = false;
  private silent = false;
  private readonly ways: Record<LinkDirection, Way>;
  private blackholeTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: number,
    readonly client: Socket,
    readonly broker: Socket,
    private readonly random: Random,
    private readonly hooks: LinkConnectionHooks,
    maxPacketSize: number,
  ) {
    const way = (direction: LinkDirection, source: Socket, target: Socket): Way => {
      const w: Way = {
        direction,
        source,
        target,
        ended: false,
        gone: false,
        splitter: new FrameSplitter(maxPacketSize, (piece) => this.onPiece(w, piece)),
        pacer: new LinkPacer<Cargo>(
          hooks.faults,
          random,
          (cargo) => this.deliver(w, cargo),
          () => this.resume(w),
        ),
      };
      return w;
    };
    this.ways = { 'to-broker': way('to-broker', client, broker), 'to-client': way('to-client', broker, client) };
  }

  /** Starts relaying (the broker socket is connected). */
  start(): void {
    for (const w of Object.values(this.ways)) {
      w.source.setNoDelay(true);
      w.source.on('data', (chunk: Buffer) => w.splitter.push(chunk));
      w.target.on('drain', () => this.resume(w));
      const side = w.direction === 'to-broker' ? 'client' : 'broker';
      // A silent link carries no FIN either: the side that gives up is closed, the other keeps waiting.
      w.source.on('end', () => {
        if (this.silent) return void w.source.destroy();
        w.splitter.end();
        w.pacer.schedule({ end: true }, 0);
      });
      w.source.on('error', (error: NodeJS.ErrnoException) => {
        if (!this.silent) this.end(`${side} socket error: ${error.code ?? error.message}`, error.code === 'ECONNRESET' ? 'reset' : 'close');
      });
      w.source.on('close', () => {
        w.gone = true;
        if (!this.silent || (this.ways['to-broker'].gone && this.ways['to-client'].gone)) this.end(`closed by the ${side}`, 'close');
        else this.event('side-closed', `the ${side} closed its side; the other side, behind the silent link, does not know`);
      });
    }
    const after = this.hooks.faults().blackholeAfterSeconds;
    if (after !== undefined)
      this.blackholeTimer = setTimeout(() => this.silence(`silent after ${after} s (half-open: both sockets stay open)`), after * 1000);
  }

  /** Breaks the link now: both sides closed without DISCONNECT, whatever was in transit lost. */
  cut(reason: string, how: CutHow = 'reset'): void {
    if (this.closed) return;
    this.event('cut', reason);
    this.end(`link cut (${how === 'reset' ? 'RST' : 'FIN'} both sides, no DISCONNECT)`, how);
  }

  /** Makes the link silent both ways (half-open): packets are read and dropped, sockets stay open. */
  silence(reason = 'silent (half-open: both sockets stay open)'): void {
    if (this.closed || this.silent) return;
    this.silent = true;
    this.event('silent', reason);
    for (const w of Object.values(this.ways)) this.lose(w, 'dropped');
  }

  private onPiece(w: Way, piece: Piece): void {
    if (this.closed) return;
    if ('unframed' in piece) {
      this.decide(
        w,
        { frame: piece.unframed, type: piece.startsPacket ? packetTypeOf(piece.unframed[0] ?? 0) : 'UNDECODED', malformed: piece.reason },
        true,
      );
      return;
    }
    const { frame } = piece;
    const type = packetTypeOf(frame[0]!);
    if (type === 'CONNECT' && w.direction === 'to-broker') {
      const level = peekConnectVersion(frame)?.level;
      if (level === 3 || level === 4 || level === 5) this.protocolVersion = level;
    }
    const decoded = decodeFrame(frame, this.protocolVersion);
    if (decoded.packet?.cmd === 'connect') this.clientId = decoded.packet.clientId;
    // An empty client id gets one from the server, in CONNACK [MQTT-3.2.2-16].
    const assigned = decoded.packet?.cmd === 'connack' ? decoded.packet.properties?.assignedClientIdentifier : undefined;
    if (assigned !== undefined) this.clientId = assigned;
    this.decide(w, { frame, type, packet: decoded.packet, malformed: decoded.malformed }, false);
  }

  /** Cut, drop or forward one packet, by the faults in force now. */
  private decide(w: Way, cargo: Extract<Cargo, { frame: Buffer }>, unframed: boolean): void {
    if (this.silent) {
      this.report(w, cargo, 'dropped');
      return;
    }
    const faults = this.hooks.faults();
    const reason = unframed ? undefined : this.cutReason(w, cargo.type, faults);
    if (reason !== undefined) {
      this.report(w, cargo, 'cut');
      this.cut(reason);
      return;
    }
    w.pacer.schedule(cargo, cargo.frame.length);
    if (w.pacer.queuedBytes > HIGH_WATER_BYTES) w.source.pause();
  }

  private cutReason(w: Way, type: LinkPacket['type'], faults: LinkFaults): string | undefined {
    this.packets++;
    const rule = this.hooks.claimCutOn(type, w.direction);
    if (rule) return `on ${type} ${w.direction} (cut-on)`;
    if (faults.cutEvery !== undefined && this.packets > faults.cutEvery)
      return `on ${type} ${w.direction} after ${faults.cutEvery} packets (cut-every)`;
    if (faults.cutProbability && this.random.next() < faults.cutProbability)
      return `on ${type} ${w.direction} (cut-prob ${faults.cutProbability})`;
    return undefined;
  }

  private deliver(w: Way, cargo: Cargo): void {
    if (this.closed) return;
    if ('end' in cargo) {
      w.ended = true;
      w.target.end();
      if (this.ways['to-broker'].ended && this.ways['to-client'].ended) this.end(`closed by both sides`, 'close');
      return;
    }
    // TCP backpressure: the reader stops until the writer drains (start() resumes it on 'drain').
    if (!w.target.write(cargo.frame)) w.source.pause();
    this.report(w, cargo, 'forwarded');
  }

  private resume(w: Way): void {
    if (!this.closed && w.pacer.queuedBytes <= HIGH_WATER_BYTES && !w.target.writableNeedDrain) w.source.resume();
  }

  /** Reports what was in transit one way as lost or dropped. */
  private lose(w: Way, fate: PacketFate): void {
    for (const cargo of w.pacer.clear()) if (!('end' in cargo)) this.report(w, cargo, fate);
  }

  private report(w: Way, cargo: Extract<Cargo, { frame: Buffer }>, fate: PacketFate): void {
    this.hooks.packet({
      at: Date.now(),
      connection: this.id,
      clientId: this.clientId,
      direction: w.direction,
      type: cargo.type,
      bytes: cargo.frame.length,
      protocolVersion: this.protocolVersion,
      ...(cargo.packet && { packet: cargo.packet }),
      ...(cargo.malformed !== undefined && { malformed: cargo.malformed }),
      raw: cargo.frame,
      fate,
    });
  }

  private event(kind: LinkEvent['kind'], detail: string): void {
    this.hooks.event({ at: Date.now(), connection: this.id, clientId: this.clientId, kind, detail });
  }

  /** Closes both sockets once (reporting what was still in transit as lost). */
  private end(reason: string, how: CutHow): void {
    if (this.closed) return;
    for (const w of Object.values(this.ways)) this.lose(w, 'lost');
    this.closed = true;
    clearTimeout(this.blackholeTimer);
    for (const socket of [this.client, this.broker]) {
      // No RST for a socket already shut down (FIN sent) or still connecting: libuv refuses to reset a
      // socket while its shutdown is pending, and Node then keeps the handle, spinning at process exit.
      if (how === 'reset' && !socket.destroyed && !socket.writableEnded && !socket.connecting) socket.resetAndDestroy();
      else socket.destroy();
    }
    this.event('close', reason);
    this.hooks.closed(this);
  }
}
