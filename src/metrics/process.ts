import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * prom-client's gauges that carry a `_total` suffix, which Prometheus reserves for counters (promtool
 * check metrics refuses them); the same values are in nodejs_active_handles, nodejs_active_requests and
 * nodejs_active_resources, by type.
 */
const MISNAMED = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** CPU, memory, file descriptors, event loop lag and GC of this process; once per process and endpoint. */
export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED) registry.removeSingleMetric(name);
}
