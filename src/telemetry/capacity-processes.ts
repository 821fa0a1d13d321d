/** The processes of a capacity step: broker, store, ingest processes, and how to read them. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  freePort,
  processCpuSeconds,
  processTreeCpuSeconds,
  registerChild,
  startMosquittoProcess,
  startPostgresProcess,
  waitForPort,
  type PostgresProcess,
} from '../util/index.js';
import type { CapacityBroker, CapacityOptions } from './capacity.js';
import type { IngestStats } from './ingest.js';

const CLI = fileURLToPath(new URL('../cli/index.js', import.meta.url));

/** The store of one step: the location ingest processes get, the server's pid (for CPU) if we run it. */
export interface StepStore {
  location: string;
  pid?: number;
  close(): Promise<void>;
}

/** `sqlite`: a file in the step's temp dir; `postgres`: a local PostgreSQL of our own (fsync on); a URL: used as it is. */
export async function startStepStore(store: string | undefined, work: string): Promise<StepStore> {
  if (!store || store === 'sqlite') return { location: join(work, 'telemetry.db'), close: async () => {} };
  if (store !== 'postgres') return { location: store, close: async () => {} };
  const server: PostgresProcess = await startPostgresProcess();
  return { location: server.url, pid: server.pid, close: () => server.close() };
}

/** The label of a store in results: sqlite, postgres (ours) or postgresql (a URL given). */
export function storeKind(store: string | undefined): string {
  return !store || store === 'sqlite' ? 'sqlite' : store === 'postgres' ? 'postgres' : 'postgresql';
}

/** Starts the ingest processes, each with its own --instance and API port, and waits for their APIs. */
export async function startIngests(
  url: string,
  location: string,
  options: CapacityOptions,
  children: ChildProcess[],
): Promise<Array<{ child: ChildProcess; api: string }>> {
  const count = options.ingestProcesses ?? 1;
  const out: Array<{ child: ChildProcess; api: string }> = [];
  for (let p = 1; p <= count; p++) {
    const port = await freePort();
    const instance = count > 1 ? ['--instance', `p${p}`] : [];
    const child = spawnCli(
      ['ingest', '--broker', url, '--workers', String(options.workers), '--port', String(port), '--store', location, ...instance],
      children,
    );
    out.push({ child, api: `http://127.0.0.1:${port}/api/stats` });
  }
  for (const [i, { child }] of out.entries())
    await waitForPort(Number(new URL(out[i]!.api).port), 20_000, () => child.exitCode !== null).catch(() => {
      throw new Error(failure('ingestion', child));
    });
  return out;
}

/** The stats of all ingest processes as one: counts added, the worst lag; undefined if one does not answer. */
export async function combinedStats(apis: string[]): Promise<IngestStats | undefined> {
  const all = await Promise.all(apis.map(getStats));
  if (all.some((s) => !s)) return undefined;
  const stats = all as IngestStats[];
  const lags = stats.map((s) => s.lag).filter((l): l is NonNullable<IngestStats['lag']> => l !== null);
  return {
    ...stats[0]!,
    readings: stats.reduce((sum, s) => sum + s.readings, 0),
    alerts: stats.reduce((sum, s) => sum + s.alerts, 0),
    backlog: stats.reduce((sum, s) => sum + s.backlog, 0),
    lag: lags.length ? { meanMs: Math.max(...lags.map((l) => l.meanMs)), maxMs: Math.max(...lags.map((l) => l.maxMs)) } : null,
  };
}

/** A broker for one step: its pid (for CPU) and how to stop it. */
export interface StepBroker {
  pid: number;
  url: string;
  close(): Promise<void>;
}

export async function startBroker(kind: CapacityBroker, children: ChildProcess[]): Promise<StepBroker> {
  if (kind === 'mosquitto') {
    // Queues deep enough that a slow ingest worker shows up as lag, not as Mosquitto dropping QoS 0.
    const m = await startMosquittoProcess({ config: ['max_queued_messages 100000'] });
    return { pid: m.pid, url: m.url, close: () => m.close() };
  }
  const port = await freePort();
  const child = spawnCli(['broker', '-p', String(port), '-w', '0', '--sys-interval', '0'], children);
  await waitForPort(port, 10_000, () => child.exitCode !== null);
  return { pid: child.pid!, url: `mqtt://127.0.0.1:${port}`, close: async () => {} };
}

/** The last 2 KB a child wrote to stderr, to say why it failed. */
const stderrTails = new WeakMap<ChildProcess, string>();

export function spawnCli(args: string[], children: ChildProcess[]): ChildProcess {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Drain what nobody reads, so a chatty child never blocks on a full pipe.
  child.stdout!.resume();
  child.stderr!.on('data', (d: Buffer) => stderrTails.set(child, ((stderrTails.get(child) ?? '') + d.toString()).slice(-2048)));
  children.push(child);
  // Ctrl-C or an error in `capacity` stops its children at once, not when their --duration ends.
  registerChild(`mqttlab ${args[0]} (pid ${child.pid})`, child, { graceMs: 3000 });
  return child;
}

export function failure(name: string, child: ChildProcess): string {
  const tail = (stderrTails.get(child) ?? '').trim().split('\n').slice(-3).join(' | ');
  return `${name} ${child.exitCode === null ? 'stopped answering' : `exited with code ${child.exitCode}`}${tail ? `: ${tail}` : ''}`;
}

export async function getStats(url: string): Promise<IngestStats | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return (await response.json()) as IngestStats;
  } catch {
    return undefined;
  }
}

/** CPU seconds a process (with `tree`, and its children) used so far; 0 once it has exited. */
export function cpuSeconds(pid: number, tree = false): number {
  try {
    return tree ? processTreeCpuSeconds(pid) : processCpuSeconds(pid);
  } catch {
    return 0;
  }
}
