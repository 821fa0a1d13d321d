import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import mqttPacket, { type IConnackPacket, type IConnectPacket, type Packet, type PacketCmd } from 'mqtt-packet';

/**
 * A bare MQTT client over a socket, for tests where a client library would hide the behaviour:
 * sends exactly the packets (or bytes) given and records every packet received.
 */
export class RawClient {
  /** Every packet received, in order. */
  readonly received: Packet[] = [];
  /** Resolves when the broker closes the connection. */
  readonly closed: Promise<void>;
  private readonly waiters: Array<() => void> = [];
  private cursor = 0;
  private isClosed = false;

  private constructor(
    private readonly socket: Duplex,
    public protocolVersion: 3 | 4 | 5,
  ) {
    const parser = mqttPacket.parser({ protocolVersion });
    parser.on('packet', (packet: Packet) => {
      this.received.push(packet);
      this.wake();
    });
    parser.on('error', () => socket.destroy());
    socket.on('data', (chunk) => parser.parse(chunk));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        this.wake();
        resolve();
      }),
    );
  }

  /** A client over any byte stream (an in-memory pair, say); no MQTT yet. */
  static over(stream: Duplex, protocolVersion: 3 | 4 | 5 = 5): RawClient {
    return new RawClient(stream, protocolVersion);
  }

  /** Opens a TCP connection (no MQTT yet). */
  static open(port: number, protocolVersion: 3 | 4 | 5 = 5, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host);
      socket.setNoDelay(true);
      socket.once('connect', () => resolve(new RawClient(socket, protocolVersion)));
      socket.once('error', reject);
    });
  }

  /** Opens a connection, sends CONNECT and waits for the CONNACK. */
  static async connect(
    port: number,
    connect: Partial<IConnectPacket> = {},
    host = '127.0.0.1',
  ): Promise<{ client: RawClient; connack: IConnackPacket }> {
    const protocolVersion = connect.protocolVersion ?? 5;
    const client = await RawClient.open(port, protocolVersion, host);
    client.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion,
      clean: true,
      keepalive: 0,
      clientId: '',
      ...connect,
    } as IConnectPacket);
    const connack = (await client.expect('connack')) as IConnackPacket;
    return { client, connack };
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  /** Encodes and sends a packet in this client's protocol version. */
  send(packet: Packet): void {
    this.socket.write(mqttPacket.generate(packet, { protocolVersion: this.protocolVersion }));
  }

  /** Sends raw bytes. */
  sendBytes(bytes: Buffer | number[]): void {
    this.socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  /** Waits for the next packet of a given type (skipping others, which stay in `received`). */
  async expect<C extends PacketCmd>(cmd: C, timeoutMs = 3000): Promise<Extract<Packet, { cmd: C }>> {
    const packet = await this.waitFor((p) => p.cmd === cmd, timeoutMs, `${cmd}`);
    return packet as Extract<Packet, { cmd: C }>;
  }

  /** Waits for the next received packet matching a predicate, after those already consumed. */
  async waitFor(predicate: (p: Packet) => boolean, timeoutMs = 3000, what = 'packet'): Promise<Packet> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.received.length) {
        const p = this.received[this.cursor++]!;
        if (predicate(p)) return p;
      }
      if (this.isClosed) throw new Error(`connection closed while waiting for ${what}; got ${this.describe()}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${this.describe()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The best of `rounds` PINGREQ → PINGRESP round trips in ms: a broker blocked by other work fails them all. */
  async pingMs(rounds = 3): Promise<number> {
    let best = Infinity;
    for (let i = 0; i < rounds; i++) {
      const start = performance.now();
      this.send({ cmd: 'pingreq' });
      await this.expect('pingresp', 5000);
      best = Math.min(best, performance.now() - start);
    }
    return best;
  }

  /** Resolves true if the broker closes the connection within the time, false otherwise. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    return Promise.race([this.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs))]);
  }

  /** True when no packet of this type arrives within `ms` (for "was not delivered" assertions). */
  async nothingWithin(cmd: PacketCmd, ms: number): Promise<boolean> {
    try {
      await this.expect(cmd, ms);
      return false;
    } catch {
      return true;
    }
  }

  /** Packets of a type received so far. */
  all<C extends PacketCmd>(cmd: C): Array<Extract<Packet, { cmd: C }>> {
    return this.received.filter((p) => p.cmd === cmd) as Array<Extract<Packet, { cmd: C }>>;
  }

  /** Stops reading from the socket, as a stalled client: what the broker writes piles up in the buffers. */
  pauseReading(): void {
    this.socket.pause();
  }

  /** Reads again after `pauseReading`. */
  resumeReading(): void {
    this.socket.resume();
  }

  /** Closes the socket without DISCONNECT (an ungraceful drop). */
  destroy(): void {
    this.socket.destroy();
  }

  /** Sends DISCONNECT (reason 0 unless given) and closes. */
  async disconnect(reasonCode = 0): Promise<void> {
    if (this.isClosed) return;
    this.send({ cmd: 'disconnect', reasonCode });
    this.socket.end();
    await this.closed;
  }

  private describe(): string {
    return `[${this.received.map((p) => p.cmd).join(', ')}]`;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
