import { describe } from 'node:test';
import {
  brokerOptionsFromConfig,
  createBroker,
  parseMosquittoConf,
  type Broker,
  type CreateBrokerOptions,
} from '../../src/broker/index.js';
import { findMosquitto, runMosquittoConfig, startMosquittoProcess } from '../../src/util/index.js';
import { clusterUnavailable, startTestCluster, type TestCluster } from './cluster.js';

/** The brokers a wire test runs against: ours, Mosquitto 2, and three of our nodes clustered on NATS behind a balancer. */
export type BrokerKind = 'embedded' | 'mosquitto' | 'cluster';

/** A broker started for a test, on a free loopback port. */
export interface TestBroker {
  readonly kind: BrokerKind;
  readonly host: string;
  readonly port: number;
  readonly url: string;
  readonly wsUrl?: string;
  /** The core, for the embedded broker only (to inspect state). */
  readonly broker?: Broker;
  /** The cluster's nodes, for the cluster only (to connect to one node directly). */
  readonly cluster?: TestCluster;
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
  const running = await createBroker({
    sysInterval: 0,
    ...options.embedded,
    host: '127.0.0.1',
    port: 0,
    wsPort: options.websocket ? 0 : false,
  });
  return {
    kind: 'embedded',
    host: '127.0.0.1',
    port: running.port!,
    url: running.url!,
    wsUrl: running.wsUrl,
    broker: running.broker,
    close: () => running.close(),
  };
}

/** Runs `check` on an embedded broker started with `options`, and closes the broker however it ends. */
export async function withEmbedded(options: StartOptions, check: (broker: TestBroker) => Promise<void>): Promise<void> {
  const b = await startEmbedded(options);
  try {
    await check(b);
  } finally {
    await b.close();
  }
}

/** Starts three clustered nodes behind a round-robin balancer (the embedded options apply to each node). */
export async function startCluster(options: StartOptions = {}, port?: number): Promise<TestBroker> {
  const cluster = await startTestCluster({ node: options.embedded, websocket: options.websocket, port });
  return {
    kind: 'cluster',
    host: '127.0.0.1',
    port: cluster.balancer.port,
    url: cluster.balancer.url,
    wsUrl: cluster.wsBalancer && `ws://127.0.0.1:${cluster.wsBalancer.port}`,
    cluster,
    close: () => cluster.close(),
  };
}

/** Starts a real `mosquitto` with a generated config on free loopback ports. */
export async function startMosquitto(options: StartOptions = {}): Promise<TestBroker> {
  const m = await startMosquittoProcess({ config: options.mosquitto, websocket: options.websocket });
  return { kind: 'mosquitto', host: '127.0.0.1', port: m.port, url: m.url, wsUrl: m.wsUrl, close: () => m.close() };
}

/**
 * Starts either broker from the same Mosquitto config lines, `listener` lines included (take ports from
 * freePort()): Mosquitto reads them itself, the embedded broker through parseMosquittoConf. `port` and
 * `url` are those of the first listener.
 */
export async function startFromConfig(kind: BrokerKind, lines: string[]): Promise<TestBroker> {
  const config = parseMosquittoConf(lines.join('\n'), 'test.conf');
  const first = config.listeners[0]!;
  const scheme = (first.protocol === 'websockets' ? 'ws' : 'mqtt') + (first.certfile ? 's' : '');
  const url = `${scheme}://127.0.0.1:${first.port}`;
  if (kind === 'embedded') {
    const running = await createBroker({ sysInterval: 0, ...brokerOptionsFromConfig(config).options });
    return { kind, host: '127.0.0.1', port: first.port, url, broker: running.broker, close: () => running.close() };
  }
  if (kind === 'cluster') {
    // The nodes take the config's settings on free ports; the balancer takes the first listener's port.
    if (config.listeners.length > 1 || first.protocol !== 'mqtt' || first.certfile) {
      throw new Error('the cluster target balances one plain MQTT listener');
    }
    const { listeners: _listeners, ...options } = brokerOptionsFromConfig(config).options;
    return startCluster({ embedded: options }, first.port);
  }
  // Mosquitto opens its listeners one by one: a WebSocket one can come well after TCP on a loaded machine.
  const { close } = await runMosquittoConfig(
    lines,
    config.listeners.map((l) => l.port),
  );
  return { kind, host: '127.0.0.1', port: first.port, url, close };
}

/** Starts a broker of the given kind. */
export function startBroker(kind: BrokerKind, options: StartOptions = {}): Promise<TestBroker> {
  return kind === 'embedded' ? startEmbedded(options) : kind === 'mosquitto' ? startMosquitto(options) : startCluster(options);
}

/** What a suite says about the cluster target: runs on it (default), or why it cannot. */
export interface EachBrokerOptions {
  /** The one-line reason the suite cannot run against the cluster (in-process events, config files, ...). */
  notOnCluster?: string;
}

/**
 * Runs a suite once per broker: the embedded broker always, Mosquitto 2 when it is installed, and three
 * clustered nodes behind a round-robin balancer when nats-server and haproxy are installed (skipped
 * with a message otherwise). The suite body receives the kind to pass to startBroker.
 */
export function describeEachBroker(title: string, body: (kind: BrokerKind) => void, options: EachBrokerOptions = {}): void {
  for (const kind of ['embedded', 'mosquitto', 'cluster'] as const) {
    const skip =
      kind === 'mosquitto' && !mosquittoPath
        ? 'mosquitto is not installed'
        : kind === 'cluster'
          ? (options.notOnCluster ?? clusterUnavailable ?? false)
          : false;
    describe(`${title} [${kind}]`, { skip }, () => body(kind));
  }
}
