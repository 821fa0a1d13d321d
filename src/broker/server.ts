import { Broker } from './broker.js';
import type { BrokerOptions } from './options.js';
import { startSysTopics } from './sys-topics.js';
import { listenTcp, type Listener } from './transports/tcp.js';
import { listenWebSocket } from './transports/websocket.js';

/** Options of a running broker: the core's plus where to listen. */
export interface CreateBrokerOptions extends BrokerOptions {
  /** Interface to bind; loopback by default, as Mosquitto 2 does without a config. */
  host?: string;
  /** TCP port; 0 picks a free one; `false` for no TCP listener. Default 1883. */
  port?: number | false;
  /** WebSocket port; 0 picks a free one; `false` (default) for none. */
  wsPort?: number | false;
}

/** A broker core with its listeners. */
export interface RunningBroker {
  readonly broker: Broker;
  /** `mqtt://host:port`, when TCP listens. */
  readonly url?: string;
  /** `ws://host:port`, when WebSocket listens. */
  readonly wsUrl?: string;
  readonly port?: number;
  readonly wsPort?: number;
  /** Sends DISCONNECT 0x8B to every client, stops listening, flushes persistence. */
  close(): Promise<void>;
}

/** Starts an MQTT 5.0 / 3.1.1 broker in one line: `const b = await createBroker({ port: 0 })`. */
export async function createBroker(options: CreateBrokerOptions = {}): Promise<RunningBroker> {
  const host = options.host ?? '127.0.0.1';
  const broker = new Broker(options);
  await broker.restore();
  const listeners: Listener[] = [];
  try {
    const tcp = options.port === false ? undefined : await listenTcp(broker, host, options.port ?? 1883);
    if (tcp) listeners.push(tcp);
    const ws = options.wsPort === false || options.wsPort === undefined ? undefined : await listenWebSocket(broker, host, options.wsPort);
    if (ws) listeners.push(ws);
    const stopSys = startSysTopics(broker, broker.options.sysInterval);
    const urlHost = host.includes(':') ? `[${host}]` : host;
    return {
      broker,
      url: tcp && `mqtt://${urlHost}:${tcp.port}`,
      wsUrl: ws && `ws://${urlHost}:${ws.port}`,
      port: tcp?.port,
      wsPort: ws?.port,
      close: async () => {
        stopSys();
        await broker.close();
        await Promise.all(listeners.map((l) => l.close()));
      },
    };
  } catch (error) {
    await Promise.all(listeners.map((l) => l.close()));
    await broker.close();
    throw error;
  }
}
