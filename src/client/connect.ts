import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { describeConnectError } from './connect-error.js';

/** MQTT.js options with MQTT 5 defaults for our programs: no auto-reconnect, a bounded connect. */
export function clientOptions(options: IClientOptions = {}): IClientOptions {
  return { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000, ...options };
}

/**
 * Connects an MQTT.js client and resolves once CONNACK arrived; rejects with a one-line error.
 * `beforeConnect` sees the client before CONNECT is sent (to trace packets from the first one).
 */
export async function connectMqtt(
  url: string,
  options: IClientOptions = {},
  beforeConnect?: (client: MqttClient) => void,
): Promise<MqttClient> {
  const client = mqtt.connect(url, clientOptions({ ...options, manualConnect: true }));
  beforeConnect?.(client);
  client.connect();
  // Small MQTT packets must not wait ~40 ms for Nagle's algorithm (MQTT.js leaves it on).
  (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', (error) => reject(error));
      client.once('close', () => reject(new Error('the connection closed before CONNACK (is it an MQTT port?)')));
    });
  } catch (error) {
    client.end(true);
    throw new Error(describeConnectError(error, url));
  }
  return client;
}

/** Ends a client cleanly (DISCONNECT) and waits for it. */
export function disconnect(client: MqttClient, force = false): Promise<void> {
  // No reconnect after this: a client ended while its reconnect timer runs (a link cut just before) could
  // otherwise go on reconnecting for ever, and keep the process alive, if end() never calls back.
  client.options.reconnectPeriod = 0;
  return new Promise((resolve) => client.end(force, {}, () => resolve()));
}

/** Closes a client's socket without DISCONNECT: what a device losing power looks like to the broker. */
export function dropConnection(client: MqttClient): void {
  client.options.reconnectPeriod = 0;
  client.stream.destroy();
}
