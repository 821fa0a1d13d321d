import type { IClientOptions, MqttClient } from 'mqtt';
import { isFailure } from '../protocol/index.js';
import { connectMqtt, disconnect } from './connect.js';

/** The topic where Mosquitto-style brokers (ours included) name themselves, e.g. "mosquitto version 2.0.11". */
export const VERSION_TOPIC = '$SYS/broker/version';

/**
 * What a connected broker says it is on `$SYS/broker/version` (retained), or undefined when it offers
 * nothing within `waitMs` (many brokers hide `$SYS`, or publish it only every sys_interval).
 */
export async function brokerVersion(client: MqttClient, waitMs = 500): Promise<string | undefined> {
  let onMessage: ((topic: string, payload: Buffer) => void) | undefined;
  const version = new Promise<string | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), waitMs);
    onMessage = (topic, payload) => {
      if (topic !== VERSION_TOPIC) return;
      clearTimeout(timer);
      resolve(payload.toString('utf8').trim() || undefined);
    };
    client.on('message', onMessage);
  });
  try {
    const granted = await client.subscribeAsync(VERSION_TOPIC, { qos: 0 });
    if (granted.some((g) => isFailure(g.qos))) return undefined;
    return await version;
  } catch {
    return undefined;
  } finally {
    client.removeListener('message', onMessage!);
    await client.unsubscribeAsync(VERSION_TOPIC).catch(() => {});
  }
}

/** Connects, reads the broker's `$SYS/broker/version` (see brokerVersion) and disconnects; one-line error when it cannot connect. */
export async function identifyBroker(url: string, options: IClientOptions = {}, waitMs = 500): Promise<string | undefined> {
  const client = await connectMqtt(url, { clientId: `mqttlab-probe-${process.pid}-${Date.now() % 100000}`, ...options });
  try {
    return await brokerVersion(client, waitMs);
  } finally {
    await disconnect(client);
  }
}
