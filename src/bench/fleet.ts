import { randomBytes } from 'node:crypto';
import { CONNECT_CONCURRENCY, spreadClients } from './connections.js';
import { LatencyHistogram } from './histogram.js';
import { monotonicMicros } from './load-client.js';
import { mergeErrors, type Metrics, type RoundOutcome } from './metrics.js';
import type { BenchOptions } from './options.js';
import type { WorkerResult } from './protocol.js';
import { portFor, type BenchTarget } from './targets.js';
import { DeliveryWait, RoundMeter, type RoundTotals } from './round-meter.js';
import { LoadWorker, split } from './workers.js';

/** Seconds to wait, after the devices are done, for the last deliveries. */
const DRAIN_SECONDS = 5;
/** Milliseconds between 'go' and the schedule's origin, so every device process has it before it starts. */
const START_DELAY_MS = 50;
/** Keep alive of the devices, seconds: a device that publishes every second never needs a PINGREQ. */
const DEVICE_KEEPALIVE = 60;
/** Share name of the subscribers' group with --share. */
const SHARE_GROUP = 'bench';

/**
 * One round of the fleet scenario: `devices` connections spread over generator processes, each publishing
 * one message to `fleet/<run>/<index>/temp` every `interval` ms (phases spread evenly), and `subscribers`
 * on `fleet/<run>/+/temp` (or one `$share` group of them): delivered/s, lost, end-to-end latency, and the
 * CPU and memory of the broker while it carries that load.
 */
export async function runFleet(target: BenchTarget, o: BenchOptions, onProgress: (fraction: number) => void): Promise<RoundOutcome> {
  const run = randomBytes(4).toString('hex');
  const topicPrefix = `fleet/${run}`;
  const filter = `${o.share ? `$share/${SHARE_GROUP}/` : ''}${topicPrefix}/+/temp`;
  const base = { host: target.host, port: target.port, receiveMaximum: o.inflight, qos: o.qos };
  const workers: LoadWorker[] = [];
  try {
    const subCounts = split(o.subscribers, Math.min(o.subscribers, o.workers));
    const subWorkers = await Promise.all(
      subCounts.map((clients, i) =>
        LoadWorker.start({ ...base, role: 'subscribers', idPrefix: `s${run}${i}`, clients, topic: filter, latency: true }),
      ),
    );
    workers.push(...subWorkers);
    onProgress(0.05);
    const { counts, localAddress } = spreadClients(o.devices, target.host, o.workers);
    const firsts = counts.map((_, i) => counts.slice(0, i).reduce((a, b) => a + b, 0));
    const deviceWorkers = await Promise.all(
      counts.map((clients, i) =>
        LoadWorker.start({
          ...base,
          port: portFor(target, i),
          role: 'devices',
          idPrefix: `d${run}`,
          clients,
          first: firsts[i]!,
          devices: o.devices,
          topicPrefix,
          payloadBytes: o.payload,
          intervalMs: o.interval,
          durationMs: o.duration * 1000,
          inflight: o.inflight,
          keepalive: DEVICE_KEEPALIVE,
          localAddress: localAddress(i),
          concurrency: CONNECT_CONCURRENCY,
        }),
      ),
    );
    workers.push(...deviceWorkers);
    onProgress(0.2);

    const totals = subWorkers.map(() => 0);
    const delivery = new DeliveryWait(() => totals.reduce((a, b) => a + b, 0), DRAIN_SECONDS);
    subWorkers.forEach((w, i) => {
      w.onProgress((m) => {
        totals[i] = m.total;
        delivery.progressed();
      });
    });
    const meter = new RoundMeter(target);
    for (const w of subWorkers) w.send({ type: 'go' });
    const finished = deviceWorkers.map((w) => w.next('finished'));
    const at = meter.t0 + START_DELAY_MS * 1000;
    for (const w of deviceWorkers) w.send({ type: 'go', at });
    const ticker = setInterval(() => onProgress(0.2 + 0.8 * Math.min(1, (monotonicMicros() - at) / 1e6 / o.duration)), 100);
    try {
      const sent = (await Promise.all(finished)).reduce((a, f) => a + f.sent, 0);
      await delivery.until(o.share ? sent : sent * o.subscribers);
    } finally {
      clearInterval(ticker);
    }
    const measured = meter.totals();
    const subResults = await Promise.all(subWorkers.map((w) => w.stop()));
    const deviceResults = await Promise.all(deviceWorkers.map((w) => w.stop()));
    return fleetMetrics(o, subResults, deviceResults, measured);
  } finally {
    for (const w of workers) w.kill();
  }
}

/** The round's metrics from what the subscriber and device processes counted on the wire. */
export function fleetMetrics(o: BenchOptions, subResults: WorkerResult[], deviceResults: WorkerResult[], m: RoundTotals): RoundOutcome {
  const sum = (results: WorkerResult[], pick: (r: WorkerResult) => number | undefined) => results.reduce((a, r) => a + (pick(r) ?? 0), 0);
  const sent = sum(deviceResults, (r) => r.sent);
  const received = sum(subResults, (r) => r.received);
  const expected = o.share ? sent : sent * o.subscribers;
  const firstAt = Math.min(...deviceResults.map((r) => r.firstAt ?? Number.MAX_SAFE_INTEGER));
  const lastAt = Math.max(...subResults.map((r) => r.lastAt ?? firstAt));
  const seconds = Math.max(1e-6, (lastAt - firstAt) / 1e6);
  const latency = new LatencyHistogram();
  for (const r of subResults) if (r.histogram) latency.add(LatencyHistogram.decode(r.histogram));
  const l = latency.summary();
  const workerCpu = [...subResults, ...deviceResults].map((r) => r.cpuSeconds);
  const metrics: Metrics = {
    deliveredPerSecond: received / seconds,
    publishedPerSecond: sent / seconds,
    p50Ms: l.p50,
    p99Ms: l.p99,
    p999Ms: l.p999,
    maxMs: l.max,
    connected: sum(deviceResults, (r) => r.connected),
    failed: o.devices - sum(deviceResults, (r) => r.connected),
    sent,
    skipped: sum(deviceResults, (r) => r.skipped),
    received,
    lost: expected - received,
    seconds,
    brokerCpuPercent: m.brokerCpu === undefined ? null : (100 * m.brokerCpu) / m.wall,
    brokerCpuUsPerMessage: m.brokerCpu === undefined || received === 0 ? null : (1e6 * m.brokerCpu) / received,
    generatorCpuPercent: (100 * (workerCpu.reduce((a, b) => a + b, 0) + m.parentCpu)) / m.wall,
    generatorMaxCpuPercent: (100 * Math.max(...workerCpu)) / m.wall,
    brokerRssMb: m.brokerRss === undefined ? null : m.brokerRss / 1024,
  };
  return { metrics, errors: mergeErrors([...subResults, ...deviceResults].map((r) => r.errors)) };
}
