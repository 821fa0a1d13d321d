/**
 * `mqttlab bench`: throughput, latency, connection and fleet benchmarks of a broker (ours embedded in a child
 * process, a local Mosquitto, the reference relay, or a loopback URL), alternating brokers round by round when comparing.
 */
export { runBench, type BenchProgress, type BenchReport, type MachineNotes, type RoundResult } from './run.js';
export { defaultOptions, MAX_COMPARED, resolveBenchOptions, SCENARIOS, type BenchOptions, type Scenario } from './options.js';
export { describeRun, renderTable } from './render.js';
export { progressBar } from './progress.js';
export { LatencyHistogram, type LatencySummary } from './histogram.js';
export { median, ratioOfMedians, summarize, type Ratio, type Summary } from './stats.js';
export { isLoopback, NAMED_TARGETS, parseTarget } from './targets.js';
export { startRelay, type RunningRelay } from './relay.js';
export { METRICS, type Metrics } from './metrics.js';
