import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  combinedStats,
  cpuSeconds,
  failure,
  spawnCli,
  startBroker,
  startIngests,
  startStepStore,
  storeKind,
  type StepBroker,
  type StepStore,
} from './capacity-processes.js';
import { registerCleanup } from '../util/index.js';
import type { IngestStats } from './ingest.js';

/** Which broker a capacity run loads: ours (a child process) or a local Mosquitto. */
export type CapacityBroker = 'embedded' | 'mosquitto';

export interface CapacityOptions {
  /** Fleet sizes to try, in order; the run stops at the first that does not keep up. */
  devices: number[];
  intervalMs: number;
  /** Seconds of load per step, after the whole fleet is online. */
  seconds: number;
  /** Workers per ingest process. */
  workers: number;
  broker: CapacityBroker;
  /** `sqlite` (a temp file per process step), `postgres` (a temporary local PostgreSQL per step) or a postgresql:// URL. */
  store?: string;
  /** Ingest processes sharing the group; more than one needs PostgreSQL. Default 1. */
  ingestProcesses?: number;
  onProgress?: (line: string) => void;
  /** What a step is doing now, about once a second (for a live line on a terminal). */
  onStatus?: (line: string) => void;
}

/** One fleet size under load. */
export interface CapacityStep {
  devices: number;
  intervalMs: number;
  /** Readings per second the fleet sent (3 per device per interval). */
  offeredPerSecond: number;
  sent: number;
  stored: number;
  /** QoS 0 readings sent but never stored. */
  lost: number;
  /** Mean ingest lag (receive − reading time) over the last 10 s of the step. */
  lagMeanMs: number | null;
  lagMaxMs: number | null;
  /** Slope of the lag over the second half of the step: > 0 and large means a growing backlog. */
  lagTrendMsPerS: number;
  /** Share of one core used over the step: the broker, all ingest processes together, the fleet, PostgreSQL (server and backends). */
  cpu: { broker: number; ingest: number; fleet: number; postgres?: number };
  /** Ingest processes and the store they wrote. */
  ingestProcesses: number;
  store: string;
  /** Once-a-second polls of /api/stats that got no answer within 2 s during the load. */
  unansweredPolls: number;
  keptUp: boolean;
  /** Why the step could not be measured (e.g. the fleet did not come online in time). */
  error?: string;
}

/**
 * Measures the largest fleet one machine sustains with ingestion keeping up: broker, ingestion and
 * fleet each in their own process on loopback, one fleet size after another. "Keeping up" means no
 * reading lost, a mean lag under 1 s and no upward lag trend (no growing backlog).
 */
export async function measureCapacity(options: CapacityOptions): Promise<CapacityStep[]> {
  const processes = options.ingestProcesses ?? 1;
  if (!Number.isInteger(processes) || processes < 1 || processes > 16)
    throw new Error(`ingest processes must be an integer from 1 to 16 (got ${processes})`);
  if (processes > 1 && !/^postgres/i.test(options.store ?? 'sqlite'))
    throw new Error(
      'several ingest processes write one database: pass --store postgres (a temporary local PostgreSQL) or a postgresql:// URL',
    );
  const steps: CapacityStep[] = [];
  for (const devices of options.devices) {
    const step = await measureStep(devices, options).catch(
      (error: Error): CapacityStep => ({
        devices,
        intervalMs: options.intervalMs,
        offeredPerSecond: (devices * 3 * 1000) / options.intervalMs,
        sent: 0,
        stored: 0,
        lost: 0,
        lagMeanMs: null,
        lagMaxMs: null,
        lagTrendMsPerS: 0,
        cpu: { broker: 0, ingest: 0, fleet: 0 },
        ingestProcesses: processes,
        store: storeKind(options.store),
        unansweredPolls: 0,
        keptUp: false,
        error: error.message,
      }),
    );
    steps.push(step);
    options.onProgress?.(describeStep(step));
    if (!step.keptUp) break;
  }
  return steps;
}

/**
 * The verdict of a run: the largest size that kept up — or, when every size did, that the limit was not
 * reached (the largest size tried is then a lower bound, not the capacity).
 */
export function capacityVerdict(steps: CapacityStep[], setup: string): string {
  const best = steps.filter((s) => s.keptUp).at(-1);
  if (!best) return `no fleet size kept up (${setup})`;
  const rate = `${best.devices} devices, ${best.offeredPerSecond.toFixed(0)} readings/s`;
  if (steps.every((s) => s.keptUp)) return `every size kept up, up to ${rate} (${setup}); the limit was not reached: try larger --devices`;
  return `largest fleet that kept up: ${rate} (${setup})`;
}

/** One line per step, for progress and reports. */
export function describeStep(s: CapacityStep): string {
  if (s.error) return `${s.devices} devices: not measured: ${s.error}`;
  const lag =
    s.lagMeanMs === null ? 'no lag data' : `lag ${s.lagMeanMs} ms mean / ${s.lagMaxMs} ms max, trend ${s.lagTrendMsPerS.toFixed(1)} ms/s`;
  const api = s.unansweredPolls > 0 ? ` · API unanswered ${s.unansweredPolls}×` : '';
  const offered = `${s.devices} devices × 3 readings / ${s.intervalMs} ms = ${s.offeredPerSecond.toFixed(0)} msg/s offered`;
  const postgres = s.cpu.postgres !== undefined ? ` postgres ${pct(s.cpu.postgres)}` : '';
  const ingest = `ingest ${pct(s.cpu.ingest)} (${s.ingestProcesses} × ${s.store})`;
  const cpu = `CPU broker ${pct(s.cpu.broker)} ${ingest} fleet ${pct(s.cpu.fleet)}${postgres}`;
  const verdict = s.keptUp ? 'kept up' : 'DID NOT keep up';
  return `${offered} · stored ${s.stored}/${s.sent} (lost ${s.lost}) · ${lag} · ${cpu}${api} · ${verdict}`;
}

async function measureStep(devices: number, options: CapacityOptions): Promise<CapacityStep> {
  const work = mkdtempSync(join(tmpdir(), 'mqttlab-capacity-'));
  const removeWork = () => rmSync(work, { recursive: true, force: true });
  const releaseWork = registerCleanup({ what: `temp dir ${work}`, stop: async () => removeWork(), kill: removeWork });
  const children: ChildProcess[] = [];
  let broker: StepBroker | undefined;
  let store: StepStore | undefined;
  try {
    broker = await startBroker(options.broker, children);
    const url = broker.url;
    store = await startStepStore(options.store, work);
    const ingests = await startIngests(url, store.location, options, children);
    const pollStats = () => combinedStats(ingests.map((i) => i.api));
    const fleet = spawnCli(
      [
        'fleet',
        '--broker',
        url,
        '--devices',
        String(devices),
        '--interval',
        String(options.intervalMs),
        '--duration',
        String(options.seconds),
        '--json',
        '--sites',
        String(Math.max(1, Math.ceil(devices / 50))),
      ],
      children,
    );
    let fleetOut = '';
    let online = false;
    fleet.stdout!.on('data', (d: Buffer) => (fleetOut += d.toString()));
    fleet.stderr!.on('data', (d: Buffer) => {
      if (/all \d+ online/.test(d.toString())) online = true;
    });
    const fleetDone = new Promise<number>((resolve) => fleet.once('exit', (code) => resolve(code ?? 1)));
    // Startup of a large fleet is bounded too: 2 minutes, or 30 ms a device for larger fleets.
    const connectMs = Math.max(120_000, devices * 30);
    const connectDeadline = Date.now() + connectMs;
    while (!online && fleet.exitCode === null && Date.now() < connectDeadline) {
      options.onStatus?.(`${devices} devices: connecting the fleet (${Math.round((connectMs - (connectDeadline - Date.now())) / 1000)} s)`);
      await sleep(100);
    }
    if (!online)
      throw new Error(fleet.exitCode !== null ? failure('the fleet', fleet) : `the fleet did not come online within ${connectMs / 1000} s`);
    const cpuNow = () => ({
      broker: cpuSeconds(broker!.pid),
      ingest: ingests.reduce((sum, i) => sum + cpuSeconds(i.child.pid!), 0),
      fleet: cpuSeconds(fleet.pid!),
      postgres: store!.pid === undefined ? 0 : cpuSeconds(store!.pid, true),
    });
    const cpuStart = cpuNow();
    const startedAt = Date.now();
    const samples: Array<{ t: number; stats: IngestStats }> = [];
    let unanswered = 0;
    let cpuEnd = cpuStart;
    while (fleet.exitCode === null && Date.now() - startedAt < (options.seconds + 30) * 1000) {
      await sleep(1000);
      const stats = await pollStats();
      if (stats) samples.push({ t: (Date.now() - startedAt) / 1000, stats });
      else unanswered++;
      const lag = stats?.lag ? `lag ${stats.lag.meanMs} ms` : 'API not answering';
      const loaded = Math.min(options.seconds, Math.round((Date.now() - startedAt) / 1000));
      options.onStatus?.(`${devices} devices: load ${loaded}/${options.seconds} s · stored ${stats?.readings ?? '?'} · ${lag}`);
      if (fleet.exitCode === null) cpuEnd = cpuNow();
    }
    const elapsed = (Date.now() - startedAt) / 1000;
    if ((await fleetDone) !== 0) throw new Error(`the fleet exited with an error`);
    const summary = JSON.parse(fleetOut) as { sent: { telemetry: number }; seconds: number };
    // Let the last readings arrive and the last batch flush; a saturated ingestion may need a while.
    let final = await pollStats();
    const drainDeadline = Date.now() + 30_000;
    const ingestExited = () => ingests.find((i) => i.child.exitCode !== null);
    while ((!final || final.readings < summary.sent.telemetry) && !ingestExited() && Date.now() < drainDeadline) {
      await sleep(250);
      final = (await pollStats()) ?? final;
    }
    if (!final) throw new Error(failure('ingestion', (ingestExited() ?? ingests[0]!).child));
    const stored = final.readings;
    const loaded = samples.filter((s) => s.t <= options.seconds && s.stats.lag);
    const last = loaded.length ? loaded[loaded.length - 1]!.stats.lag : null;
    const trend = slope(loaded.filter((s) => s.t >= options.seconds / 2).map((s) => [s.t, s.stats.lag!.meanMs]));
    const lost = Math.max(0, summary.sent.telemetry - stored);
    const cpu = {
      broker: (cpuEnd.broker - cpuStart.broker) / elapsed,
      ingest: (cpuEnd.ingest - cpuStart.ingest) / elapsed,
      fleet: (cpuEnd.fleet - cpuStart.fleet) / elapsed,
      ...(store.pid !== undefined && { postgres: (cpuEnd.postgres - cpuStart.postgres) / elapsed }),
    };
    return {
      devices,
      intervalMs: options.intervalMs,
      offeredPerSecond: (devices * 3 * 1000) / options.intervalMs,
      sent: summary.sent.telemetry,
      stored,
      lost,
      lagMeanMs: last?.meanMs ?? null,
      lagMaxMs: last?.maxMs ?? null,
      lagTrendMsPerS: trend,
      cpu,
      ingestProcesses: ingests.length,
      store: storeKind(options.store),
      unansweredPolls: unanswered,
      // An API that does not answer within 2 s means ingestion's event loop is saturated.
      keptUp: lost === 0 && unanswered === 0 && last !== null && last.meanMs < 1000 && trend < 20,
    };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await broker?.close();
    await store?.close();
    await sleep(200);
    removeWork();
    releaseWork();
  }
}

/** Least-squares slope of y over x; 0 with fewer than 3 points. */
function slope(points: Array<[number, number]>): number {
  if (points.length < 3) return 0;
  const n = points.length;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  const num = points.reduce((s, p) => s + (p[0] - mx) * (p[1] - my), 0);
  const den = points.reduce((s, p) => s + (p[0] - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

function pct(share: number): string {
  return `${Math.round(share * 100)}%`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
