import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import type { UserProperties } from 'mqtt-packet';

/** A will message (MQTT 5.0 §3.1.3.2): published by the broker when the connection ends without DISCONNECT. */
export interface WillSettings {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  /** Will Delay Interval in seconds (MQTT 5). */
  delaySeconds?: number;
  /** Message Expiry Interval of the will in seconds (MQTT 5). */
  expirySeconds?: number;
  contentType?: string;
  userProperties?: UserProperties;
}

/** TLS settings of a client: files as paths, as mosquitto_pub's --cafile/--cert/--key. */
export interface TlsSettings {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Skip verifying the broker's certificate (never for production). */
  insecure?: boolean;
}

/** Everything a client command may set about its connection, as the user gave it. */
export interface ConnectSettings {
  url: string;
  protocolVersion: 4 | 5;
  clientId?: string;
  username?: string;
  password?: string;
  keepaliveSeconds?: number;
  /** Clean Start (MQTT 5) / Clean Session (3.1.1); true unless the session should be resumed. */
  cleanStart: boolean;
  sessionExpirySeconds?: number;
  receiveMaximum?: number;
  /** Highest topic alias the broker may use towards this client (0 or unset: none). */
  topicAliasMaximum?: number;
  will?: WillSettings;
  tls?: TlsSettings;
  /** Milliseconds to wait for CONNACK. */
  connectTimeoutMs?: number;
}

/** MQTT 5 settings that MQTT 3.1.1 has no field for, by the option that sets them. */
function mqtt5Only(s: ConnectSettings): string[] {
  const set: string[] = [];
  if (s.sessionExpirySeconds !== undefined) set.push('--session-expiry');
  if (s.receiveMaximum !== undefined) set.push('--receive-maximum');
  if (s.topicAliasMaximum !== undefined) set.push('--topic-alias-maximum');
  if (s.will?.delaySeconds !== undefined) set.push('--will-delay');
  if (s.will?.expirySeconds !== undefined) set.push('--will-expiry');
  if (s.will?.contentType !== undefined) set.push('--will-content-type');
  if (s.will?.userProperties !== undefined) set.push('--will-user-property');
  return set;
}

/**
 * MQTT.js options for the settings: CONNECT properties (MQTT 5), will, credentials, TLS files read now.
 * Throws a one-line error for settings that do not fit together (an MQTT 5 property with MQTT 3.1.1,
 * TLS files with a plain mqtt:// URL, a file that cannot be read).
 */
export function toClientOptions(s: ConnectSettings): IClientOptions {
  if (s.protocolVersion === 4) {
    const v5 = mqtt5Only(s);
    if (v5.length > 0) throw new Error(`${v5.join(', ')} ${v5.length > 1 ? 'are' : 'is'} MQTT 5 only (leave out -V 311)`);
  }
  const options: IClientOptions = {
    protocolVersion: s.protocolVersion,
    clean: s.cleanStart,
    reconnectPeriod: 0,
    connectTimeout: s.connectTimeoutMs ?? 10_000,
    ...(s.clientId !== undefined && { clientId: s.clientId }),
    ...(s.username !== undefined && { username: s.username }),
    ...(s.password !== undefined && { password: s.password }),
    ...(s.keepaliveSeconds !== undefined && { keepalive: s.keepaliveSeconds }),
  };
  if (s.protocolVersion === 5) {
    const properties: NonNullable<IClientOptions['properties']> = {};
    if (s.sessionExpirySeconds !== undefined) properties.sessionExpiryInterval = s.sessionExpirySeconds;
    if (s.receiveMaximum !== undefined) properties.receiveMaximum = s.receiveMaximum;
    if (s.topicAliasMaximum !== undefined) properties.topicAliasMaximum = s.topicAliasMaximum;
    if (Object.keys(properties).length > 0) options.properties = properties;
  }
  if (s.will) options.will = willOptions(s.will);
  if (s.tls) Object.assign(options, tlsOptions(s.url, s.tls));
  return options;
}

function willOptions(w: WillSettings): NonNullable<IClientOptions['will']> {
  const properties: Record<string, unknown> = {};
  if (w.delaySeconds !== undefined) properties.willDelayInterval = w.delaySeconds;
  if (w.expirySeconds !== undefined) properties.messageExpiryInterval = w.expirySeconds;
  if (w.contentType !== undefined) properties.contentType = w.contentType;
  if (w.userProperties !== undefined) properties.userProperties = w.userProperties;
  return { topic: w.topic, payload: w.payload, qos: w.qos, retain: w.retain, ...(Object.keys(properties).length > 0 && { properties }) };
}

function tlsOptions(url: string, tls: TlsSettings): Partial<IClientOptions> {
  if (!/^(mqtts|wss):/.test(url))
    throw new Error('--cafile, --cert, --key and --insecure are for TLS: use an mqtts:// (or wss://) broker URL');
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined))
    throw new Error('--cert and --key go together (a client certificate and its private key)');
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(`cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  return {
    ...(tls.caFile !== undefined && { ca: read(tls.caFile, '--cafile') }),
    ...(tls.certFile !== undefined && { cert: read(tls.certFile, '--cert') }),
    ...(tls.keyFile !== undefined && { key: read(tls.keyFile, '--key') }),
    rejectUnauthorized: tls.insecure !== true,
  };
}
