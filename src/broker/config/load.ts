import { readFileSync } from 'node:fs';
import { Acl } from '../auth/acl.js';
import { PasswordFile } from '../auth/password-file.js';
import { PROTOCOL_MAX_PACKET_SIZE } from '../options.js';
import type { CreateBrokerOptions, ListenerOptions } from '../server.js';
import { parseMosquittoConf, type ConfigListener, type MosquittoConfig } from './mosquitto-conf.js';

/** A Mosquitto config as broker options: password, ACL and certificate files read; `dataDir` for the persistence. */
export interface LoadedConfig {
  options: CreateBrokerOptions;
  dataDir?: string;
  /** `cluster_servers` and `cluster_node`: the cluster to join, when the config names one. */
  cluster?: { servers: string[]; node?: string };
}

/** Reads and parses a Mosquitto config file and every file it names (errors are one line, `file:line: ...`). */
export function loadMosquittoConf(path: string): LoadedConfig {
  return brokerOptionsFromConfig(parseMosquittoConf(readText(path, 'config file'), path));
}

/** Turns a parsed config into broker options, reading the password, ACL and certificate files it names. */
export function brokerOptionsFromConfig(config: MosquittoConfig): LoadedConfig {
  const options: CreateBrokerOptions = {
    listeners: config.listeners.map(listenerOptions),
    allowAnonymous: config.allowAnonymous,
  };
  if (config.passwordFile) options.passwords = PasswordFile.parse(readText(config.passwordFile, 'password_file'), config.passwordFile);
  if (config.aclFile) options.acl = Acl.parse(readText(config.aclFile, 'acl_file'), config.aclFile);
  // Mosquitto's 0 means "no limit" for the in-flight window and the queue.
  if (config.maxInflightMessages !== undefined)
    options.receiveMaximum = config.maxInflightMessages === 0 ? 65535 : config.maxInflightMessages;
  if (config.maxQueuedMessages !== undefined)
    options.maxQueuedMessages = config.maxQueuedMessages === 0 ? Number.MAX_SAFE_INTEGER : config.maxQueuedMessages;
  if (config.maxQueuedBytes !== undefined)
    options.maxQueuedBytes = config.maxQueuedBytes === 0 ? Number.MAX_SAFE_INTEGER : config.maxQueuedBytes;
  if (config.maxInflightBytes !== undefined)
    options.maxInflightBytes = config.maxInflightBytes === 0 ? Number.MAX_SAFE_INTEGER : config.maxInflightBytes;
  if (config.maxPacketSize !== undefined)
    options.maximumPacketSize = config.maxPacketSize === 0 ? PROTOCOL_MAX_PACKET_SIZE : config.maxPacketSize;
  if (config.messageSizeLimit !== undefined) options.messageSizeLimit = config.messageSizeLimit;
  if (config.maxKeepalive !== undefined) options.maxKeepalive = config.maxKeepalive;
  // Mosquitto's -1 (its default) means no limit, as our 0 does.
  if (config.maxConnections !== undefined) options.maxConnections = Math.max(0, config.maxConnections);
  if (config.sysInterval !== undefined) options.sysInterval = config.sysInterval;
  const cluster = config.clusterServers ? { servers: config.clusterServers, node: config.clusterNode } : undefined;
  return { options, dataDir: config.dataDir, cluster };
}

function listenerOptions(listener: ConfigListener): ListenerOptions {
  const spec: ListenerOptions = { host: listener.host, port: listener.port, protocol: listener.protocol };
  if (listener.certfile === undefined && listener.keyfile === undefined) {
    if (listener.requireCertificate || listener.cafile)
      throw new Error(`${listener.where}: cafile and require_certificate need certfile and keyfile on the listener`);
    return spec;
  }
  if (listener.certfile === undefined || listener.keyfile === undefined)
    throw new Error(`${listener.where}: a TLS listener needs both certfile and keyfile`);
  if (listener.requireCertificate && listener.cafile === undefined)
    throw new Error(`${listener.where}: require_certificate true needs a cafile to check client certificates against`);
  spec.tls = {
    cert: readText(listener.certfile, 'certfile'),
    key: readText(listener.keyfile, 'keyfile'),
    ca: listener.cafile === undefined ? undefined : readText(listener.cafile, 'cafile'),
    requireCertificate: listener.requireCertificate,
  };
  return spec;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
