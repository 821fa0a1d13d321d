/**
 * `mqttlab bench`: throughput, latency and connection benchmarks of a broker (ours embedded in a child
 * process, a local Mosquitto, or a loopback URL), alternating brokers round by round when comparing.
 */
export { runBench, type BenchProgress, type BenchReport, type MachineNotes, type RoundResult } from './run.js';
export { defaultOptions, resolveBenchOptions, SCENARIOS, type BenchOptions, type Scenario } from './options.js';
export { describeRun, renderTable } from './render.js';
export { progressBar } from './progress.js';
export { LatencyHistogram, type LatencySummary } from './histogram.js';
export { median, ratioOfMedians, summarize, type Ratio, type Summary } from './stats.js';
export { isLoopback, parseTarget } from './targets.js';
export { METRICS, type Metrics } from './metrics.js';
