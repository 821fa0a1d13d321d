import type { QoS } from 'mqtt-packet';

/** The benchmark scenarios. */
export const SCENARIOS = ['fan-in', 'fan-out', 'latency', 'connections', 'fleet'] as const;
/** One of SCENARIOS. */
export type Scenario = (typeof SCENARIOS)[number];

/** Everything a benchmark run needs; `resolveBenchOptions` fills the defaults and checks the bounds. */
export interface BenchOptions {
  scenario: Scenario;
  /** Brokers to run, in the order of the alternation: 'embedded', 'mosquitto' or loopback mqtt:// URLs. */
  brokers: string[];
  /** Rounds per broker; at least 3 when comparing (ratios of medians). */
  rounds: number;
  qos: QoS;
  /** Payload size in bytes. */
  payload: number;
  /** Messages published per round (all publishers together); the round also ends at `duration`. */
  count: number;
  /** Seconds a round may publish for (fleet: publishes for). */
  duration: number;
  /** Publishers in fan-in. */
  publishers: number;
  /** Subscribers in fan-out and fleet. */
  subscribers: number;
  /** Fleet: devices, each on its own connection. */
  devices: number;
  /** Fleet: milliseconds between two messages of one device. */
  interval: number;
  /** Fleet: the subscribers form one `$share` group (each message to one of them) instead of each getting all. */
  share: boolean;
  /** Messages per second in latency. */
  rate: number;
  /** Idle clients in connections. */
  clients: number;
  /** QoS 1/2 packets in flight per connection: the publishers' window, the Receive Maximum of both sides. */
  inflight: number;
  /** Messages published but not yet delivered to every subscriber, at most (end-to-end window). */
  window: number;
  /** Load-generator processes per side (publishers, subscribers). */
  workers: number;
  /** Seconds the idle connections are held before they are counted again. */
  hold: number;
  /** Write a V8 CPU profile of the embedded broker into this directory. */
  profileDir?: string;
}

/** Defaults, per scenario where they differ. */
export function defaultOptions(scenario: Scenario): Omit<BenchOptions, 'brokers'> {
  return {
    scenario,
    rounds: 3,
    qos: 0,
    payload: 64,
    count: scenario === 'latency' ? 100_000 : 1_000_000,
    duration: 10,
    publishers: 8,
    subscribers: scenario === 'fleet' ? 1 : 8,
    devices: 1000,
    interval: 1000,
    share: false,
    rate: 10_000,
    clients: 1000,
    inflight: 32,
    window: 4000,
    workers: 2,
    hold: 2,
  };
}

/** Brokers one `--compare` run alternates between at most. */
export const MAX_COMPARED = 4;

/** Upper bounds that keep every run bounded in count and time. */
const LIMITS = {
  rounds: 20,
  count: 100_000_000,
  duration: 300,
  publishers: 1000,
  subscribers: 1000,
  rate: 1_000_000,
  clients: 100_000,
  devices: 100_000,
  interval: 3_600_000,
  inflight: 65535,
  window: 1_000_000,
  workers: 16,
  hold: 300,
  payload: 1_000_000,
};

/** Merges given options over the defaults and checks them; throws a one-line error for the first problem. */
export function resolveBenchOptions(
  given: Partial<Omit<BenchOptions, 'scenario' | 'brokers'>> & { scenario: string; brokers: string[] },
): BenchOptions {
  if (!SCENARIOS.includes(given.scenario as Scenario))
    throw new Error(`unknown scenario "${given.scenario}" (one of ${SCENARIOS.join(', ')})`);
  const scenario = given.scenario as Scenario;
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  const o: BenchOptions = { ...defaultOptions(scenario), ...defined, scenario, brokers: given.brokers };
  if (o.brokers.length === 0) throw new Error('no broker to benchmark');
  if (new Set(o.brokers).size !== o.brokers.length) throw new Error(`--compare lists a broker twice: ${o.brokers.join(',')}`);
  if (o.brokers.length > MAX_COMPARED) throw new Error(`--compare takes at most ${MAX_COMPARED} brokers (got ${o.brokers.length})`);
  if (o.brokers.length > 1 && o.rounds < 3)
    throw new Error(`--compare needs --rounds of at least 3 for ratios of medians (got ${o.rounds})`);
  if (o.qos !== 0 && o.qos !== 1 && o.qos !== 2) throw new Error(`--qos must be 0, 1 or 2 (got ${o.qos})`);
  for (const [name, max] of Object.entries(LIMITS)) {
    const value = o[name as keyof typeof LIMITS];
    if (!Number.isInteger(value) || value < 1 || value > max)
      throw new Error(`--${name} must be a whole number from 1 to ${max} (got ${value})`);
  }
  if ((scenario === 'latency' || scenario === 'fleet') && o.payload < 8)
    throw new Error(`${scenario} needs --payload of at least 8 bytes (the send timestamp)`);
  if (scenario === 'fan-in' && o.count < o.publishers)
    throw new Error(`--count ${o.count} is less than one message per publisher (${o.publishers})`);
  return o;
}
