import type { Acl } from './auth/acl.js';
import type { PasswordFile } from './auth/password-file.js';
import type { Persistence } from './persistence/index.js';

/** Settings of the broker core; every field has a default. */
export interface BrokerOptions {
  /** Inbound QoS 2 messages a client may have unreleased at once (CONNACK Receive Maximum). */
  receiveMaximum?: number;
  /** Largest packet accepted from a client, in bytes (CONNACK Maximum Packet Size). */
  maximumPacketSize?: number;
  /** Highest topic alias a client may use towards us (CONNACK Topic Alias Maximum). */
  topicAliasMaximum?: number;
  /** Upper bound on a client's keep alive; when exceeded (or 0) the CONNACK carries Server Keep Alive. */
  maxKeepalive?: number;
  /** QoS 1/2 messages kept per session beyond the in-flight window. */
  maxQueuedMessages?: number;
  /** Bytes waiting to be written to one client above which QoS 0 messages to it are dropped. */
  maxBufferedBytes?: number;
  /** Seconds a connection may stay open without sending CONNECT. */
  connectTimeout?: number;
  /** Seconds between `$SYS/broker/...` updates; 0 disables them. */
  sysInterval?: number;
  /** Where retained messages and sessions are kept between runs. */
  persistence?: Persistence;
  /** Clients without a user name may connect (Mosquitto `allow_anonymous`). Default true. */
  allowAnonymous?: boolean;
  /** User names and password hashes a client's credentials must match (Mosquitto `password_file`). */
  passwords?: PasswordFile;
  /** Who may publish, subscribe and receive what (Mosquitto `acl_file`); without one, everything is allowed. */
  acl?: Acl;
  /** Most clients connected at once; 0 (default) for no limit (Mosquitto `max_connections`). */
  maxConnections?: number;
  /** Largest PUBLISH payload accepted, in bytes; 0 (default) for no limit (Mosquitto `message_size_limit`). */
  messageSizeLimit?: number;
}

/** Protocol limit on packet size [MQTT-2.1.4]: 268,435,455 bytes of remaining length plus the header. */
export const PROTOCOL_MAX_PACKET_SIZE = 268_435_460;

type OptionalParts = 'persistence' | 'passwords' | 'acl';
export type ResolvedOptions = Required<Omit<BrokerOptions, OptionalParts>> & Pick<BrokerOptions, OptionalParts>;

/** Fills in defaults (comparable to Mosquitto 2's). */
export function resolveOptions(options: BrokerOptions = {}): ResolvedOptions {
  return {
    receiveMaximum: options.receiveMaximum ?? 1024,
    maximumPacketSize: options.maximumPacketSize ?? PROTOCOL_MAX_PACKET_SIZE,
    topicAliasMaximum: options.topicAliasMaximum ?? 64,
    maxKeepalive: options.maxKeepalive ?? 65535,
    maxQueuedMessages: options.maxQueuedMessages ?? 1000,
    maxBufferedBytes: options.maxBufferedBytes ?? 8 * 1024 * 1024,
    connectTimeout: options.connectTimeout ?? 10,
    sysInterval: options.sysInterval ?? 10,
    persistence: options.persistence,
    allowAnonymous: options.allowAnonymous ?? true,
    passwords: options.passwords,
    acl: options.acl,
    maxConnections: options.maxConnections ?? 0,
    messageSizeLimit: options.messageSizeLimit ?? 0,
  };
}
