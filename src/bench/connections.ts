import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mergeErrors, type RoundOutcome } from './metrics.js';
import type { BenchOptions } from './options.js';
import { openFileLimits } from '../util/index.js';
import { portFor, targetCpuSeconds, targetRssKb, type BenchTarget } from './targets.js';
import { LoadWorker, split } from './workers.js';

/** Clients per generator process at most, and one loopback source address per process. */
const CLIENTS_PER_WORKER = 5000;
/** CONNECTs outstanding per generator process. */
export const CONNECT_CONCURRENCY = 100;
/** Seconds between the last CONNACK and reading the broker's memory. */
const SETTLE_SECONDS = 1;
/** Ephemeral ports left to other work when deciding whether to spread clients over source addresses. */
const PORT_MARGIN = 4096;
/** Open files a process needs beyond its sockets (stdio, IPC, epoll, listener...). */
export const FD_MARGIN = 64;

/**
 * One round of the connections scenario: `clients` idle MQTT 5 clients connect (bounded concurrency),
 * spread over generator processes, each on its own source address 127.0.0.x when one address would run
 * short of ephemeral ports; the broker's RSS before and after gives its memory per connection.
 */
export async function runConnections(target: BenchTarget, o: BenchOptions, onProgress: (fraction: number) => void): Promise<RoundOutcome> {
  // On a cluster, as many generator processes per node, so each node takes the same share of the clients.
  const { counts, localAddress } = spreadClients(o.clients, target.host, 1, target.nodes?.length ?? 1);
  const run = randomBytes(4).toString('hex');
  const workers: LoadWorker[] = [];
  try {
    const started = await Promise.all(
      counts.map((clients, i) =>
        LoadWorker.start({
          role: 'idle',
          host: target.host,
          port: portFor(target, i),
          idPrefix: `c${run}${i}`,
          receiveMaximum: o.inflight,
          clients,
          localAddress: localAddress(i),
          concurrency: CONNECT_CONCURRENCY,
        }),
      ),
    );
    workers.push(...started);
    const rssBefore = targetRssKb(target);
    const cpu0 = targetCpuSeconds(target) ?? 0;
    const connectedAll = Promise.all(workers.map((w) => w.next('connected')));
    for (const w of workers) w.send({ type: 'go' });
    onProgress(0.1);
    const connected = await connectedAll;
    onProgress(0.5);
    const firstAt = Math.min(...connected.map((c) => c.firstAt));
    const lastAt = Math.max(...connected.map((c) => c.lastAt));
    const connectSeconds = Math.max(1e-6, (lastAt - firstAt) / 1e6);
    const cpu1 = targetCpuSeconds(target);
    const brokerCpu = cpu1 === undefined ? undefined : cpu1 - cpu0;
    await sleep(SETTLE_SECONDS * 1000);
    const rssAfter = targetRssKb(target);
    await sleep(o.hold * 1000);
    onProgress(0.9);
    const checks = await Promise.all(
      workers.map((w) => {
        const checked = w.next('checked');
        w.send({ type: 'check' });
        return checked;
      }),
    );
    const results = await Promise.all(workers.map((w) => w.stop()));
    const n = connected.reduce((a, c) => a + c.connected, 0);
    const workerCpu = connected.map((c) => c.cpuSeconds);
    return {
      metrics: {
        connected: n,
        failed: connected.reduce((a, c) => a + c.failed, 0),
        heldOpen: checks.reduce((a, c) => a + c.open, 0),
        connectsPerSecond: n / connectSeconds,
        kbPerConnection: rssBefore === undefined || rssAfter === undefined || n === 0 ? null : (rssAfter - rssBefore) / n,
        rssBeforeMb: rssBefore === undefined ? null : rssBefore / 1024,
        rssAfterMb: rssAfter === undefined ? null : rssAfter / 1024,
        seconds: connectSeconds,
        brokerCpuPercent: brokerCpu === undefined ? null : (100 * brokerCpu) / connectSeconds,
        generatorCpuPercent: (100 * workerCpu.reduce((a, b) => a + b, 0)) / connectSeconds,
        generatorMaxCpuPercent: (100 * Math.max(...workerCpu)) / connectSeconds,
      },
      errors: mergeErrors(results.map((r) => r.errors)),
    };
  } finally {
    for (const w of workers) w.kill();
  }
}

/**
 * How many clients each generator process opens (at most CLIENTS_PER_WORKER and its open-file limit, over at
 * least `minWorkers` processes, their number a multiple of `multipleOf`) and from which source address:
 * 127.0.0.2, .3, … one per process, only once one address would run short of ephemeral ports — connect()
 * without bind() picks ports per destination, while bind() must avoid every port in use (TIME_WAIT included)
 * on the address.
 */
export function spreadClients(
  clients: number,
  host: string,
  minWorkers = 1,
  multipleOf = 1,
): { counts: number[]; localAddress: (i: number) => string | undefined } {
  const perWorker = Math.max(1, Math.min(CLIENTS_PER_WORKER, openFileLimits().soft - FD_MARGIN));
  const needed = Math.max(minWorkers, Math.ceil(clients / perWorker));
  const counts = split(clients, Math.min(clients, Math.ceil(needed / multipleOf) * multipleOf));
  const spread = /^127\./.test(host) && clients > ephemeralPorts() - PORT_MARGIN;
  return { counts, localAddress: (i) => (spread ? `127.0.0.${2 + (i % 250)}` : undefined) };
}

/** Size of the local ephemeral port range (/proc/sys/net/ipv4/ip_local_port_range). */
function ephemeralPorts(): number {
  const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  return high! - low! + 1;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
