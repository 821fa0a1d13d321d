import { dirname, resolve } from 'node:path';

/** A `listener` block of a Mosquitto config, its files named but not yet read. */
export interface ConfigListener {
  port: number;
  /** The bind address; Mosquitto binds every interface when none is given (here: every IPv4 one). */
  host: string;
  protocol: 'mqtt' | 'websockets';
  certfile?: string;
  keyfile?: string;
  cafile?: string;
  requireCertificate: boolean;
  /** `file:line` of the `listener` line, for errors found when the listener is started. */
  where: string;
}

/** The supported part of a Mosquitto 2 config file, with paths resolved against the file's directory. */
export interface MosquittoConfig {
  listeners: ConfigListener[];
  allowAnonymous: boolean;
  passwordFile?: string;
  aclFile?: string;
  /** Where durable state goes (`persistence true` + `persistence_location`); undefined when persistence is off. */
  dataDir?: string;
  maxInflightMessages?: number;
  maxQueuedMessages?: number;
  maxQueuedBytes?: number;
  maxInflightBytes?: number;
  maxPacketSize?: number;
  messageSizeLimit?: number;
  maxKeepalive?: number;
  maxConnections?: number;
  sysInterval?: number;
  /** mqttlab's own `cluster_servers`: NATS URLs of the cluster this broker is a node of. */
  clusterServers?: string[];
  /** mqttlab's own `cluster_node`: this node's name in the cluster. */
  clusterNode?: string;
}

/**
 * Directives accepted without effect: logging goes to the console (`-v`), TCP_NODELAY is always on, and
 * saving is the persistence's business. Anything else unknown is an error.
 */
const ACCEPTED_WITHOUT_EFFECT: ReadonlySet<string> = new Set([
  'log_dest',
  'log_type',
  'log_timestamp',
  'log_timestamp_format',
  'connection_messages',
  'set_tcp_nodelay',
  'autosave_interval',
]);

/** Mosquitto 2's listener when a config has none: port 1883 on the loopback interface only. */
const LOCAL_ONLY_LISTENER = { port: 1883, host: '127.0.0.1' };

/**
 * Parses Mosquitto 2 config text (mosquitto.conf(5)) for the directives we support; an unknown or
 * malformed directive throws `file:line: ...`. `file` is used in errors and to resolve relative paths.
 */
export function parseMosquittoConf(text: string, file: string): MosquittoConfig {
  const baseDir = dirname(resolve(file));
  const listeners: ConfigListener[] = [];
  const config: Omit<MosquittoConfig, 'listeners' | 'allowAnonymous'> & { allowAnonymous?: boolean } = {};
  let persistence = false;
  let persistenceLocation: string | undefined;

  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${file}:${index + 1}`;
    const [directive = '', ...args] = line.split(/\s+/);
    const rest = line.slice(directive.length).trim();
    const value = (): string => {
      if (rest === '') throw new Error(`${where}: "${directive}" needs a value`);
      return rest;
    };
    const int = (min: number, max: number): number => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < min || n > max)
        throw new Error(`${where}: "${directive}" must be an integer from ${min} to ${max}, not "${rest}"`);
      return n;
    };
    const bool = (): boolean => {
      const v = value();
      if (v !== 'true' && v !== 'false') throw new Error(`${where}: "${directive}" must be true or false, not "${v}"`);
      return v === 'true';
    };
    const last = (): ConfigListener => {
      const listener = listeners[listeners.length - 1];
      if (!listener) throw new Error(`${where}: "${directive}" applies to a listener; put a "listener" line before it`);
      return listener;
    };
    const path = (): string => resolve(baseDir, value());

    switch (directive) {
      case 'listener': {
        if (args.length < 1 || args.length > 2) throw new Error(`${where}: expected "listener <port> [bind address]"`);
        const port = Number(args[0]);
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${where}: "${args[0]}" is not a port number`);
        listeners.push({ port, host: args[1] ?? '0.0.0.0', protocol: 'mqtt', requireCertificate: false, where });
        return;
      }
      case 'protocol': {
        const v = value();
        if (v !== 'mqtt' && v !== 'websockets') throw new Error(`${where}: protocol must be mqtt or websockets, not "${v}"`);
        last().protocol = v;
        return;
      }
      case 'certfile':
        last().certfile = path();
        return;
      case 'keyfile':
        last().keyfile = path();
        return;
      case 'cafile':
        last().cafile = path();
        return;
      case 'require_certificate':
        last().requireCertificate = bool();
        return;
      case 'allow_anonymous':
        config.allowAnonymous = bool();
        return;
      case 'password_file':
        config.passwordFile = path();
        return;
      case 'acl_file':
        config.aclFile = path();
        return;
      case 'persistence':
        persistence = bool();
        return;
      case 'persistence_location':
        persistenceLocation = path();
        return;
      case 'max_inflight_messages':
        config.maxInflightMessages = int(0, 65535);
        return;
      case 'max_queued_messages':
        config.maxQueuedMessages = int(0, Number.MAX_SAFE_INTEGER);
        return;
      case 'max_queued_bytes':
        config.maxQueuedBytes = int(0, Number.MAX_SAFE_INTEGER);
        return;
      case 'max_inflight_bytes':
        config.maxInflightBytes = int(0, Number.MAX_SAFE_INTEGER);
        return;
      case 'max_packet_size':
        // Mosquitto accepts 20 bytes and up; 0 means the protocol maximum.
        config.maxPacketSize = int(0, 268_435_460);
        return;
      case 'message_size_limit':
        // Mosquitto's own upper bound: the largest payload an MQTT packet can carry.
        config.messageSizeLimit = int(0, 268_435_455);
        return;
      case 'max_keepalive':
        config.maxKeepalive = int(0, 65535);
        return;
      case 'max_connections':
        config.maxConnections = int(-1, Number.MAX_SAFE_INTEGER);
        return;
      case 'sys_interval':
        config.sysInterval = int(0, 65535);
        return;
      case 'cluster_servers':
        // mqttlab's own (Mosquitto has no cluster): comma- or space-separated nats:// URLs.
        config.clusterServers = value()
          .split(/[\s,]+/)
          .filter((u) => u !== '');
        return;
      case 'cluster_node':
        config.clusterNode = value();
        return;
      case 'per_listener_settings':
        if (bool()) throw new Error(`${where}: per_listener_settings true is not supported (settings apply to every listener)`);
        return;
      default:
        if (ACCEPTED_WITHOUT_EFFECT.has(directive)) return;
        throw new Error(`${where}: unknown directive "${directive}"`);
    }
  });

  return {
    ...config,
    listeners: listeners.length > 0 ? listeners : [{ ...LOCAL_ONLY_LISTENER, protocol: 'mqtt', requireCertificate: false, where: file }],
    // Mosquitto 2: anonymous access is off by default once a listener is configured, on in local-only mode.
    allowAnonymous: config.allowAnonymous ?? listeners.length === 0,
    dataDir: persistence ? (persistenceLocation ?? baseDir) : undefined,
  };
}
