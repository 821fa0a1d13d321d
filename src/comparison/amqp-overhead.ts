import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import { SAMPLE, samplePayload, sumBytes, type WireRow } from './model.js';
import { CountingProxy, splitAmqp, timeOrdered, waitForUnits, type Mark, type ProxiedConnection, type WireUnit } from './wire-counter.js';

/** The AMQP side of the sample message: RabbitMQ's built-in topic exchange, the topic with dots. */
export const AMQP_SAMPLE = {
  exchange: 'amq.topic',
  /** AMQP topic exchanges split routing keys on dots, where MQTT splits topics on slashes. */
  routingKey: SAMPLE.topic.replaceAll('/', '.'),
  queue: 'room1-display',
  consumerTag: 'room1',
} as const;

/** Ids of the AMQP steps counted: what code looks them up by (`step` is the label people read). */
export type AmqpStepId = 'connection' | 'channel' | 'confirm-channel' | 'consume' | 'close' | 'publish' | 'publish-confirm' | 'deliver-ack';

/** The frames of one AMQP step on one connection, as counted on the socket. */
export interface AmqpStep {
  id: AmqpStepId;
  step: string;
  side: 'publisher' | 'subscriber';
  frames: WireRow[];
  bytes: number;
}

export interface AmqpPublishCost {
  payloadBytes: number;
  /** With publisher confirms (confirm.select on the channel): the broker sends basic.ack per message. */
  confirms: boolean;
  publisher: AmqpStep;
  subscriber: AmqpStep;
  total: number;
  overhead: number;
}

export interface AmqpOverhead {
  server: string;
  exchange: string;
  routingKey: string;
  setup: AmqpStep[];
  publishes: AmqpPublishCost[];
}

/**
 * Counts, on the sockets (through a counting proxy), what AMQP 0-9-1 puts on the wire between amqplib and
 * the RabbitMQ at `port` for the sample message: connection setup, channel and queue setup, and per message
 * basic.publish (with and without publisher confirms), basic.deliver and the consumer's basic.ack.
 */
export async function measureAmqpOverhead(port: number, server: string, options: { payloadSizes?: number[] } = {}): Promise<AmqpOverhead> {
  const sizes = options.payloadSizes ?? SAMPLE.payloadSizes;
  const { exchange, routingKey, queue, consumerTag } = AMQP_SAMPLE;
  const result: AmqpOverhead = { server, exchange, routingKey, setup: [], publishes: [] };
  const proxy = await CountingProxy.start(port);
  const models: ChannelModel[] = [];
  // heartbeat=0: no heartbeat frames in the counts (RabbitMQ suggests 60 s; amqplib 2 treats 0 as off).
  const url = `amqp://guest:guest@127.0.0.1:${proxy.port}`;
  try {
    // Subscriber: connection, channel, an exclusive queue bound to the topic, a consumer with manual acks.
    let mark: Mark = { up: 0, down: 0 };
    const subModel = await amqp.connect(`${url}?heartbeat=0`);
    models.push(subModel);
    const subConn = await proxy.connection(0);
    result.setup.push(
      await step(subConn, mark, 'connection', 'connection (protocol header … open-ok)', 'subscriber', 'connection.open-ok'),
    );
    mark = subConn.bytes;
    const subChannel = await subModel.createChannel();
    result.setup.push(await step(subConn, mark, 'channel', 'channel.open', 'subscriber', 'channel.open-ok'));
    mark = subConn.bytes;
    await subChannel.assertQueue(queue, { exclusive: true, autoDelete: true, durable: false });
    await subChannel.bindQueue(queue, exchange, routingKey);
    await subChannel.prefetch(100);
    const deliveries: ConsumeMessage[] = [];
    await subChannel.consume(
      queue,
      (msg) => {
        if (!msg) return;
        deliveries.push(msg);
        subChannel.ack(msg);
      },
      { consumerTag, noAck: false },
    );
    result.setup.push(
      await step(subConn, mark, 'consume', 'queue.declare, queue.bind, basic.qos, basic.consume', 'subscriber', 'basic.consume-ok'),
    );

    // Publisher: connection, a plain channel and a confirm channel.
    const pubModel = await amqp.connect(`${url}?heartbeat=0`);
    models.push(pubModel);
    const pubConn = await proxy.connection(1);
    result.setup.push(
      await step(pubConn, { up: 0, down: 0 }, 'connection', 'connection (protocol header … open-ok)', 'publisher', 'connection.open-ok'),
    );
    mark = pubConn.bytes;
    const plain: Channel = await pubModel.createChannel();
    result.setup.push(await step(pubConn, mark, 'channel', 'channel.open', 'publisher', 'channel.open-ok'));
    mark = pubConn.bytes;
    const confirming: ConfirmChannel = await pubModel.createConfirmChannel();
    result.setup.push(await step(pubConn, mark, 'confirm-channel', 'channel.open + confirm.select', 'publisher', 'confirm.select-ok'));

    for (const confirms of [false, true]) {
      for (const size of sizes) {
        const pubMark = pubConn.bytes;
        const subMark = subConn.bytes;
        const before = deliveries.length;
        const payload = samplePayload(size);
        if (confirms) {
          await new Promise<void>((resolve, reject) =>
            confirming.publish(exchange, routingKey, payload, {}, (err) => (err ? reject(err) : resolve())),
          );
        } else {
          plain.publish(exchange, routingKey, payload);
        }
        const has = (units: WireUnit[], types: string[]) => types.every((t) => units.some((u) => u.type === t));
        const pubUnits = await waitForUnits(
          pubConn,
          splitAmqp,
          pubMark,
          (u) => has(u.up, ['basic.publish', 'content-header', 'content-body']) && (!confirms || has(u.down, ['basic.ack'])),
        );
        const subUnits = await waitForUnits(
          subConn,
          splitAmqp,
          subMark,
          (u) => has(u.down, ['basic.deliver', 'content-header', 'content-body']) && has(u.up, ['basic.ack']),
        );
        if (deliveries.length !== before + 1) throw new Error(`expected one delivery, got ${deliveries.length - before}`);
        const publisher: AmqpStep = {
          id: confirms ? 'publish-confirm' : 'publish',
          step: confirms ? 'basic.publish + confirm' : 'basic.publish',
          side: 'publisher',
          frames: rows(pubConn, pubUnits),
          bytes: 0,
        };
        publisher.bytes = sumBytes(publisher.frames);
        const subscriber: AmqpStep = {
          id: 'deliver-ack',
          step: 'basic.deliver + basic.ack',
          side: 'subscriber',
          frames: rows(subConn, subUnits),
          bytes: 0,
        };
        subscriber.bytes = sumBytes(subscriber.frames);
        const total = publisher.bytes + subscriber.bytes;
        result.publishes.push({ payloadBytes: size, confirms, publisher, subscriber, total, overhead: total - 2 * size });
      }
    }

    mark = pubConn.bytes;
    await pubModel.close();
    models.splice(models.indexOf(pubModel), 1);
    result.setup.push(await step(pubConn, mark, 'close', 'connection.close', 'publisher', 'connection.close-ok'));
  } finally {
    for (const m of models) await m.close().catch(() => {});
    await proxy.close();
  }
  return result;
}

async function step(
  conn: ProxiedConnection,
  mark: Mark,
  id: AmqpStepId,
  name: string,
  side: 'publisher' | 'subscriber',
  until: string,
): Promise<AmqpStep> {
  const units = await waitForUnits(conn, splitAmqp, mark, (u) => [...u.up, ...u.down].some((f) => f.type === until));
  const frames = rows(conn, units);
  return { id, step: name, side, frames, bytes: sumBytes(frames) };
}

function rows(conn: ProxiedConnection, units: { up: WireUnit[]; down: WireUnit[] }): WireRow[] {
  return timeOrdered(conn, units).map((u) => ({ direction: u.direction, type: u.type, bytes: u.bytes }));
}
