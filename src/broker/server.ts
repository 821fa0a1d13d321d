import { Broker } from './broker.js';
import type { BrokerOptions } from './options.js';
import { startSysTopics } from './sys-topics.js';
import { listenTcp, type Listener } from './transports/tcp.js';
import { listenTls, type TlsOptions } from './transports/tls.js';

/** One listening port: MQTT over TCP or WebSocket, over TLS when `tls` is given. */
export interface ListenerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  protocol: 'mqtt' | 'websockets';
  tls?: TlsOptions;
}

/** A started listener and the URL clients use for it. */
export interface ListenerInfo {
  readonly protocol: 'mqtt' | 'websockets';
  readonly host: string;
  readonly port: number;
  /** `mqtt://`, `mqtts://`, `ws://` or `wss://` with host and port. */
  readonly url: string;
}

/** Options of a running broker: the core's plus where to listen. */
export interface CreateBrokerOptions extends BrokerOptions {
  /** Interface to bind; loopback by default, as Mosquitto 2 does without a config. */
  host?: string;
  /** TCP port; 0 picks a free one; `false` for no TCP listener. Default 1883. */
  port?: number | false;
  /** WebSocket port; 0 picks a free one; `false` (default) for none. */
  wsPort?: number | false;
  /** Every listener, in order (e.g. from a Mosquitto config); when given, `host`, `port` and `wsPort` are ignored. */
  listeners?: ListenerOptions[];
}

/** A broker core with its listeners. */
export interface RunningBroker {
  readonly broker: Broker;
  /** URL of the first MQTT (TCP or TLS) listener. */
  readonly url?: string;
  /** URL of the first WebSocket listener. */
  readonly wsUrl?: string;
  readonly port?: number;
  readonly wsPort?: number;
  /** Every listener, in the order given. */
  readonly listeners: readonly ListenerInfo[];
  /** Sends DISCONNECT 0x8B to every client, stops listening, flushes persistence. */
  close(): Promise<void>;
}

/** Starts an MQTT 5.0 / 3.1.1 broker in one line: `const b = await createBroker({ port: 0 })`. */
export async function createBroker(options: CreateBrokerOptions = {}): Promise<RunningBroker> {
  const broker = new Broker(options);
  await broker.restore();
  const started: Listener[] = [];
  try {
    const infos: ListenerInfo[] = [];
    for (const spec of options.listeners ?? defaultListeners(options)) {
      // The WebSocket transport (and `ws`, about 10 MB of RSS) is loaded only for a WebSocket listener.
      const listener =
        spec.protocol === 'websockets'
          ? await (await import('./transports/websocket.js')).listenWebSocket(broker, spec.host, spec.port, spec.tls)
          : spec.tls
            ? await listenTls(broker, spec.host, spec.port, spec.tls)
            : await listenTcp(broker, spec.host, spec.port);
      started.push(listener);
      const scheme = (spec.protocol === 'websockets' ? 'ws' : 'mqtt') + (spec.tls ? 's' : '');
      const urlHost = spec.host.includes(':') ? `[${spec.host}]` : spec.host;
      infos.push({ protocol: spec.protocol, host: spec.host, port: listener.port, url: `${scheme}://${urlHost}:${listener.port}` });
    }
    const stopSys = startSysTopics(broker, broker.options.sysInterval);
    const tcp = infos.find((l) => l.protocol === 'mqtt');
    const ws = infos.find((l) => l.protocol === 'websockets');
    return {
      broker,
      url: tcp?.url,
      wsUrl: ws?.url,
      port: tcp?.port,
      wsPort: ws?.port,
      listeners: infos,
      close: async () => {
        stopSys();
        await broker.close();
        await Promise.all(started.map((l) => l.close()));
      },
    };
  } catch (error) {
    await Promise.all(started.map((l) => l.close()));
    await broker.close();
    throw error;
  }
}

/** The listeners `host`, `port` and `wsPort` describe. */
function defaultListeners(options: CreateBrokerOptions): ListenerOptions[] {
  const host = options.host ?? '127.0.0.1';
  const out: ListenerOptions[] = [];
  if (options.port !== false) out.push({ host, port: options.port ?? 1883, protocol: 'mqtt' });
  if (options.wsPort !== false && options.wsPort !== undefined) out.push({ host, port: options.wsPort, protocol: 'websockets' });
  return out;
}
