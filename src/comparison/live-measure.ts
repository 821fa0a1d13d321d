import { randomBytes } from 'node:crypto';
import amqp, { type ConsumeMessage } from 'amqplib';
import type { MqttClient } from 'mqtt';
import { connectMqtt, disconnect } from '../client/index.js';
import { samplePayload } from './model.js';

/** The delivery modes measured live: MQTT QoS levels, AMQP with and without publisher confirms. */
export type LiveMode = `QoS ${0 | 1 | 2}` | 'no confirms' | 'publisher confirms';

/** Latency (ms) of sequential round trips, and throughput of a burst, for one system and delivery mode. */
export interface LiveMeasurement {
  system: 'MQTT' | 'AMQP 0-9-1';
  /** Which server answered, e.g. "embedded broker", "Mosquitto 2.0.11", "RabbitMQ 3.10.8". */
  server: string;
  mode: LiveMode;
  payloadBytes: number;
  /**
   * Publish → delivery at the subscriber, one message at a time (nothing else in flight), same host, so
   * one clock. Milliseconds.
   */
  latency: { n: number; mean: number; p50: number; p99: number; max: number };
  /** A burst of `messages` published as fast as the mode allows, until the subscriber had them all. */
  throughput: { messages: number; received: number; seconds: number; perSecond: number; timedOut: boolean };
}

export interface LiveOptions {
  /** Messages in each throughput burst. */
  messages: number;
  /** Sequential round trips timed for latency. */
  latencySamples: number;
  payloadBytes?: number;
  /** Upper bound for one burst; a burst that takes longer is reported with what arrived. */
  burstTimeoutMs?: number;
  /** QoS 1/2 (and confirm) window: messages in flight at once. */
  window?: number;
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

export function latencyStats(samples: number[]): LiveMeasurement['latency'] {
  if (samples.length === 0) return { n: 0, mean: 0, p50: 0, p99: 0, max: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return {
    n: sorted.length,
    mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length),
    p50: round(at(0.5)),
    p99: round(at(0.99)),
    max: round(sorted[sorted.length - 1]!),
  };
}

/** Counts arrivals and lets a caller wait (bounded) for the n-th. */
class Arrivals {
  count = 0;
  private waiters: Array<{ n: number; resolve: (ok: boolean) => void; timer: NodeJS.Timeout }> = [];

  arrived(): void {
    this.count++;
    this.waiters = this.waiters.filter((w) => {
      if (this.count < w.n) return true;
      clearTimeout(w.timer);
      w.resolve(true);
      return false;
    });
  }

  /** Resolves true when `n` have arrived, false after `timeoutMs`. */
  until(n: number, timeoutMs: number): Promise<boolean> {
    if (this.count >= n) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        resolve(false);
      }, timeoutMs);
      this.waiters.push({ n, resolve, timer });
    });
  }
}

/** Runs `count` async sends with at most `window` in flight; stops starting new ones after `deadline`. */
async function windowed(count: number, window: number, deadline: number, send: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count && Date.now() < deadline) {
      const i = next++;
      await send(i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(window, count)) }, worker));
}

/**
 * Measures MQTT 5 with MQTT.js against the broker at `url`: latency of sequential messages and throughput of a
 * burst, at QoS 0, 1 and 2 (the subscriber subscribes at the same QoS, so that is the QoS delivered).
 */
export async function measureMqttLive(url: string, server: string, options: LiveOptions): Promise<LiveMeasurement[]> {
  const payload = samplePayload(options.payloadBytes ?? 16);
  const results: LiveMeasurement[] = [];
  const run = randomBytes(3).toString('hex');
  for (const qos of [0, 1, 2] as const) {
    const topic = `mqttlab/compare/${run}/q${qos}`;
    const clients: MqttClient[] = [];
    try {
      const sub = await connectMqtt(url, { clientId: `cmp-sub-${run}-${qos}`, clean: true });
      clients.push(sub);
      const pub = await connectMqtt(url, { clientId: `cmp-pub-${run}-${qos}`, clean: true });
      clients.push(pub);
      const arrivals = new Arrivals();
      sub.on('message', () => arrivals.arrived());
      await sub.subscribeAsync(topic, { qos });

      const samples: number[] = [];
      for (let i = 0; i < options.latencySamples; i++) {
        const t0 = performance.now();
        pub.publish(topic, payload, { qos });
        if (!(await arrivals.until(arrivals.count + 1, 2000))) break;
        samples.push(performance.now() - t0);
      }

      const base = arrivals.count;
      // The Receive Maximum the broker announced bounds QoS 1/2 messages in flight [MQTT-3.3.4-7].
      const window = Math.min(options.window ?? 100, serverReceiveMaximum(pub) ?? 65_535);
      const timeoutMs = options.burstTimeoutMs ?? 20_000;
      const started = performance.now();
      const deadline = Date.now() + timeoutMs;
      if (qos === 0) {
        for (let i = 0; i < options.messages; i++) pub.publish(topic, payload, { qos: 0 });
      } else {
        await windowed(options.messages, window, deadline, () => pub.publishAsync(topic, payload, { qos }));
      }
      const all = await arrivals.until(base + options.messages, Math.max(1, deadline - Date.now()));
      const seconds = (performance.now() - started) / 1000;
      const received = arrivals.count - base;
      results.push({
        system: 'MQTT',
        server,
        mode: `QoS ${qos}`,
        payloadBytes: payload.length,
        latency: latencyStats(samples),
        throughput: {
          messages: options.messages,
          received,
          seconds: round(seconds),
          perSecond: Math.round(received / seconds),
          timedOut: !all,
        },
      });
    } finally {
      await Promise.all(clients.map((c) => disconnect(c, !c.connected)));
    }
  }
  return results;
}

/** The Receive Maximum from the broker's CONNACK, when MQTT.js kept it. */
function serverReceiveMaximum(client: MqttClient): number | undefined {
  // MQTT.js keeps the CONNACK in a private field.
  return (client as unknown as { connackPacket?: { properties?: { receiveMaximum?: number } } }).connackPacket?.properties?.receiveMaximum;
}

/**
 * Measures AMQP 0-9-1 with amqplib against RabbitMQ: a consumer with manual acks on a queue bound to
 * amq.topic; latency of sequential messages and throughput of a burst, without and with publisher confirms.
 */
export async function measureAmqpLive(url: string, server: string, options: LiveOptions): Promise<LiveMeasurement[]> {
  const payload = samplePayload(options.payloadBytes ?? 16);
  const results: LiveMeasurement[] = [];
  const run = randomBytes(3).toString('hex');
  // noDelay: amqplib writes a message as three frames; with Nagle's algorithm on, the later small writes wait
  // for the ACK of the first (up to the peer's delayed-ACK timer, ~40 ms on Linux) — a client setting, not AMQP.
  const connection = await amqp.connect(url, { noDelay: true });
  try {
    for (const confirms of [false, true]) {
      const routingKey = `mqttlab.compare.${run}.${confirms ? 'confirm' : 'plain'}`;
      const consumerChannel = await connection.createChannel();
      const { queue } = await consumerChannel.assertQueue('', { exclusive: true, autoDelete: true });
      await consumerChannel.bindQueue(queue, 'amq.topic', routingKey);
      await consumerChannel.prefetch(1000);
      const arrivals = new Arrivals();
      await consumerChannel.consume(queue, (msg: ConsumeMessage | null) => {
        if (!msg) return;
        consumerChannel.ack(msg);
        arrivals.arrived();
      });
      const publisher = confirms ? await connection.createConfirmChannel() : await connection.createChannel();
      const publishOne = (): Promise<void> => {
        if (!confirms) {
          const ok = publisher.publish('amq.topic', routingKey, payload);
          return ok ? Promise.resolve() : new Promise((resolve) => publisher.once('drain', () => resolve()));
        }
        return new Promise((resolve, reject) =>
          (publisher as amqp.ConfirmChannel).publish('amq.topic', routingKey, payload, {}, (err) => (err ? reject(err) : resolve())),
        );
      };

      const samples: number[] = [];
      for (let i = 0; i < options.latencySamples; i++) {
        const t0 = performance.now();
        void publishOne();
        if (!(await arrivals.until(arrivals.count + 1, 2000))) break;
        samples.push(performance.now() - t0);
      }

      const base = arrivals.count;
      const timeoutMs = options.burstTimeoutMs ?? 20_000;
      const started = performance.now();
      const deadline = Date.now() + timeoutMs;
      if (confirms) await windowed(options.messages, options.window ?? 100, deadline, publishOne);
      else for (let i = 0; i < options.messages && Date.now() < deadline; i++) await publishOne();
      const all = await arrivals.until(base + options.messages, Math.max(1, deadline - Date.now()));
      const seconds = (performance.now() - started) / 1000;
      const received = arrivals.count - base;
      results.push({
        system: 'AMQP 0-9-1',
        server,
        mode: confirms ? 'publisher confirms' : 'no confirms',
        payloadBytes: payload.length,
        latency: latencyStats(samples),
        throughput: {
          messages: options.messages,
          received,
          seconds: round(seconds),
          perSecond: Math.round(received / seconds),
          timedOut: !all,
        },
      });
      await publisher.close();
      await consumerChannel.close();
    }
  } finally {
    await connection.close().catch(() => {});
  }
  return results;
}
