import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { IPublishPacket } from 'mqtt-packet';

/** Connects an MQTT.js client (MQTT 5 unless told otherwise, no auto-reconnect) and waits for CONNACK. */
export async function connectClient(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000, ...options });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

/** A received message as tests look at it. */
export interface Received {
  topic: string;
  payload: string;
  packet: IPublishPacket;
}

/** Records every message a client receives. */
export function collect(client: MqttClient): Received[] {
  const out: Received[] = [];
  client.on('message', (topic, payload, packet) => out.push({ topic, payload: payload.toString(), packet }));
  return out;
}

/** Waits until `predicate` holds (polling), failing after `timeoutMs` with `what`. */
export async function waitUntil(predicate: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  // The monotonic clock: a wall clock stepped forward (a VM resumed after a pause) ended a 10 s wait after 0.5 s in CI.
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Ends a client and waits for it. */
export function end(client: MqttClient, force = false): Promise<void> {
  return new Promise((resolve) => client.end(force, {}, () => resolve()));
}
