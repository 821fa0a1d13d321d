/** Client-side helpers shared by the exercises, the telemetry system and the tools. */
export { brokerUrlFrom } from './broker-url.js';
export { clientOptions, connectMqtt, disconnect, dropConnection } from './connect.js';
export { describeConnectError } from './connect-error.js';
export { toClientOptions, type ConnectSettings, type TlsSettings, type WillSettings } from './connect-settings.js';
export { brokerVersion, identifyBroker, VERSION_TOPIC } from './identify.js';
export { formatMessage, messageJson, OUTPUT_FORMATS, utf8OrUndefined, type OutputFormat } from './message-format.js';
export { formatPacket, PacketTrace, wireSize, type TracedPacket } from './packet-trace.js';
export { MAX_PAYLOAD_BYTES, payloadsFrom, type PayloadSource } from './payload-source.js';
export { redactUrl } from './redact.js';
export { answerRequest, newCorrelationData, sendRequest, type Reply, type RequestSettings } from './request-reply.js';
export { describeRefusal, subscribeFilters, type SubscribeOutcome, type SubscriptionRequest } from './subscribe.js';
export { watchConnection, type ConnectionChange } from './connection-watch.js';
