import { createServer, type AddressInfo, type Socket } from 'node:net';
import {
  bodyStart,
  PacketType,
  ConnectReturnCode311,
  decodeVariableByteInteger,
  Framer,
  parseTopicFilter,
  peekConnectVersion,
  ReasonCode,
  topicMatchesFilter,
  variableByteIntegerEnd,
  variableByteIntegerSize,
  writeVariableByteInteger,
} from '../protocol/index.js';

/*
 * The benchmark's reference target `relay`: the least a broker written in Node must do per packet — frame the
 * bytes (protocol/ Framer), answer CONNECT, SUBSCRIBE, UNSUBSCRIBE and PINGREQ, acknowledge a PUBLISH and
 * forward it to the matching subscribers (one member per `$share` group, round robin), writing as the broker
 * does (one writev per client per turn of the event loop). No sessions, no queues, no in-flight window (it
 * ignores Receive Maximum), no retained messages, no will, no keep alive, MQTT 5 only: not a broker, the
 * floor a Node broker's cost can be read against.
 */

/** Largest packet accepted, as the broker's default Maximum Packet Size. */
const MAX_PACKET_BYTES = 1024 * 1024;

interface RelaySubscription {
  readonly conn: RelayConnection;
  /** The filter as sent (with `$share/<group>/`), to unsubscribe by. */
  readonly raw: string;
  readonly filter: string;
  readonly qos: number;
}

/** One `$share/<group>/<filter>`: its members and whose turn it is. */
interface RelayGroup {
  readonly filter: string;
  members: RelaySubscription[];
  next: number;
}

/** A running relay. */
export interface RunningRelay {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the relay on a loopback address; port 0 picks a free one. */
export async function startRelay(host: string, port: number): Promise<RunningRelay> {
  const relay = new Relay();
  const server = createServer((socket) => relay.accept(socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      for (const conn of relay.connections) conn.socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The subscriptions of every connection, and the forwarding of each PUBLISH. */
class Relay {
  readonly connections = new Set<RelayConnection>();
  private plain: RelaySubscription[] = [];
  private readonly groups = new Map<string, RelayGroup>();

  accept(socket: Socket): void {
    const conn = new RelayConnection(this, socket);
    this.connections.add(conn);
    socket.on('close', () => {
      this.connections.delete(conn);
      this.unsubscribe(conn, undefined);
    });
  }

  subscribe(conn: RelayConnection, raw: string, filter: string, group: string | undefined, qos: number): void {
    this.unsubscribe(conn, raw);
    const subscription = { conn, raw, filter, qos };
    if (group === undefined) {
      this.plain.push(subscription);
      return;
    }
    const key = `${group}/${filter}`;
    const existing = this.groups.get(key);
    if (existing) existing.members.push(subscription);
    else this.groups.set(key, { filter, members: [subscription], next: 0 });
  }

  /** Removes one filter of a connection, or all of them when `raw` is undefined. */
  unsubscribe(conn: RelayConnection, raw: string | undefined): void {
    const gone = (s: RelaySubscription) => s.conn === conn && (raw === undefined || s.raw === raw);
    this.plain = this.plain.filter((s) => !gone(s));
    for (const [key, group] of this.groups) {
      group.members = group.members.filter((s) => !gone(s));
      if (group.members.length === 0) this.groups.delete(key);
    }
  }

  /** Sends a PUBLISH frame to every matching plain subscriber and one member of each matching group. */
  forward(frame: Buffer): void {
    const i = bodyStart(frame);
    const topicEnd = i + 2 + frame.readUInt16BE(i);
    const topic = frame.toString('utf8', i + 2, topicEnd);
    for (const s of this.plain) if (topicMatchesFilter(s.filter, topic)) s.conn.deliver(frame, topicEnd, s.qos);
    for (const group of this.groups.values()) {
      if (!topicMatchesFilter(group.filter, topic)) continue;
      const member = group.members[group.next++ % group.members.length]!;
      member.conn.deliver(frame, topicEnd, member.qos);
    }
  }
}

/** Sockets corked in this turn of the event loop, uncorked together after its I/O (as the broker's write-batch.ts). */
const corked: Socket[] = [];

function uncorkAll(): void {
  for (const socket of corked) socket.uncork();
  corked.length = 0;
}

/** One client connection of the relay: frames, minimal answers, writes batched per turn of the event loop. */
class RelayConnection {
  private connected = false;
  private nextPacketId = 1;

  constructor(
    private readonly relay: Relay,
    readonly socket: Socket,
  ) {
    socket.setNoDelay(true);
    const framer = new Framer(
      MAX_PACKET_BYTES,
      (frame) => this.onFrame(frame),
      () => socket.destroy(),
    );
    socket.on('data', (chunk: Buffer) => framer.push(chunk));
    socket.on('error', () => socket.destroy());
  }

  /** Writes bytes; the writes of one turn of the event loop leave together (one writev), as the broker does. */
  write(bytes: Buffer): void {
    if (this.socket.writableCorked === 0) {
      this.socket.cork();
      if (corked.push(this.socket) === 1) setImmediate(uncorkAll);
    }
    this.socket.write(bytes);
  }

  /**
   * Writes a PUBLISH to this subscriber at min(published, granted) QoS: the same bytes for QoS 0 to QoS 0,
   * otherwise a copy with this connection's packet id (none at QoS 0) and DUP cleared.
   */
  deliver(frame: Buffer, topicEnd: number, grantedQos: number): void {
    const published = (frame[0]! >> 1) & 3;
    const qos = Math.min(published, grantedQos);
    if (published === 0) return this.write(frame);
    const restAt = topicEnd + 2;
    const i = bodyStart(frame);
    const remaining = topicEnd - i + (qos > 0 ? 2 : 0) + (frame.length - restAt);
    const out = Buffer.allocUnsafe(1 + variableByteIntegerSize(remaining) + remaining);
    out[0] = (frame[0]! & 0xf1) | (qos << 1);
    let at = writeVariableByteInteger(out, 1, remaining);
    at += frame.copy(out, at, i, topicEnd);
    if (qos > 0) {
      at = out.writeUInt16BE(this.nextPacketId, at);
      this.nextPacketId = (this.nextPacketId % 65535) + 1;
    }
    frame.copy(out, at, restAt);
    this.write(out);
  }

  private onFrame(frame: Buffer): void {
    try {
      this.handle(frame);
    } catch {
      // A frame too short for its fields (a read past its end): this client only is dropped.
      this.socket.destroy();
    }
  }

  private handle(frame: Buffer): void {
    const type = frame[0]! >> 4;
    if (!this.connected) {
      if (type !== PacketType.CONNECT) return void this.socket.destroy();
      this.connect(frame);
      return;
    }
    const i = bodyStart(frame);
    if (type === PacketType.PUBLISH) {
      const qos = (frame[0]! >> 1) & 3;
      // [MQTT-3.3.1-4] QoS 3 is malformed.
      if (qos === 3) return void this.socket.destroy();
      // PUBACK or PUBREC with Remaining Length 2: Success, no properties (MQTT 5.0 §3.4.2.1, §3.5.2.1).
      const idAt = i + 2 + frame.readUInt16BE(i);
      if (qos > 0) this.write(Buffer.from([qos === 1 ? 0x40 : 0x50, 2, frame[idAt]!, frame[idAt + 1]!]));
      this.relay.forward(frame);
    } else if (type === PacketType.PUBREL) {
      this.write(Buffer.from([0x70, 2, frame[i]!, frame[i + 1]!]));
    } else if (type === PacketType.PUBREC) {
      this.write(Buffer.from([0x62, 2, frame[i]!, frame[i + 1]!]));
    } else if (type === PacketType.SUBSCRIBE || type === PacketType.UNSUBSCRIBE) {
      this.subscriptions(frame, type === PacketType.SUBSCRIBE);
    } else if (type === PacketType.PINGREQ) {
      this.write(Buffer.from([0xd0, 0]));
    } else if (type === PacketType.DISCONNECT) {
      this.socket.end();
    }
  }

  /** CONNACK: Success for MQTT 5; any other version is refused in the 3.1.1 form and closed. */
  private connect(frame: Buffer): void {
    if (peekConnectVersion(frame)?.level !== 5) {
      this.socket.end(Buffer.from([0x20, 2, 0, ConnectReturnCode311.UnacceptableProtocolVersion]));
      return;
    }
    this.connected = true;
    this.write(Buffer.from([0x20, 3, 0, ReasonCode.Success, 0]));
  }

  /** SUBSCRIBE → SUBACK granting the QoS asked for; UNSUBSCRIBE → UNSUBACK with Success for each filter. */
  private subscriptions(frame: Buffer, subscribe: boolean): void {
    let i = bodyStart(frame);
    const packetId = frame.readUInt16BE(i);
    i += 2;
    i = variableByteIntegerEnd(frame, i) + decodeVariableByteInteger(frame, i);
    const codes: number[] = [];
    while (i < frame.length) {
      const end = i + 2 + frame.readUInt16BE(i);
      if (end > frame.length) throw new RangeError('filter past the end of the packet');
      const raw = frame.toString('utf8', i + 2, end);
      const parsed = parseTopicFilter(raw);
      if (!subscribe) {
        this.relay.unsubscribe(this, raw);
        codes.push(ReasonCode.Success);
        i = end;
        continue;
      }
      const qos = frame[end]! & 3;
      i = end + 1;
      if (!parsed || qos === 3) {
        codes.push(ReasonCode.TopicFilterInvalid);
        continue;
      }
      this.relay.subscribe(this, raw, parsed.filter, parsed.group, qos);
      codes.push(qos);
    }
    // SUBACK / UNSUBACK: packet id, Property Length 0, one reason code per filter.
    const remaining = 3 + codes.length;
    const out = Buffer.allocUnsafe(1 + variableByteIntegerSize(remaining) + remaining);
    out[0] = subscribe ? 0x90 : 0xb0;
    let at = writeVariableByteInteger(out, 1, remaining);
    at = out.writeUInt16BE(packetId, at);
    out[at++] = 0;
    for (const code of codes) out[at++] = code;
    this.write(out);
  }
}
