import type { Acl } from './auth/acl.js';
import { systemClock, type Clock } from './clock.js';
import type { ClusterLink } from './cluster-link.js';
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
  /** Bytes (topic + payload) of QoS 1/2 messages queued per session beyond the in-flight window (Mosquitto `max_queued_bytes`). */
  maxQueuedBytes?: number;
  /**
   * Bytes of QoS 1/2 messages sent to one client and not yet acknowledged (Mosquitto `max_inflight_bytes`);
   * past it, messages wait in the session's queue. One message is always allowed, however large.
   */
  maxInflightBytes?: number;
  /** Bytes of QoS 1/2 messages queued or in flight across all sessions; past it, new ones are dropped. */
  maxTotalQueuedBytes?: number;
  /** Bytes (topic + payload) of retained messages the broker keeps; a retained PUBLISH past it is refused (0x97). */
  maxRetainedBytes?: number;
  /** Most levels in a topic name or filter (Mosquitto refuses more than 200 separators). */
  maxTopicLevels?: number;
  /**
   * Base delay in ms before refusing a CONNECT with bad credentials, doubled for each further failure from the
   * same address within 10 minutes (capped at 30 s); 0 (default) answers at once.
   */
  authFailureDelay?: number;
  /** Bytes waiting to be written to one client above which QoS 0 messages to it are dropped. */
  maxBufferedBytes?: number;
  /** Seconds a connection may stay open without sending CONNECT. */
  connectTimeout?: number;
  /** Seconds between `$SYS/broker/...` updates; 0 disables them. */
  sysInterval?: number;
  /** Where the core reads the time and sets its timers; the system clock unless a test drives its own. */
  clock?: Clock;
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
  /**
   * Most sessions held at once, connected or waiting offline for their Session Expiry; a CONNECT that would
   * open one more is refused with 0x97 Quota exceeded. Default 200,000; 0 for no limit.
   */
  maxSessions?: number;
  /** Most subscriptions one session holds; a filter past it gets SUBACK 0x97 Quota exceeded. Default 10,000; 0 for no limit. */
  maxSubscriptionsPerClient?: number;
  /**
   * Most topic-level nodes all subscription filters take together (levels shared by several filters count
   * once; about 250 bytes each); a new subscription past it gets SUBACK 0x97. Default 1,000,000; 0 for no limit.
   */
  maxFilterNodes?: number;
  /** Largest PUBLISH payload accepted, in bytes; 0 (default) for no limit (Mosquitto `message_size_limit`). */
  messageSizeLimit?: number;
  /** The cluster this node belongs to (src/cluster/); without one the broker stands alone. */
  cluster?: ClusterLink;
}

/** Default largest packet from a client: 1 MiB (as EMQX), far above a telemetry message, far below the protocol's 256 MiB. */
export const DEFAULT_MAX_PACKET_SIZE = 1024 * 1024;

/** Protocol limit on packet size [MQTT-2.1.4]: 268,435,455 bytes of remaining length plus the header. */
export const PROTOCOL_MAX_PACKET_SIZE = 268_435_460;

type OptionalParts = 'persistence' | 'passwords' | 'acl' | 'cluster';
export type ResolvedOptions = Required<Omit<BrokerOptions, OptionalParts>> & Pick<BrokerOptions, OptionalParts>;

/** Fills in defaults (comparable to Mosquitto 2's). */
export function resolveOptions(options: BrokerOptions = {}): ResolvedOptions {
  return {
    receiveMaximum: options.receiveMaximum ?? 1024,
    maximumPacketSize: options.maximumPacketSize ?? DEFAULT_MAX_PACKET_SIZE,
    topicAliasMaximum: options.topicAliasMaximum ?? 64,
    maxKeepalive: options.maxKeepalive ?? 65535,
    maxQueuedMessages: options.maxQueuedMessages ?? 1000,
    maxQueuedBytes: options.maxQueuedBytes ?? 16 * 1024 * 1024,
    maxInflightBytes: options.maxInflightBytes ?? 8 * 1024 * 1024,
    maxTotalQueuedBytes: options.maxTotalQueuedBytes ?? 512 * 1024 * 1024,
    maxTopicLevels: options.maxTopicLevels ?? 200,
    maxRetainedBytes: options.maxRetainedBytes ?? 256 * 1024 * 1024,
    authFailureDelay: options.authFailureDelay ?? 0,
    maxBufferedBytes: options.maxBufferedBytes ?? 8 * 1024 * 1024,
    connectTimeout: options.connectTimeout ?? 10,
    sysInterval: options.sysInterval ?? 10,
    clock: options.clock ?? systemClock,
    persistence: options.persistence,
    allowAnonymous: options.allowAnonymous ?? true,
    passwords: options.passwords,
    acl: options.acl,
    maxConnections: options.maxConnections ?? 0,
    maxSessions: options.maxSessions ?? 200_000,
    maxSubscriptionsPerClient: options.maxSubscriptionsPerClient ?? 10_000,
    maxFilterNodes: options.maxFilterNodes ?? 1_000_000,
    messageSizeLimit: options.messageSizeLimit ?? 0,
    cluster: options.cluster,
  };
}
