/** Small helpers shared by the tools and the tests: loopback ports and finding or starting local servers. */
export { freePort, waitForPort } from './ports.js';
export { findMosquitto, runMosquittoConfig, startMosquittoProcess, type MosquittoOptions, type MosquittoProcess } from './mosquitto.js';
export { openFileLimits, openFileWrapper, processCpuSeconds, processRssKb, processTreeCpuSeconds } from './proc.js';
export { findPostgresBin, startPostgresProcess, type PostgresOptions, type PostgresProcess } from './postgres.js';
export {
  killChild,
  killCleanups,
  ownTerminationSignals,
  pendingCleanups,
  registerChild,
  registerCleanup,
  runCleanups,
  stopChild,
  type Cleanup,
} from './cleanup.js';
export { layoutTable, terminalWidth, wrapLine, type TextTable } from './text-table.js';
export { Random } from './random.js';
export { findBinary, spawnServer, type ServerProcess } from './child-process.js';
export { findNatsServer, startNats, NATS_MAX_PAYLOAD, type NatsServer, type NatsSystem } from './nats-server.js';
export { findHaproxy, startRoundRobin, type LoadBalancer } from './haproxy.js';
