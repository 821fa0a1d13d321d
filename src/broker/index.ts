/** The embeddable MQTT 5.0 / 3.1.1 broker. */
export { createBroker, type CreateBrokerOptions, type ListenerInfo, type ListenerOptions, type RunningBroker } from './server.js';
export type { TlsOptions } from './transports/tls.js';
export { Acl, type AclClient } from './auth/acl.js';
export { PasswordFile } from './auth/password-file.js';
export { parseMosquittoConf, type MosquittoConfig } from './config/mosquitto-conf.js';
export { brokerOptionsFromConfig, loadMosquittoConf, type LoadedConfig } from './config/load.js';
export { Broker, type BrokerStats } from './broker.js';
export type { BrokerOptions } from './options.js';
export type { ClusterLink } from './cluster-link.js';
export { deliverShared, releaseSession } from './cluster-seam.js';
export { scheduleWill, willMessage, type Will } from './wills.js';
export { installSession, snapshotSession } from './restore.js';
export type { Delivery, Session } from './session.js';
export type { Subscription } from './subscription.js';
export type { BrokerEvents, ClientInfo, DropReason } from './events.js';
export type { Message, MessageProperties } from './message.js';
export { MemoryPersistence, SqlitePersistence, type Persistence, type SessionSnapshot } from './persistence/index.js';
/** The wire vocabulary, for embedders: reason codes and topic rules (src/protocol/ is their home). */
export { isValidTopicFilter, isValidTopicName, ReasonCode, reasonName, topicMatchesFilter } from '../protocol/index.js';
export { BROKER_VERSION } from './sys-topics.js';
export type { ListenError } from './transports/tcp.js';
