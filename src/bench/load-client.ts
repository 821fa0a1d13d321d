import { connect, type Socket } from 'node:net';
import mqttPacket, { type Packet, type QoS } from 'mqtt-packet';
import { isFailure, PacketType, packetEnd, readVariableByteInteger, variableByteIntegerEnd } from '../protocol/index.js';

/** Where and as whom a load client connects (MQTT 5, clean start). */
export interface LoadClientOptions {
  host: string;
  port: number;
  clientId: string;
  /** Receive Maximum announced in CONNECT: the broker's QoS 1/2 window towards this client. */
  receiveMaximum: number;
  /** Source address (127.0.0.x) to spread many clients over several loopback addresses. */
  localAddress?: string;
  /** Keep alive in seconds (default 0: none). */
  keepalive?: number;
}

/** Called for each PUBLISH received, with the frame's buffer and the payload's bounds in it. */
export type PublishListener = (buffer: Buffer, payloadStart: number, payloadEnd: number) => void;

/** Bound on waiting for CONNACK and SUBACK. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * A minimal MQTT 5 client for load generation over a raw socket: CONNECT and SUBSCRIBE go through
 * mqtt-packet, the hot path does not: received packets are split by their fixed header only, counted,
 * and acknowledged (PUBACK, PUBREC/PUBREL/PUBCOMP) with 4-byte packets written once per chunk.
 */
export class LoadClient {
  /** PUBLISH packets received. */
  received = 0;
  /** Our QoS 1/2 PUBLISH packets not yet completed (PUBACK or PUBCOMP). */
  inflight = 0;
  /** The broker's Receive Maximum from CONNACK. */
  serverReceiveMaximum = 65535;
  /** Why the connection ended, once it has. */
  closedBecause: string | undefined;
  onPublish: PublishListener | undefined;
  /** Called after acknowledgements of our publishes arrived (the window opened). */
  onAcked: (() => void) | undefined;
  private pending: Buffer | undefined;
  private waiter: { cmd: string; resolve: (p: Packet) => void; reject: (e: Error) => void } | undefined;

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.ended(error.message));
    socket.on('close', () => this.ended('connection closed'));
  }

  /** Connects and resolves after a successful CONNACK; rejects with a one-line error otherwise. */
  static async open(options: LoadClientOptions): Promise<LoadClient> {
    const socket = connect({ host: options.host, port: options.port, localAddress: options.localAddress });
    const client = new LoadClient(socket);
    try {
      const connack = client.expect('connack');
      socket.write(
        mqttPacket.generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 5,
          clientId: options.clientId,
          clean: true,
          keepalive: options.keepalive ?? 0,
          properties: { receiveMaximum: options.receiveMaximum },
        }),
      );
      const packet = (await connack) as mqttPacket.IConnackPacket;
      if ((packet.reasonCode ?? 0) !== 0) throw new Error(`CONNACK reason code 0x${packet.reasonCode!.toString(16)}`);
      client.serverReceiveMaximum = packet.properties?.receiveMaximum ?? 65535;
      return client;
    } catch (error) {
      socket.destroy();
      throw error;
    }
  }

  /** Subscribes to one filter and resolves after a SUBACK granting it. */
  async subscribe(topic: string, qos: QoS): Promise<void> {
    const suback = this.expect('suback');
    this.socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos }] }, { protocolVersion: 5 }));
    const granted = ((await suback) as mqttPacket.ISubackPacket).granted[0];
    if (typeof granted !== 'number' || isFailure(granted)) throw new Error(`SUBACK refused ${topic}: ${JSON.stringify(granted)}`);
  }

  /** Sends DISCONNECT and closes. */
  close(): void {
    if (this.closedBecause !== undefined) return;
    this.socket.end(Buffer.from([0xe0, 0x00]));
  }

  /** The next CONNACK or SUBACK; the connection is dropped when it does not come within the timeout. */
  private expect(cmd: string): Promise<Packet> {
    const timer = setTimeout(
      () => this.socket.destroy(new Error(`no ${cmd.toUpperCase()} within ${HANDSHAKE_TIMEOUT_MS} ms`)),
      HANDSHAKE_TIMEOUT_MS,
    );
    return new Promise<Packet>((resolve, reject) => (this.waiter = { cmd, resolve, reject })).finally(() => clearTimeout(timer));
  }

  private ended(reason: string): void {
    this.closedBecause ??= reason;
    this.waiter?.reject(new Error(reason));
    this.waiter = undefined;
  }

  private onData(chunk: Buffer): void {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let acks: Buffer | undefined;
    let ackLength = 0;
    let acked = false;
    let offset = 0;
    while (offset + 2 <= buf.length) {
      const end = packetEnd(buf, offset);
      if (end < 0 || end > buf.length) break;
      const i = variableByteIntegerEnd(buf, offset + 1);
      const first = buf[offset]!;
      const type = first >> 4;
      let ack = 0;
      if (type === PacketType.PUBLISH) {
        const qos = (first >> 1) & 3;
        let p = i + 2 + buf.readUInt16BE(i);
        const packetId = qos > 0 ? buf.readUInt16BE(p) : 0;
        if (qos > 0) p += 2;
        const properties = readVariableByteInteger(buf, p);
        this.received++;
        this.onPublish?.(buf, properties ? properties.next + properties.value : end, end);
        if (qos === 1) ack = 0x40_0000 | packetId;
        else if (qos === 2) ack = 0x50_0000 | packetId;
      } else if (type === PacketType.PUBACK || type === PacketType.PUBCOMP) {
        this.inflight--;
        acked = true;
      } else if (type === PacketType.PUBREC) {
        ack = 0x62_0000 | buf.readUInt16BE(i);
      } else if (type === PacketType.PUBREL) {
        ack = 0x70_0000 | buf.readUInt16BE(i);
      } else if (type === PacketType.DISCONNECT) {
        this.closedBecause ??= `DISCONNECT from the broker, reason code 0x${(buf[i] ?? 0).toString(16)}`;
      } else if (type === PacketType.CONNACK || type === PacketType.SUBACK) {
        this.handshakePacket(buf.subarray(offset, end));
      }
      if (ack !== 0) {
        acks ??= Buffer.allocUnsafe(buf.length);
        // Type byte, Remaining Length 2 (Success, no properties: MQTT 5 §3.4.2.1), packet id.
        acks.writeUInt32BE(((ack >>> 16) << 24) | (2 << 16) | (ack & 0xffff), ackLength);
        ackLength += 4;
      }
      offset = end;
    }
    this.pending = offset < buf.length ? Buffer.from(buf.subarray(offset)) : undefined;
    if (acks) this.socket.write(acks.subarray(0, ackLength));
    if (acked) this.onAcked?.();
  }

  private handshakePacket(frame: Buffer): void {
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    let packet: Packet | undefined;
    parser.on('packet', (p: Packet) => (packet = p));
    parser.parse(frame);
    const waiter = this.waiter;
    if (packet && waiter && waiter.cmd === packet.cmd) {
      this.waiter = undefined;
      waiter.resolve(packet);
    }
  }
}

/** One PUBLISH encoded once, copied into batches with the packet id (and a timestamp) patched in. */
export class PublishTemplate {
  readonly bytes: Buffer;
  /** Where the packet id sits (QoS 1/2). */
  private readonly packetIdAt: number;
  /** Where the payload starts (the timestamp goes there). */
  readonly payloadAt: number;

  constructor(
    topic: string,
    payload: Buffer,
    readonly qos: QoS,
  ) {
    this.bytes = mqttPacket.generate(
      { cmd: 'publish', topic, payload, qos, retain: false, dup: false, messageId: qos > 0 ? 1 : undefined, properties: {} },
      { protocolVersion: 5 },
    );
    this.packetIdAt = variableByteIntegerEnd(this.bytes, 1) + 2 + Buffer.byteLength(topic);
    this.payloadAt = this.bytes.length - payload.length;
  }

  /**
   * `count` packets back to back with packet ids from `firstId` (wrapping within 1..65535) and, when
   * `stamp` is given, the send time in microseconds as a float64 at the start of each payload.
   */
  batch(count: number, firstId: number, stamp?: number): Buffer {
    const size = this.bytes.length;
    const out = Buffer.allocUnsafe(count * size);
    for (let j = 0; j < count; j++) {
      const at = j * size;
      this.bytes.copy(out, at);
      if (this.qos > 0) out.writeUInt16BE(((firstId + j - 1) % 65535) + 1, at + this.packetIdAt);
      if (stamp !== undefined) out.writeDoubleLE(stamp, at + this.payloadAt);
    }
    return out;
  }
}

/** Monotonic microseconds, comparable between processes on one machine (CLOCK_MONOTONIC). */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}
