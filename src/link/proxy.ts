import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import { Random } from '../util/index.js';
import type { LinkPacket } from './decode.js';
import { validateFaults, type CutOnRule, type LinkDirection, type LinkFaults } from './faults.js';
import { LinkConnection, type CutHow, type LinkConnectionHooks, type LinkEvent } from './link-connection.js';

/** Largest packet the proxy decodes (MQTT's own limit: 268,435,455 bytes of body); a larger one is forwarded undecoded. */
const DEFAULT_MAX_PACKET_SIZE = 16 * 1024 * 1024;

/** How to start a link proxy. */
export interface LinkProxyOptions {
  /** Where clients connect: a port (on 127.0.0.1) or host and port; port 0 (the default) picks a free one. */
  listen?: number | { host?: string; port?: number };
  /** The broker: `mqtt://host:port`, `tcp://host:port` or `host:port`. */
  to: string;
  faults?: LinkFaults;
  /** Seed of the per-connection random streams (jitter, cut probability). */
  seed?: number;
  /** Packets larger than this are not buffered for decoding: the rest of that direction is forwarded undecoded. */
  maxPacketSize?: number;
}

/** What a link proxy reports. */
export interface LinkProxyEvents {
  packet: [LinkPacket];
  link: [LinkEvent];
}

/**
 * A link emulator between MQTT clients and a broker: every packet both ways is decoded and reported
 * (`packet` events), bytes are forwarded untouched, and the faults (delay, jitter, rate, cuts,
 * silence) are applied per connection. Start one with createLinkProxy.
 */
export class LinkProxy extends EventEmitter<LinkProxyEvents> {
  /** Connections open now. */
  readonly connections = new Map<number, LinkConnection>();
  private readonly server: Server;
  private readonly claimed = new Set<CutOnRule>();
  private currentFaults: LinkFaults;
  private nextId = 1;

  constructor(
    private readonly options: LinkProxyOptions,
    private readonly target: { host: string; port: number },
  ) {
    super();
    this.currentFaults = validateFaults(options.faults ?? {});
    this.server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => this.accept(client));
  }

  /** Address clients connect to (set by listen). */
  host = '';
  /** Port clients connect to (set by listen). */
  port = 0;

  /** `mqtt://host:port` of the proxy, for clients. */
  get url(): string {
    return `mqtt://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  /** The faults in force. */
  get faults(): LinkFaults {
    return this.currentFaults;
  }

  /** Replaces the faults (cut-on rules are armed afresh; a new blackhole-after applies to new connections). */
  set faults(next: LinkFaults) {
    this.currentFaults = validateFaults(next);
    this.claimed.clear();
  }

  /** Starts listening. */
  async listen(): Promise<this> {
    const listen = typeof this.options.listen === 'number' ? { port: this.options.listen } : (this.options.listen ?? {});
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(listen.port ?? 0, listen.host ?? '127.0.0.1', () => resolve());
    });
    ({ address: this.host, port: this.port } = this.server.address() as AddressInfo);
    return this;
  }

  /** Breaks every open connection now (RST, or FIN with `close`, both sides; no DISCONNECT). */
  cutAll(reason = 'by request', how: CutHow = 'reset'): void {
    for (const link of [...this.connections.values()]) link.cut(reason, how);
  }

  /** Makes every open connection silent now (half-open). */
  silenceAll(): void {
    for (const link of this.connections.values()) link.silence('silent by request (half-open: both sockets stay open)');
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const link of [...this.connections.values()]) link.cut('proxy stopped', 'close');
    await closed;
  }

  private accept(client: Socket): void {
    const id = this.nextId++;
    // Each connection draws from its own stream, so one connection's traffic never shifts another's faults.
    const random = new Random(((this.options.seed ?? 1) ^ Math.imul(id, 0x9e3779b1)) >>> 0);
    const { host, port } = this.target;
    const broker = connect({ host, port, allowHalfOpen: true });
    const hooks: LinkConnectionHooks = {
      faults: () => this.currentFaults,
      claimCutOn: (type, direction) => this.claimCutOn(type, direction),
      packet: (packet) => this.emit('packet', packet),
      event: (event) => this.emit('link', event),
      closed: (connection) => this.connections.delete(connection.id),
    };
    const link = new LinkConnection(id, client, broker, random, hooks, this.options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE);
    this.connections.set(id, link);
    client.on('error', () => {});
    let connected = false;
    broker.once('error', (error: NodeJS.ErrnoException) => {
      if (!connected) link.cut(`broker unreachable at ${host}:${port}: ${error.code ?? error.message}`, 'close');
    });
    broker.once('connect', () => {
      connected = true;
      this.emit('link', { at: Date.now(), connection: id, kind: 'open', detail: `from ${client.remoteAddress}:${client.remotePort}` });
      link.start();
      client.resume();
    });
  }

  private claimCutOn(type: string, direction: LinkDirection): CutOnRule | undefined {
    const rule = this.currentFaults.cutOn?.find(
      (r) => !this.claimed.has(r) && r.type === type && (r.direction === undefined || r.direction === direction),
    );
    if (rule) this.claimed.add(rule);
    return rule;
  }
}

/** Parses a broker address for the proxy: `mqtt://host:port`, `tcp://host:port` or `host:port`. */
export function parseBrokerAddress(to: string): { host: string; port: number } {
  const withScheme = /^[a-z]+:\/\//i.test(to) ? to : `tcp://${to}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Error(`"${to}" is not a broker address (expected mqtt://host:port or host:port)`);
  }
  if (!['mqtt:', 'tcp:'].includes(url.protocol))
    throw new Error(`"${to}": the proxy relays plain TCP (mqtt:// or tcp://), not ${url.protocol}//`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: url.port === '' ? 1883 : Number(url.port) };
}

/** Whether the proxy can stand in front of a broker URL: plain TCP (mqtt://, tcp://) only. */
export function canRelay(url: string): boolean {
  return /^(mqtt|tcp):\/\//i.test(url);
}

/** Starts a link proxy listening for clients (see LinkProxy). */
export async function createLinkProxy(options: LinkProxyOptions): Promise<LinkProxy> {
  return new LinkProxy(options, parseBrokerAddress(options.to)).listen();
}
