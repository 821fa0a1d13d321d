import type { QoS } from 'mqtt-packet';
import type { LinkFaults } from '../link/index.js';
import type { QosOutcome } from './tally.js';

/** What a chaos run does. */
export interface ChaosOptions {
  /** `embedded` (mqttlab broker --data-dir, a child process), `mosquitto` (with persistence), or a broker URL. */
  broker: string;
  qos: QoS[];
  /** Messages per QoS level. */
  messages: number;
  /** Faults of every client's link (publishers and subscribers alike). */
  faults: LinkFaults;
  /** Times the broker is SIGKILLed and restarted, spread over the run. */
  killBroker: number;
  seed: number;
  /** The subscribers' Receive Maximum. */
  receiveMaximum: number;
  /** Unacknowledged messages per publisher at most. */
  window: number;
  /** The whole run ends by then. */
  timeoutMs: number;
  /** Of that, the time kept at the end for the repaired link (default: a quarter, 15 s at most). */
  repairMs?: number;
  /** Receives every packet and event on the links, one line each (for `--trace`). */
  trace?: (line: string) => void;
}

/** Defaults of `mqttlab chaos`. */
export const CHAOS_DEFAULTS: ChaosOptions = {
  broker: 'embedded',
  qos: [0, 1, 2],
  messages: 1000,
  faults: { cutEvery: 50 },
  killBroker: 0,
  seed: 1,
  receiveMaximum: 10,
  window: 10,
  timeoutMs: 120_000,
};

/** A SIGKILL of the broker: when, at what progress, and how long until it accepted connections again. */
export interface BrokerKill {
  atMs: number;
  /** Fraction of all messages acknowledged (sent, at QoS 0) when it was killed. */
  progress: number;
  downMs: number;
}

/** Live counts while a run goes. */
export interface ChaosProgress {
  elapsedMs: number;
  flows: Array<{ qos: QoS; sent: number; acknowledged: number; received: number }>;
  cuts: number;
  kills: number;
  /** True once the faults are off and the subscribers catch up. */
  repaired: boolean;
}

/** The result of a chaos run. */
export interface ChaosReport {
  broker: string;
  faults: string;
  messagesPerQos: number;
  receiveMaximum: number;
  outcomes: QosOutcome[];
  kills: BrokerKill[];
  /** Connections broken by the link faults (not counting the broker's own deaths). */
  cuts: number;
  reconnects: { publishers: number; subscribers: number };
  /** Milliseconds from the start to the end of the faults (publishing done, or its share of the time used up). */
  faultsMs: number;
  durationMs: number;
  /** What the broker process wrote to stderr (errors, warnings), deduplicated. */
  brokerErrors: string[];
  /** True when the time bound ended the run (before every message was acknowledged and received). */
  timedOut: boolean;
}
