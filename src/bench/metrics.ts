/** One round's measurements by metric name; null where it could not be measured (no broker process). */
export type Metrics = Record<string, number | null>;

/** What one round of a scenario gives: its metrics and why clients ended early (reason → clients). */
export interface RoundOutcome {
  metrics: Metrics;
  errors: Record<string, number>;
}

/** Adds up per-process error counts. */
export function mergeErrors(lists: Array<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const list of lists) for (const [reason, n] of Object.entries(list)) out[reason] = (out[reason] ?? 0) + n;
  return out;
}

/** How a metric is shown: label, unit, digits. */
export interface MetricInfo {
  label: string;
  digits: number;
}

/** Every metric a scenario reports, in display order. */
export const METRICS: Record<string, MetricInfo> = {
  deliveredPerSecond: { label: 'delivered msg/s', digits: 0 },
  publishedPerSecond: { label: 'published msg/s', digits: 0 },
  p50Ms: { label: 'latency p50 ms', digits: 3 },
  p99Ms: { label: 'latency p99 ms', digits: 3 },
  p999Ms: { label: 'latency p99.9 ms', digits: 3 },
  maxMs: { label: 'latency max ms', digits: 3 },
  achievedRate: { label: 'achieved msg/s', digits: 0 },
  connected: { label: 'connected', digits: 0 },
  failed: { label: 'failed to connect', digits: 0 },
  heldOpen: { label: 'still open after hold', digits: 0 },
  connectsPerSecond: { label: 'connects/s', digits: 0 },
  kbPerConnection: { label: 'broker KB per connection', digits: 1 },
  rssBeforeMb: { label: 'broker RSS before MB', digits: 1 },
  rssAfterMb: { label: 'broker RSS after MB', digits: 1 },
  sent: { label: 'messages sent', digits: 0 },
  skipped: { label: 'sends skipped', digits: 0 },
  received: { label: 'messages received', digits: 0 },
  lost: { label: 'expected − received', digits: 0 },
  seconds: { label: 'seconds', digits: 2 },
  brokerCpuPercent: { label: 'broker CPU % of a core', digits: 0 },
  brokerCpuUsPerMessage: { label: 'broker CPU µs per delivery', digits: 1 },
  generatorCpuPercent: { label: 'generator CPU % (all)', digits: 0 },
  generatorMaxCpuPercent: { label: 'busiest generator CPU %', digits: 0 },
  brokerRssMb: { label: 'broker RSS MB (end)', digits: 1 },
};
