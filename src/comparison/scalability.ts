import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import type { MqttClient } from 'mqtt';
import { connectMqtt, disconnect } from '../client/index.js';

/** How one batch of messages was spread over the members of a group (a measured distribution). */
export interface Distribution {
  system: string;
  server: string;
  mechanism: string;
  messages: number;
  /** Messages each member received, in member order. */
  perMember: number[];
  /** Every message went to exactly one member. */
  exactlyOnce: boolean;
}

/**
 * MQTT 5 shared subscription: `members` clients subscribe to `$share/workers/<topic>` and `messages` QoS 1
 * messages are published; the broker delivers each to one member [MQTT-4.8.2].
 */
export async function measureSharedSubscription(url: string, server: string, members = 3, messages = 30): Promise<Distribution> {
  const run = randomBytes(3).toString('hex');
  const topic = `mqttlab/compare/${run}/jobs`;
  const clients: MqttClient[] = [];
  try {
    const counts = Array.from({ length: members }, () => 0);
    const seen = new Map<string, number>();
    for (let i = 0; i < members; i++) {
      const c = await connectMqtt(url, { clientId: `cmp-worker-${run}-${i}`, clean: true });
      clients.push(c);
      c.on('message', (_t, payload) => {
        counts[i]!++;
        seen.set(payload.toString(), (seen.get(payload.toString()) ?? 0) + 1);
      });
      await c.subscribeAsync(`$share/workers/${topic}`, { qos: 1 });
    }
    const pub = await connectMqtt(url, { clientId: `cmp-dispatch-${run}`, clean: true });
    clients.push(pub);
    for (let i = 0; i < messages; i++) await pub.publishAsync(topic, `job-${i}`, { qos: 1 });
    const deadline = Date.now() + 3000;
    while (counts.reduce((a, b) => a + b, 0) < messages && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return {
      system: 'MQTT 5',
      server,
      mechanism: 'shared subscription $share/workers/…',
      messages,
      perMember: counts,
      exactlyOnce: seen.size === messages && [...seen.values()].every((n) => n === 1),
    };
  } finally {
    await Promise.all(clients.map((c) => disconnect(c, !c.connected)));
  }
}

/** AMQP competing consumers: `members` consumers (prefetch 1) on one queue; RabbitMQ round-robins deliveries. */
export async function measureCompetingConsumers(url: string, server: string, members = 3, messages = 30): Promise<Distribution> {
  const connection = await amqp.connect(url, { noDelay: true });
  try {
    const setup = await connection.createChannel();
    const { queue } = await setup.assertQueue(`mqttlab.compare.jobs.${randomBytes(3).toString('hex')}`, {
      exclusive: true,
      autoDelete: true,
    });
    const counts = Array.from({ length: members }, () => 0);
    const seen = new Map<string, number>();
    for (let i = 0; i < members; i++) {
      const ch = await connection.createChannel();
      await ch.prefetch(1);
      await ch.consume(queue, (msg) => {
        if (!msg) return;
        counts[i]!++;
        seen.set(msg.content.toString(), (seen.get(msg.content.toString()) ?? 0) + 1);
        ch.ack(msg);
      });
    }
    const pub = await connection.createConfirmChannel();
    for (let i = 0; i < messages; i++) pub.sendToQueue(queue, Buffer.from(`job-${i}`));
    await pub.waitForConfirms();
    const deadline = Date.now() + 3000;
    while (counts.reduce((a, b) => a + b, 0) < messages && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return {
      system: 'AMQP 0-9-1',
      server,
      mechanism: 'competing consumers on one queue (prefetch 1)',
      messages,
      perMember: counts,
      exactlyOnce: seen.size === messages && [...seen.values()].every((n) => n === 1),
    };
  } finally {
    await connection.close().catch(() => {});
  }
}
