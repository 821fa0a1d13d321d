import type { QoS } from 'mqtt-packet';
import type { LatencySummary } from './histogram.js';

/** Where the load clients connect. */
interface Endpoint {
  host: string;
  port: number;
  /** Client ids are `${idPrefix}-${n}`. */
  idPrefix: string;
  /** Receive Maximum announced by each client. */
  receiveMaximum: number;
}

/** Subscribers to one topic; with `latency`, payloads carry a send timestamp to histogram. */
export interface SubscribersSpec extends Endpoint {
  role: 'subscribers';
  clients: number;
  topic: string;
  qos: QoS;
  latency: boolean;
}

/** Publishers to one topic, each sending `perClient` messages (or until `durationMs`). */
export interface PublishersSpec extends Endpoint {
  role: 'publishers';
  clients: number;
  topic: string;
  qos: QoS;
  payloadBytes: number;
  perClient: number;
  durationMs: number;
  /** QoS 1/2 PUBLISH packets each client keeps in flight at most (also capped by the broker's Receive Maximum). */
  inflight: number;
  /** Messages per second per client; undefined for as fast as the credit allows. */
  rate?: number;
  /** Put the send time into each payload (latency). */
  stamp: boolean;
}

/** Idle clients: connect (at most `concurrency` CONNECTs outstanding), then hold. */
export interface IdleSpec extends Endpoint {
  role: 'idle';
  clients: number;
  localAddress?: string;
  concurrency: number;
}

/**
 * Fleet devices `first` .. `first + clients - 1` of `devices`: each connects (at most `concurrency` CONNECTs
 * outstanding), then publishes one message to `${topicPrefix}/<index>/temp` every `intervalMs`, device g
 * at phase g × intervalMs / devices, until `durationMs`; each payload starts with its send time.
 */
export interface DevicesSpec extends Endpoint {
  role: 'devices';
  clients: number;
  first: number;
  devices: number;
  topicPrefix: string;
  qos: QoS;
  payloadBytes: number;
  intervalMs: number;
  durationMs: number;
  /** QoS 1/2 PUBLISH packets a device keeps in flight at most; a send due beyond it is skipped. */
  inflight: number;
  /** Keep alive announced in CONNECT, seconds. */
  keepalive: number;
  localAddress?: string;
  concurrency: number;
}

/** What a worker process is asked to do. */
export type WorkerSpec = SubscribersSpec | PublishersSpec | IdleSpec | DevicesSpec;

/**
 * Parent → worker. `go`: start (fleet devices: at monotonic microseconds `at`, the phases' origin shared by
 * every device process). `credit`: messages each publisher client may have sent in total so far.
 */
export type ToWorker =
  | { type: 'spec'; spec: WorkerSpec }
  | { type: 'go'; at?: number }
  | { type: 'credit'; perClient: number }
  | { type: 'check' }
  | { type: 'stop' };

/** What a worker measured; times are monotonic microseconds shared by the processes of the machine. */
export interface WorkerResult {
  /** CPU seconds (user + system) of the worker process between 'go' and 'stop'. */
  cpuSeconds: number;
  sent: number;
  received: number;
  firstAt?: number;
  lastAt?: number;
  latency?: LatencySummary;
  /** The subscribers' latency histogram (hdr-histogram-js compressed base64), to merge over processes. */
  histogram?: string;
  /** Fleet devices: clients connected, and sends skipped (window full or connection gone). */
  connected?: number;
  skipped?: number;
  /** Why clients ended early, with how many ended so. */
  errors: Record<string, number>;
}

/** Worker → parent. `progress`: the fewest messages one of its subscribers has, and the sum. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'progress'; min: number; total: number }
  | { type: 'finished'; sent: number; skipped?: number }
  | {
      type: 'connected';
      connected: number;
      cpuSeconds: number;
      failed: number;
      firstAt: number;
      lastAt: number;
      errors: Record<string, number>;
    }
  | { type: 'checked'; open: number }
  | { type: 'done'; result: WorkerResult }
  | { type: 'error'; message: string };
