import { randomBytes } from 'node:crypto';
import { mergeErrors, type Metrics, type RoundOutcome } from './metrics.js';
import type { BenchOptions } from './options.js';
import type { WorkerResult } from './protocol.js';
import type { BenchTarget } from './targets.js';
import { DeliveryWait, RoundMeter, type RoundTotals } from './round-meter.js';
import { LoadWorker, split } from './workers.js';

/** Seconds to wait, after the publishers are done, for the last deliveries. */
const DRAIN_SECONDS = 5;

/**
 * One round of a message flow (fan-in, fan-out or latency) against a broker: subscriber and publisher
 * processes, an end-to-end window enforced with credit from the subscribers' progress, and the CPU of
 * every process involved.
 */
export async function runFlow(target: BenchTarget, o: BenchOptions, onProgress: (fraction: number) => void): Promise<RoundOutcome> {
  const subs = o.scenario === 'fan-out' ? o.subscribers : 1;
  const pubs = o.scenario === 'fan-in' ? o.publishers : 1;
  const latency = o.scenario === 'latency';
  const count = latency ? Math.min(o.count, o.rate * o.duration) : o.count;
  const perClient = Math.floor(count / pubs);
  const run = randomBytes(4).toString('hex');
  const topic = `bench/${run}/${o.scenario}`;
  // On a cluster the subscribers are on its second node and the publishers on its first: every message crosses nodes.
  const base = { host: target.host, receiveMaximum: o.inflight, topic, qos: o.qos };
  const subPort = target.nodes?.[1]?.port ?? target.port;
  const workers: LoadWorker[] = [];
  try {
    const subCounts = split(subs, Math.min(subs, o.workers));
    const subWorkers = await Promise.all(
      subCounts.map((clients, i) =>
        LoadWorker.start({ ...base, port: subPort, role: 'subscribers', idPrefix: `s${run}${i}`, clients, latency }),
      ),
    );
    workers.push(...subWorkers);
    const pubCounts = split(pubs, Math.min(pubs, o.workers));
    const pubWorkers = await Promise.all(
      pubCounts.map((clients, i) =>
        LoadWorker.start({
          ...base,
          port: target.port,
          role: 'publishers',
          idPrefix: `p${run}${i}`,
          clients,
          payloadBytes: o.payload,
          perClient,
          durationMs: o.duration * 1000,
          inflight: o.inflight,
          rate: latency ? o.rate : undefined,
          stamp: latency,
        }),
      ),
    );
    workers.push(...pubWorkers);

    // End-to-end window: a publisher may be `window` messages (all publishers together) ahead of the slowest subscriber.
    const mins = subWorkers.map(() => 0);
    const totals = subWorkers.map(() => 0);
    let credit = Math.ceil(o.window / pubs);
    const grant = () => {
      for (const w of pubWorkers) w.send({ type: 'credit', perClient: credit });
    };
    grant();
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const delivery = new DeliveryWait(() => sum(totals), DRAIN_SECONDS);
    subWorkers.forEach((w, i) => {
      w.onProgress((m) => {
        mins[i] = m.min;
        totals[i] = m.total;
        const next = Math.ceil((Math.min(...mins) + o.window) / pubs);
        if (next > credit) {
          credit = next;
          grant();
        }
        delivery.progressed();
      });
    });

    const meter = new RoundMeter(target);
    for (const w of subWorkers) w.send({ type: 'go' });
    const finished = pubWorkers.map((w) => w.next('finished'));
    for (const w of pubWorkers) w.send({ type: 'go' });

    const expectedAtMost = perClient * pubs * subs;
    const ticker = setInterval(() => onProgress(Math.max(sum(totals) / expectedAtMost, meter.elapsed() / o.duration)), 100);
    let sent: number;
    try {
      sent = sum((await Promise.all(finished)).map((f) => f.sent));
      await delivery.until(sent * subs);
    } finally {
      clearInterval(ticker);
    }
    const measured = meter.totals();
    const subResults = await Promise.all(subWorkers.map((w) => w.stop()));
    const pubResults = await Promise.all(pubWorkers.map((w) => w.stop()));
    return flowMetrics(o, subs, subResults, pubResults, measured);
  } finally {
    for (const w of workers) w.kill();
  }
}

function flowMetrics(o: BenchOptions, subs: number, subResults: WorkerResult[], pubResults: WorkerResult[], m: RoundTotals): RoundOutcome {
  const sent = pubResults.reduce((a, r) => a + r.sent, 0);
  const received = subResults.reduce((a, r) => a + r.received, 0);
  const firstAt = Math.min(...pubResults.map((r) => r.firstAt ?? Number.MAX_SAFE_INTEGER));
  const lastAt = Math.max(...subResults.map((r) => r.lastAt ?? firstAt));
  const seconds = Math.max(1e-6, (lastAt - firstAt) / 1e6);
  const workerCpu = [...subResults, ...pubResults].map((r) => r.cpuSeconds);
  const metrics: Metrics = {};
  if (o.scenario === 'latency') {
    const l = subResults[0]!.latency!;
    Object.assign(metrics, { p50Ms: l.p50, p99Ms: l.p99, p999Ms: l.p999, maxMs: l.max, achievedRate: received / seconds });
  } else {
    Object.assign(metrics, { deliveredPerSecond: received / seconds, publishedPerSecond: sent / seconds });
  }
  Object.assign(metrics, {
    sent,
    received,
    lost: sent * subs - received,
    seconds,
    brokerCpuPercent: m.brokerCpu === undefined ? null : (100 * m.brokerCpu) / m.wall,
    generatorCpuPercent: (100 * (workerCpu.reduce((a, b) => a + b, 0) + m.parentCpu)) / m.wall,
    generatorMaxCpuPercent: (100 * Math.max(...workerCpu)) / m.wall,
    brokerRssMb: m.brokerRss === undefined ? null : m.brokerRss / 1024,
  });
  return { metrics, errors: mergeErrors([...subResults, ...pubResults].map((r) => r.errors)) };
}
