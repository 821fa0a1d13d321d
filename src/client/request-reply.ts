import { randomBytes } from 'node:crypto';
import type { IClientPublishOptions, MqttClient } from 'mqtt';
import type { IPublishPacket } from 'mqtt-packet';
import { describeRefusal, subscribeFilters } from './subscribe.js';

/** A request (MQTT 5.0 §4.10): where to send it, where the answer should go, and how long to wait. */
export interface RequestSettings {
  topic: string;
  payload: Buffer;
  responseTopic: string;
  /** Sent as Correlation Data; the reply must carry it back [MQTT-3.3.2-16]. Default: 16 random hex digits. */
  correlationData?: Buffer;
  qos: 0 | 1 | 2;
  timeoutMs: number;
  /** Further PUBLISH options for the request (user properties, content type, expiry). */
  publish?: IClientPublishOptions;
}

/** The reply that answered a request. */
export interface Reply {
  topic: string;
  payload: Buffer;
  packet: IPublishPacket;
  roundTripMs: number;
}

/** A fresh correlation id: printable, so mosquitto_pub can echo it back with `-D publish correlation-data`. */
export function newCorrelationData(): Buffer {
  return Buffer.from(randomBytes(8).toString('hex'));
}

/**
 * Sends a request and waits for the reply that carries its Correlation Data on the Response Topic
 * (subscribed first, so the reply cannot come before the subscription). Rejects with one line on timeout.
 */
export async function sendRequest(client: MqttClient, request: RequestSettings): Promise<Reply> {
  const correlationData = request.correlationData ?? newCorrelationData();
  const outcome = await subscribeFilters(client, { filters: [request.responseTopic], qos: request.qos });
  if (outcome.refused.length > 0) throw new Error(describeRefusal(outcome.refused[0]!, 5));
  let onMessage: ((topic: string, payload: Buffer, packet: IPublishPacket) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const started = performance.now();
  const reply = new Promise<Reply>((resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no reply on ${request.responseTopic} within ${request.timeoutMs / 1000} s`)),
      request.timeoutMs,
    );
    onMessage = (topic, payload, packet) => {
      if (topic !== request.responseTopic || !packet.properties?.correlationData?.equals(correlationData)) return;
      resolve({ topic, payload, packet, roundTripMs: performance.now() - started });
    };
    client.on('message', onMessage);
  });
  try {
    const properties = { ...request.publish?.properties, responseTopic: request.responseTopic, correlationData };
    await client.publishAsync(request.topic, request.payload, { ...request.publish, qos: request.qos, properties });
    return await reply;
  } finally {
    clearTimeout(timer);
    client.removeListener('message', onMessage!);
  }
}

/**
 * Answers a request: publishes `payload` on its Response Topic with its Correlation Data [MQTT-3.3.2-16];
 * false (nothing sent) when the message asked for no answer.
 */
export async function answerRequest(client: MqttClient, request: IPublishPacket, payload: Buffer, qos: 0 | 1 | 2): Promise<boolean> {
  const responseTopic = request.properties?.responseTopic;
  if (!responseTopic) return false;
  const correlationData = request.properties?.correlationData;
  await client.publishAsync(responseTopic, payload, { qos, properties: correlationData ? { correlationData } : {} });
  return true;
}
