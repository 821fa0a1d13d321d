/** Client-side helpers shared by the exercises, the telemetry system and the tools. */
export { brokerUrlFrom } from './broker-url.js';
export { clientOptions, connectMqtt, disconnect, dropConnection } from './connect.js';
export { describeConnectError } from './connect-error.js';
export { brokerVersion, identifyBroker, VERSION_TOPIC } from './identify.js';
export { formatPacket, PacketTrace, wireSize, type TracedPacket } from './packet-trace.js';
export { redactUrl } from './redact.js';
