import { InvalidArgumentError, type Command } from 'commander';
import type { MqttClient } from 'mqtt';
import type { IConnackPacket, UserProperties } from 'mqtt-packet';
import {
  brokerUrlFrom,
  connectMqtt,
  formatPacket,
  OUTPUT_FORMATS,
  PacketTrace,
  toClientOptions,
  type ConnectSettings,
  type OutputFormat,
} from '../client/index.js';
import { integerFrom } from './util.js';

/** The connection options `pub`, `sub` and `req` share, as commander hands them over. */
export interface ConnectionCliOptions {
  broker?: string;
  protocolVersion: 4 | 5;
  id?: string;
  username?: string;
  password?: string;
  keepalive: number;
  clean: boolean;
  sessionExpiry?: number;
  receiveMaximum?: number;
  topicAliasMaximum?: number;
  willTopic?: string;
  willPayload?: string;
  willQos: 0 | 1 | 2;
  willRetain?: boolean;
  willDelay?: number;
  willExpiry?: number;
  willContentType?: string;
  willUserProperty?: UserProperties;
  cafile?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
  trace?: boolean;
}

/** Where the client commands connect when neither -b nor $MQTT_URL says: the port the seed's Mosquitto and `mqttlab broker` use. */
export const DEFAULT_BROKER_URL = 'mqtt://127.0.0.1:1883';

/** Parses -q: 0, 1 or 2. */
export function parseQos(value: string): 0 | 1 | 2 {
  if (value !== '0' && value !== '1' && value !== '2') throw new InvalidArgumentError(`"${value}" is not a QoS (0, 1 or 2)`);
  return Number(value) as 0 | 1 | 2;
}

/** Parses -V like mosquitto_pub: 5 / mqttv5 or 311 / mqttv311 (MQTT.js protocol level 5 or 4). */
function parseProtocolVersion(value: string): 4 | 5 {
  if (value === '5' || value === 'mqttv5') return 5;
  if (value === '311' || value === 'mqttv311' || value === '3.1.1') return 4;
  throw new InvalidArgumentError(`"${value}" is not 5 or 311`);
}

/** Collects repeated `--user-property name=value` into MQTT.js user properties (a repeated name becomes a list, in order). */
export function collectUserProperty(value: string, previous: UserProperties | undefined): UserProperties {
  const at = value.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError(`"${value}" is not name=value`);
  const [name, v] = [value.slice(0, at), value.slice(at + 1)];
  const out: UserProperties = { ...previous };
  const existing = out[name];
  out[name] = existing === undefined ? v : [...(Array.isArray(existing) ? existing : [existing]), v];
  return out;
}

/** Parses --format. */
export function parseFormat(value: string): OutputFormat {
  if (!(OUTPUT_FORMATS as readonly string[]).includes(value))
    throw new InvalidArgumentError(`"${value}" is not one of ${OUTPUT_FORMATS.join(', ')}`);
  return value as OutputFormat;
}

/** Adds the connection options (broker, protocol, identity, session, will, TLS, trace) to a client command. */
export function addConnectionOptions(command: Command): Command {
  const seconds = integerFrom(0, 4_294_967_295);
  return command
    .option(
      '-b, --broker <url>',
      `mqtt://, mqtts://, ws:// or wss:// URL, user:password@ allowed (default: $MQTT_URL, else ${DEFAULT_BROKER_URL})`,
    )
    .option('-V, --protocol-version <version>', '5 or 311 (MQTT 3.1.1)', parseProtocolVersion, 5)
    .option('-i, --id <client-id>', 'client identifier (default: one made up by the client)')
    .option('-u, --username <name>', 'user name')
    .option('-P, --password <password>', 'password (never printed; a password in the URL is not printed either)')
    .option('-k, --keepalive <seconds>', 'keep alive interval (0 = off)', integerFrom(0, 65535), 60)
    .option('--no-clean', 'Clean Start 0 (3.1.1: Clean Session 0): resume the session stored under this client id')
    .option('-x, --session-expiry <seconds>', 'Session Expiry Interval: how long the broker keeps the session after a disconnect', seconds)
    .option(
      '--receive-maximum <n>',
      'Receive Maximum: QoS 1/2 messages the broker may have unacknowledged at this client',
      integerFrom(1, 65535),
    )
    .option('--topic-alias-maximum <n>', 'highest topic alias the broker may use towards this client', integerFrom(0, 65535))
    .option('--will-topic <topic>', 'will: the broker publishes it when this client disconnects without DISCONNECT')
    .option('--will-payload <text>', 'will payload', '')
    .option('--will-qos <qos>', 'will QoS', parseQos, 0)
    .option('--will-retain', 'will is retained')
    .option('--will-delay <seconds>', 'Will Delay Interval: wait this long before publishing the will (a reconnect cancels it)', seconds)
    .option('--will-expiry <seconds>', 'Message Expiry Interval of the will', seconds)
    .option('--will-content-type <type>', 'Content Type of the will')
    .option('--will-user-property <name=value>', 'a user property of the will (repeatable)', collectUserProperty)
    .option('--cafile <file>', 'TLS: CA certificate(s) (PEM) the broker certificate must chain to')
    .option('--cert <file>', 'TLS: client certificate (PEM), with --key')
    .option('--key <file>', 'TLS: private key of --cert (PEM)')
    .option('--insecure', "TLS: do not verify the broker's certificate")
    .option('--trace', 'print every MQTT packet in both directions on stderr');
}

/** The connection settings the options describe (the broker URL from -b, else $MQTT_URL, else 127.0.0.1:1883). */
export function connectSettingsFrom(opts: ConnectionCliOptions): ConnectSettings {
  const willOptions =
    [opts.willDelay, opts.willExpiry, opts.willContentType, opts.willUserProperty, opts.willRetain].some((v) => v !== undefined) ||
    opts.willPayload !== '';
  if (willOptions && opts.willTopic === undefined) throw new Error('the --will-* options need --will-topic');
  const tlsGiven = [opts.cafile, opts.cert, opts.key, opts.insecure].some((v) => v !== undefined);
  return {
    url: brokerUrlFrom(opts.broker) ?? DEFAULT_BROKER_URL,
    protocolVersion: opts.protocolVersion,
    clientId: opts.id,
    username: opts.username,
    password: opts.password,
    keepaliveSeconds: opts.keepalive,
    cleanStart: opts.clean,
    sessionExpirySeconds: opts.sessionExpiry,
    receiveMaximum: opts.receiveMaximum,
    topicAliasMaximum: opts.topicAliasMaximum,
    will:
      opts.willTopic === undefined
        ? undefined
        : {
            topic: opts.willTopic,
            payload: Buffer.from(opts.willPayload ?? ''),
            qos: opts.willQos,
            retain: opts.willRetain === true,
            delaySeconds: opts.willDelay,
            expirySeconds: opts.willExpiry,
            contentType: opts.willContentType,
            userProperties: opts.willUserProperty,
          },
    tls: tlsGiven ? { caFile: opts.cafile, certFile: opts.cert, keyFile: opts.key, insecure: opts.insecure } : undefined,
  };
}

/** A connected client of a command and the CONNACK that accepted it (its properties say what the broker allows). */
export interface CommandClient {
  client: MqttClient;
  connack: IConnackPacket;
}

/**
 * Connects as the options say; with --trace every packet is printed on stderr as it crosses, CONNECT first.
 * `beforeConnect` sees the client before CONNECT goes out (to listen for what follows the CONNACK at once).
 */
export async function connectForCommand(
  opts: ConnectionCliOptions,
  label: string,
  beforeConnect?: (client: MqttClient) => void,
): Promise<CommandClient> {
  const settings = connectSettingsFrom(opts);
  let connack: IConnackPacket | undefined;
  const trace = opts.trace ? new PacketTrace((p) => process.stderr.write(`${formatPacket(p, { properties: true })}\n`)) : undefined;
  const client = await connectMqtt(settings.url, toClientOptions(settings), (c) => {
    trace?.trace(c, label);
    c.once('connect', (packet) => (connack = packet));
    beforeConnect?.(c);
  });
  return { client, connack: connack! };
}
