/** The embeddable MQTT 5.0 / 3.1.1 broker. */
export { createBroker, type CreateBrokerOptions, type RunningBroker } from './server.js';
export { Broker, type BrokerStats } from './broker.js';
export type { BrokerOptions } from './options.js';
export type { BrokerEvents, ClientInfo, DropReason } from './events.js';
export type { Message, MessageProperties } from './message.js';
export { MemoryPersistence, SqlitePersistence, type Persistence, type SessionSnapshot } from './persistence/index.js';
export { ReasonCode, reasonName } from './reason-codes.js';
export { BROKER_VERSION } from './sys-topics.js';
export { isValidTopicFilter, isValidTopicName, topicMatchesFilter } from './topics.js';
