import { describe } from 'node:test';
import { createBroker, type Broker, type CreateBrokerOptions } from '../../src/broker/index.js';
import { findMosquitto, startMosquittoProcess } from '../../src/util/index.js';

export type BrokerKind = 'embedded' | 'mosquitto';

/** A broker started for a test, on a free loopback port. */
export interface TestBroker {
  readonly kind: BrokerKind;
  readonly host: string;
  readonly port: number;
  readonly url: string;
  readonly wsUrl?: string;
  /** The core, for the embedded broker only (to inspect state). */
  readonly broker?: Broker;
  close(): Promise<void>;
}

/** Options for either broker: the embedded broker's options and Mosquitto config lines meaning the same. */
export interface StartOptions {
  embedded?: CreateBrokerOptions;
  mosquitto?: string[];
  /** Also open a WebSocket listener. */
  websocket?: boolean;
}

/** Path of the mosquitto binary, or undefined when it is not installed. */
export const mosquittoPath: string | undefined = findMosquitto();

/** Starts the embedded broker on free loopback ports. */
export async function startEmbedded(options: StartOptions = {}): Promise<TestBroker> {
  const running = await createBroker({ sysInterval: 0, ...options.embedded, host: '127.0.0.1', port: 0, wsPort: options.websocket ? 0 : false });
  return { kind: 'embedded', host: '127.0.0.1', port: running.port!, url: running.url!, wsUrl: running.wsUrl, broker: running.broker, close: () => running.close() };
}

/** Starts a real `mosquitto` with a generated config on free loopback ports. */
export async function startMosquitto(options: StartOptions = {}): Promise<TestBroker> {
  const m = await startMosquittoProcess({ config: options.mosquitto, websocket: options.websocket });
  return { kind: 'mosquitto', host: '127.0.0.1', port: m.port, url: m.url, wsUrl: m.wsUrl, close: () => m.close() };
}

/** Starts a broker of the given kind. */
export function startBroker(kind: BrokerKind, options: StartOptions = {}): Promise<TestBroker> {
  return kind === 'embedded' ? startEmbedded(options) : startMosquitto(options);
}

/**
 * Runs a suite once per broker: the embedded broker always, Mosquitto 2 when it is installed
 * (skipped with a message otherwise). The suite body receives the kind to pass to startBroker.
 */
export function describeEachBroker(title: string, body: (kind: BrokerKind) => void): void {
  for (const kind of ['embedded', 'mosquitto'] as const) {
    const skip = kind === 'mosquitto' && !mosquittoPath ? 'mosquitto is not installed' : false;
    describe(`${title} [${kind}]`, { skip }, () => body(kind));
  }
}
