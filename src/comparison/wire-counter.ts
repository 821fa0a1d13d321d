import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { packetEnd, packetTypeOf } from '../protocol/index.js';

/**
 * A TCP proxy on 127.0.0.1 that counts every byte each way before forwarding it: what a client and a
 * server really put on the socket (application bytes; TCP/IP headers are not included).
 */
export class CountingProxy {
  /** One entry per accepted connection, in accept order. */
  readonly connections: ProxiedConnection[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    /** Loopback port clients connect to instead of the server's. */
    readonly port: number,
  ) {}

  /** Starts a proxy on a free loopback port forwarding to `host:port`. */
  static start(targetPort: number, targetHost = '127.0.0.1'): Promise<CountingProxy> {
    return new Promise((resolve, reject) => {
      let proxy: CountingProxy;
      const server = createServer((client) => {
        client.setNoDelay(true);
        const connection = new ProxiedConnection();
        proxy.connections.push(connection);
        const upstream = connect(targetPort, targetHost);
        upstream.setNoDelay(true);
        for (const s of [client, upstream]) {
          proxy.sockets.add(s);
          s.once('close', () => proxy.sockets.delete(s));
          s.on('error', () => {
            client.destroy();
            upstream.destroy();
          });
        }
        // Counted before forwarding: once the other side reacts to a packet, it has been counted.
        client.on('data', (chunk: Buffer) => {
          connection.record('up', chunk);
          upstream.write(chunk);
        });
        upstream.on('data', (chunk: Buffer) => {
          connection.record('down', chunk);
          client.write(chunk);
        });
        client.once('end', () => upstream.end());
        upstream.once('end', () => client.end());
        client.once('close', () => upstream.destroy());
        upstream.once('close', () => client.destroy());
      });
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        proxy = new CountingProxy(server, (server.address() as AddressInfo).port);
        resolve(proxy);
      });
    });
  }

  /** The connection accepted `index`-th (0-based), once it exists (bounded wait). */
  async connection(index: number, timeoutMs = 3000): Promise<ProxiedConnection> {
    const deadline = Date.now() + timeoutMs;
    while (!this.connections[index]) {
      if (Date.now() > deadline) throw new Error(`counting proxy: connection #${index} never arrived`);
      await new Promise((r) => setTimeout(r, 2));
    }
    return this.connections[index]!;
  }

  /** Stops accepting and drops every proxied socket. */
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** `up`: client → server; `down`: server → client. */
export type Direction = 'up' | 'down';

/** The bytes one proxied connection carried, each way, in order. */
export class ProxiedConnection {
  private readonly chunks: Record<Direction, Buffer[]> = { up: [], down: [] };
  private readonly counts: Record<Direction, number> = { up: 0, down: 0 };
  /** Every chunk in arrival order: which way, and where it starts in that direction's stream. */
  private readonly timeline: Array<{ direction: Direction; start: number }> = [];

  record(direction: Direction, chunk: Buffer): void {
    this.timeline.push({ direction, start: this.counts[direction] });
    this.chunks[direction].push(chunk);
    this.counts[direction] += chunk.length;
  }

  /** Arrival rank of the byte at `offset` of a direction's stream (to interleave both ways in time order). */
  arrival(direction: Direction, offset: number): number {
    let rank = -1;
    for (let i = 0; i < this.timeline.length; i++) {
      const t = this.timeline[i]!;
      if (t.direction === direction && t.start <= offset) rank = i;
    }
    return rank;
  }

  /** Bytes so far each way. */
  get bytes(): { up: number; down: number } {
    return { ...this.counts };
  }

  /** Everything carried one way so far. */
  stream(direction: Direction): Buffer {
    return Buffer.concat(this.chunks[direction]);
  }
}

/** One protocol unit (MQTT packet, AMQP frame, HTTP/2 frame) as found in a byte stream. */
export interface WireUnit {
  /** Offset in the direction's stream. */
  offset: number;
  /** Bytes on the wire, headers included. */
  bytes: number;
  /** What it is, e.g. PUBLISH, basic.publish, HEADERS. */
  type: string;
  /** Protocol-specific detail (QoS, channel, stream id …). */
  detail?: string;
}

/** Splits a byte stream into protocol units; stops at an incomplete trailing unit. */
export type Splitter = (stream: Buffer) => WireUnit[];

/** MQTT control packets (both 3.1.1 and 5.0): fixed header byte + Remaining Length varint [MQTT-2.1, 1.5.5]. */
export const splitMqtt: Splitter = (stream) => {
  const units: WireUnit[] = [];
  let at = 0;
  while (at + 2 <= stream.length) {
    const end = packetEnd(stream, at);
    if (end < 0 || end > stream.length) break;
    const first = stream[at]!;
    const type = packetTypeOf(first);
    units.push({ offset: at, bytes: end - at, type, detail: type === 'PUBLISH' ? `QoS ${(first >> 1) & 3}` : undefined });
    at = end;
  }
  return units;
};

/** AMQP 0-9-1 methods by class and method id (§1.4 of the 0-9-1 spec's XML), the ones these flows use. */
const AMQP_METHODS: Record<string, string> = {
  '10.10': 'connection.start',
  '10.11': 'connection.start-ok',
  '10.30': 'connection.tune',
  '10.31': 'connection.tune-ok',
  '10.40': 'connection.open',
  '10.41': 'connection.open-ok',
  '10.50': 'connection.close',
  '10.51': 'connection.close-ok',
  '20.10': 'channel.open',
  '20.11': 'channel.open-ok',
  '20.40': 'channel.close',
  '20.41': 'channel.close-ok',
  '40.10': 'exchange.declare',
  '40.11': 'exchange.declare-ok',
  '50.10': 'queue.declare',
  '50.11': 'queue.declare-ok',
  '50.20': 'queue.bind',
  '50.21': 'queue.bind-ok',
  '60.10': 'basic.qos',
  '60.11': 'basic.qos-ok',
  '60.20': 'basic.consume',
  '60.21': 'basic.consume-ok',
  '60.30': 'basic.cancel',
  '60.31': 'basic.cancel-ok',
  '60.40': 'basic.publish',
  '60.50': 'basic.return',
  '60.60': 'basic.deliver',
  '60.80': 'basic.ack',
  '60.120': 'basic.nack',
  '85.10': 'confirm.select',
  '85.11': 'confirm.select-ok',
};

/**
 * AMQP 0-9-1 frames: type(1) channel(2) size(4) payload frame-end(1) — 8 bytes around every payload
 * (AMQP 0-9-1 §4.2.3). A client stream starts with the 8-byte protocol header "AMQP\0\0\x09\x01" (§4.2.2).
 */
export const splitAmqp: Splitter = (stream) => {
  const units: WireUnit[] = [];
  let at = 0;
  if (stream.length >= 8 && stream.subarray(0, 4).toString('latin1') === 'AMQP') {
    units.push({ offset: 0, bytes: 8, type: 'protocol-header' });
    at = 8;
  }
  while (at + 7 <= stream.length) {
    const type = stream[at]!;
    const channel = stream.readUInt16BE(at + 1);
    const size = stream.readUInt32BE(at + 3);
    if (at + 8 + size > stream.length) break;
    let name: string;
    if (type === 1) {
      const key = `${stream.readUInt16BE(at + 7)}.${stream.readUInt16BE(at + 9)}`;
      name = AMQP_METHODS[key] ?? `method ${key}`;
    } else {
      name = ({ 2: 'content-header', 3: 'content-body', 8: 'heartbeat' } as Record<number, string>)[type] ?? `frame type ${type}`;
    }
    units.push({ offset: at, bytes: 8 + size, type: name, detail: `channel ${channel}` });
    at += 8 + size;
  }
  return units;
};

/** HTTP/2 frames: a 9-byte frame header + payload (RFC 9113 §4.1); a client stream starts with the 24-byte preface (§3.4). */
export const splitHttp2: Splitter = (stream) => {
  const names = [
    'DATA',
    'HEADERS',
    'PRIORITY',
    'RST_STREAM',
    'SETTINGS',
    'PUSH_PROMISE',
    'PING',
    'GOAWAY',
    'WINDOW_UPDATE',
    'CONTINUATION',
  ];
  const units: WireUnit[] = [];
  let at = 0;
  const preface = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
  if (stream.length >= 24 && stream.subarray(0, 24).toString('latin1') === preface) {
    units.push({ offset: 0, bytes: 24, type: 'preface' });
    at = 24;
  }
  while (at + 9 <= stream.length) {
    const length = stream.readUIntBE(at, 3);
    if (at + 9 + length > stream.length) break;
    const type = names[stream[at + 3]!] ?? `type ${stream[at + 3]}`;
    const flags = stream[at + 4]!;
    const streamId = stream.readUInt32BE(at + 5) & 0x7fffffff;
    const ack = (type === 'SETTINGS' || type === 'PING') && flags & 1 ? ' ACK' : '';
    units.push({ offset: at, bytes: 9 + length, type: type + ack, detail: `stream ${streamId}` });
    at += 9 + length;
  }
  return units;
};

/** A point in a connection's two streams, to take the units that came after it. */
export interface Mark {
  up: number;
  down: number;
}

/** The units carried since `mark` (both ways, in stream order per direction). */
export function unitsSince(connection: ProxiedConnection, split: Splitter, mark: Mark): { up: WireUnit[]; down: WireUnit[] } {
  return {
    up: split(connection.stream('up')).filter((u) => u.offset >= mark.up),
    down: split(connection.stream('down')).filter((u) => u.offset >= mark.down),
  };
}

/** Units of both directions since `mark`, in the order they crossed the proxy; `→` is client → server. */
export function timeOrdered(
  connection: ProxiedConnection,
  units: { up: WireUnit[]; down: WireUnit[] },
): Array<WireUnit & { direction: '→' | '←' }> {
  const all = [
    ...units.up.map((u) => ({ ...u, direction: '→' as const, rank: connection.arrival('up', u.offset) })),
    ...units.down.map((u) => ({ ...u, direction: '←' as const, rank: connection.arrival('down', u.offset) })),
  ];
  all.sort((a, b) => a.rank - b.rank || (a.direction === b.direction ? a.offset - b.offset : 0));
  return all.map(({ rank: _rank, ...u }) => u);
}

/** Waits (bounded) until `predicate` holds on the units carried since `mark`. */
export async function waitForUnits(
  connection: ProxiedConnection,
  split: Splitter,
  mark: Mark,
  predicate: (units: { up: WireUnit[]; down: WireUnit[] }) => boolean,
  timeoutMs = 3000,
): Promise<{ up: WireUnit[]; down: WireUnit[] }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const units = unitsSince(connection, split, mark);
    if (predicate(units)) return units;
    if (Date.now() > deadline) {
      const seen = (us: WireUnit[]) => us.map((u) => u.type).join(', ') || 'nothing';
      throw new Error(`timed out waiting on the wire; seen up: ${seen(units.up)}; down: ${seen(units.down)}`);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}
