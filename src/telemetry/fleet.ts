import { randomBytes } from 'node:crypto';
import type { LinkProfile, LinkProxy } from '../link/index.js';
import { Random } from '../util/index.js';
import { SimulatedDevice, type SentKind } from './device.js';
import { closeDeviceLinks, openDeviceLinks, type DeviceLink, type LinkCounters } from './fleet-links.js';

/** How chaos drops devices: every `everyMs` one online device loses power and comes back later. */
export interface ChaosOptions {
  everyMs?: number;
  /** How long a dropped device stays away, a random time in this range. */
  downMs?: [number, number];
  /** Never more than this share of the fleet away at once. */
  maxDownShare?: number;
}

export interface FleetOptions {
  url: string;
  /** Brokers to spread the devices over, device i on the (i mod n)-th: a cluster's nodes. Default: `url` alone. */
  urls?: readonly string[];
  devices: number;
  /** Sites the devices are spread over, round robin. Default: one per 20 devices, at least 1. */
  sites?: number;
  /** Milliseconds between two rounds of readings of one device. Default 2000. */
  intervalMs?: number;
  chaos?: boolean | ChaosOptions;
  /** Seed of the sensor models and of chaos. Default 1. */
  seed?: number;
  /** Devices connecting at the same time while the fleet starts. Default 50. */
  connectConcurrency?: number;
  willDelaySeconds?: number;
  heatEventProbability?: number;
  /** Start-up progress and chaos events. */
  onEvent?: (event: FleetEvent) => void;
  /**
   * Each device connects through its own emulated link with these faults (a proxy per device, seeded
   * from `seed`), keeps a persistent session and reconnects with backoff. Needs an mqtt:// URL.
   */
  link?: LinkProfile;
}

/** One device's link as the fleet sees it: its profile, reconnects, readings sent and what the link did. */
export interface FleetDeviceLink extends LinkCounters {
  device: string;
  link: string;
  reconnects: number;
  readingsSent: number;
}

/** The fleet's link counters summed over its devices. */
export type FleetLinkTotals = Omit<FleetDeviceLink, 'device' | 'link'>;

/** Sums the counters of `devices` (Fleet.links()). */
export function fleetLinkTotals(devices: readonly FleetDeviceLink[]): FleetLinkTotals {
  const totals: FleetLinkTotals = { reconnects: 0, readingsSent: 0, readingsLostOnLink: 0, alertsResent: 0, cuts: 0 };
  for (const d of devices) for (const key of Object.keys(totals) as Array<keyof FleetLinkTotals>) totals[key] += d[key];
  return totals;
}

export type FleetEvent =
  | { type: 'connected'; device: string; done: number; total: number }
  | { type: 'killed' | 'revived'; device: string }
  | { type: 'lost'; device: string; reason: string }
  | { type: 'reconnected'; device: string }
  | { type: 'error'; device: string; message: string };

/** What the fleet completed, by kind and by QoS (QoS 1/2 counted when acknowledged). */
export interface FleetCounters {
  telemetry: number;
  alerts: number;
  status: number;
  replies: number;
  qos0: number;
  qos1: number;
  qos2: number;
  errors: number;
}

/** A running fleet of simulated devices. */
export interface Fleet {
  /** Device ids in order (`dev-001`, …). */
  readonly devices: string[];
  readonly sent: FleetCounters;
  /** Devices with a live connection now. */
  online(): number;
  /** Drops a device without DISCONNECT: its will turns its status `offline`. */
  kill(device: string): Promise<void>;
  /** Brings a killed device back: it connects again and says `online`. */
  revive(device: string): Promise<void>;
  /** Makes a device raise an alert (QoS 1); resolves on PUBACK. */
  alert(device: string, message?: string): Promise<void>;
  /** Every device says `offline` and disconnects normally. */
  stop(): Promise<void>;
  /** Per device with a link (empty without one): reconnects and what its link lost or resent. */
  links(): FleetDeviceLink[];
  /** A device's link proxy (undefined without a link), e.g. to change its faults. */
  linkOf(device: string): LinkProxy | undefined;
}

/** Starts `devices` simulated devices against the broker at `url` and resolves when all are online. */
export async function startFleet(options: FleetOptions): Promise<Fleet> {
  if (!Number.isInteger(options.devices) || options.devices < 1)
    throw new Error(`devices must be a positive integer (got ${options.devices})`);
  const siteCount = Math.max(1, options.sites ?? Math.ceil(options.devices / 20));
  const intervalMs = options.intervalMs ?? 2000;
  if (!Number.isInteger(intervalMs) || intervalMs < 10) throw new Error(`interval must be at least 10 ms (got ${intervalMs})`);
  const seed = options.seed ?? 1;
  const runId = randomBytes(3).toString('hex');
  const width = Math.max(3, String(options.devices).length);
  const sent: FleetCounters = { telemetry: 0, alerts: 0, status: 0, replies: 0, qos0: 0, qos1: 0, qos2: 0, errors: 0 };
  const countKind: Record<SentKind, keyof FleetCounters> = { telemetry: 'telemetry', alert: 'alerts', status: 'status', reply: 'replies' };
  const byId = new Map<string, SimulatedDevice>();
  const emit = options.onEvent ?? (() => {});

  const ids = Array.from({ length: options.devices }, (_, i) => `dev-${String(i + 1).padStart(width, '0')}`);
  const links: Map<string, DeviceLink> = options.link ? await openDeviceLinks(options.url, options.link, ids, seed) : new Map();

  const makeDevice = (id: string, index: number) =>
    new SimulatedDevice({
      url: links.get(id)?.proxy.url ?? (options.urls?.length ? options.urls[index % options.urls.length]! : options.url),
      link: options.link?.name,
      id,
      site: `site-${(index % siteCount) + 1}`,
      intervalMs,
      seed: seed * 100_003 + index,
      runId,
      willDelaySeconds: options.willDelaySeconds,
      heatEventProbability: options.heatEventProbability,
      onSent: (kind, qos) => {
        sent[countKind[kind]]++;
        sent[`qos${qos}`]++;
      },
      onError: (error) => {
        sent.errors++;
        emit({ type: 'error', device: id, message: error.message });
      },
      onConnection: (change) =>
        emit(change.state === 'lost' ? { type: 'lost', device: id, reason: change.reason } : { type: 'reconnected', device: id }),
    });

  for (const [i, id] of ids.entries()) byId.set(id, makeDevice(id, i));
  const device = (id: string): SimulatedDevice => {
    const d = byId.get(id);
    if (!d) throw new Error(`no device "${id}" in this fleet`);
    return d;
  };

  const all = [...byId.values()];
  let done = 0;
  const concurrency = Math.max(1, options.connectConcurrency ?? 50);
  try {
    for (let i = 0; i < all.length; i += concurrency) {
      await Promise.all(
        all.slice(i, i + concurrency).map(async (d) => {
          await d.start();
          emit({ type: 'connected', device: d.id, done: ++done, total: all.length });
        }),
      );
    }
  } catch (error) {
    await Promise.all(all.map((d) => d.stop().catch(() => {})));
    await closeDeviceLinks(links);
    throw error;
  }

  const chaos = startChaos(options.chaos, all, seed, emit);

  return {
    devices: ids,
    sent,
    online: () => all.filter((d) => d.online).length,
    kill: async (id) => {
      device(id).kill();
      emit({ type: 'killed', device: id });
    },
    revive: async (id) => {
      await device(id).start();
      emit({ type: 'revived', device: id });
    },
    alert: (id, message = 'manual alert') => device(id).raiseAlert({ type: 'manual', message, v: 0 }),
    stop: async () => {
      chaos.stop();
      await Promise.all(all.map((d) => d.stop().catch(() => {})));
      await closeDeviceLinks(links);
    },
    links: () =>
      [...links].map(([id, l]) => ({
        device: id,
        link: options.link!.name,
        reconnects: device(id).reconnects,
        readingsSent: device(id).readingsSent,
        ...l.counters,
      })),
    linkOf: (id) => links.get(device(id).id)?.proxy,
  };
}

/** The chaos loop: drops devices ungracefully and brings them back, so presence really flips. */
function startChaos(
  option: FleetOptions['chaos'],
  devices: SimulatedDevice[],
  seed: number,
  emit: (e: FleetEvent) => void,
): { stop(): void } {
  if (!option) return { stop: () => {} };
  const settings = option === true ? {} : option;
  const everyMs = settings.everyMs ?? 5000;
  const [minDown, maxDown] = settings.downMs ?? [3000, 10_000];
  const maxAway = Math.max(1, Math.floor(devices.length * (settings.maxDownShare ?? 0.1)));
  const random = new Random(seed ^ 0x5eed);
  const away = new Set<SimulatedDevice>();
  const revivals = new Set<NodeJS.Timeout>();
  let stopped = false;
  const tick = setInterval(() => {
    if (away.size >= maxAway) return;
    const candidates = devices.filter((d) => d.online && !away.has(d));
    if (candidates.length === 0) return;
    const victim = candidates[random.int(candidates.length)]!;
    victim.kill();
    away.add(victim);
    emit({ type: 'killed', device: victim.id });
    const timer = setTimeout(
      () => {
        revivals.delete(timer);
        if (stopped) return;
        victim.start().then(
          () => {
            away.delete(victim);
            emit({ type: 'revived', device: victim.id });
          },
          (error: Error) => {
            away.delete(victim);
            emit({ type: 'error', device: victim.id, message: `could not come back: ${error.message}` });
          },
        );
      },
      random.between(minDown, maxDown),
    );
    revivals.add(timer);
  }, everyMs);
  return {
    stop: () => {
      stopped = true;
      clearInterval(tick);
      for (const t of revivals) clearTimeout(t);
    },
  };
}
