/** `mqttlab chaos`: the QoS guarantee checker, through faulty links and broker crashes, for any broker. */
export { runChaos } from './run.js';
export { CHAOS_DEFAULTS, type BrokerKill, type ChaosOptions, type ChaosProgress, type ChaosReport } from './options.js';
export { QOS_CONTRACT, type QosOutcome } from './tally.js';
export { formatChaosReport } from './render.js';
export { startKillableBroker, type KillableBroker } from './broker-process.js';
