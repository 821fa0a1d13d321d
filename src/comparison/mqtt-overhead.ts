import { connect, type Socket } from 'node:net';
import mqttPacket, { type IConnectPacket, type IPublishPacket, type Packet } from 'mqtt-packet';
import { variableByteIntegerSize } from '../protocol/index.js';
import { SAMPLE, samplePayload, sumBytes, type WireRow } from './model.js';
import { CountingProxy, splitMqtt, timeOrdered, waitForUnits, type Mark, type ProxiedConnection, type WireUnit } from './wire-counter.js';

export type MqttVersion = '3.1.1' | '5.0';

/** The bytes of one step of an MQTT flow on one connection, as counted on the socket. */
export interface MqttStep {
  /** `publisher` or `subscriber` connection. */
  side: 'publisher' | 'subscriber';
  packets: WireRow[];
  bytes: number;
}

/** Connection setup and subscription, per connection. */
export interface MqttSetupCost {
  version: MqttVersion;
  step: 'CONNECT/CONNACK' | 'SUBSCRIBE/SUBACK' | 'DISCONNECT';
  side: 'publisher' | 'subscriber';
  packets: WireRow[];
  bytes: number;
}

/** One message published once and delivered once, every packet of its QoS flow on both connections. */
export interface MqttPublishCost {
  version: MqttVersion;
  qos: 0 | 1 | 2;
  payloadBytes: number;
  /** `first`: topic name + Topic Alias property; `reused`: empty topic + alias only (MQTT 5 §3.3.2.3.4). */
  topicAlias?: 'first' | 'reused';
  publisher: MqttStep;
  subscriber: MqttStep;
  /** Publisher + subscriber bytes. */
  total: number;
  /** Total minus the payload, once per connection that carried it. */
  overhead: number;
}

export interface MqttOverhead {
  /** Which broker answered (label). */
  broker: string;
  topic: string;
  setup: MqttSetupCost[];
  publishes: MqttPublishCost[];
}

/** Client ids used on the wire (their length is part of CONNECT). */
export const CLIENT_IDS = { publisher: 'room1-sensor', subscriber: 'room1-display', aliasSubscriber: 'room1-display-a' } as const;

/**
 * Counts, on the sockets, what MQTT puts on the wire for the sample message: CONNECT/CONNACK,
 * SUBSCRIBE/SUBACK, and one PUBLISH at QoS 0/1/2 for each payload size, publisher and subscriber side with
 * every acknowledgement, for MQTT 3.1.1 and 5.0 (and a Topic Alias in 5.0). The packets are written by a
 * bare client (mqtt-packet) so their encoding is exactly what the spec says and nothing a library adds;
 * the broker's side is whatever the broker at `port` sends.
 */
export async function measureMqttOverhead(
  port: number,
  broker: string,
  options: { host?: string; topic?: string; payloadSizes?: number[] } = {},
): Promise<MqttOverhead> {
  const topic = options.topic ?? SAMPLE.topic;
  const sizes = options.payloadSizes ?? SAMPLE.payloadSizes;
  const result: MqttOverhead = { broker, topic, setup: [], publishes: [] };
  for (const version of ['3.1.1', '5.0'] as const) {
    const proxy = await CountingProxy.start(port, options.host ?? '127.0.0.1');
    const clients: WireClient[] = [];
    try {
      const level = version === '5.0' ? 5 : 4;
      // Subscriber first, so the publisher's messages have somewhere to go.
      const sub = await WireClient.open(proxy.port, level);
      clients.push(sub);
      const subConn = await proxy.connection(0);
      result.setup.push(await connectStep(sub, subConn, version, 'subscriber', CLIENT_IDS.subscriber));
      result.setup.push(await subscribeStep(sub, subConn, version, topic));

      const pub = await WireClient.open(proxy.port, level);
      clients.push(pub);
      const pubConn = await proxy.connection(1);
      result.setup.push(await connectStep(pub, pubConn, version, 'publisher', CLIENT_IDS.publisher));

      let messageId = 1;
      for (const qos of [0, 1, 2] as const) {
        for (const size of sizes) {
          const packet: IPublishPacket = {
            cmd: 'publish',
            topic,
            payload: samplePayload(size),
            qos,
            retain: false,
            dup: false,
            messageId: qos > 0 ? messageId++ : undefined,
          };
          result.publishes.push(await publishStep(pub, pubConn, subConn, version, packet, size));
        }
      }

      if (version === '5.0') {
        // Topic Alias: a subscriber that accepts aliases (Topic Alias Maximum in CONNECT, §3.1.2.11.8) so the
        // broker may use them outbound too, then one publish naming the topic and setting alias 1, and one
        // with an empty topic and alias 1 only (§3.3.2.3.4).
        const aliasSub = await WireClient.open(proxy.port, 5);
        clients.push(aliasSub);
        const aliasConn = await proxy.connection(2);
        await connectStep(aliasSub, aliasConn, version, 'subscriber', CLIENT_IDS.aliasSubscriber, { topicAliasMaximum: 10 });
        await subscribeStep(aliasSub, aliasConn, version, topic);
        const size = sizes[0]!;
        const first: IPublishPacket = {
          cmd: 'publish',
          topic,
          payload: samplePayload(size),
          qos: 0,
          retain: false,
          dup: false,
          properties: { topicAlias: 1 },
        };
        result.publishes.push({ ...(await publishStep(pub, pubConn, aliasConn, version, first, size)), topicAlias: 'first' });
        const reused: IPublishPacket = {
          cmd: 'publish',
          topic: '',
          payload: samplePayload(size),
          qos: 0,
          retain: false,
          dup: false,
          properties: { topicAlias: 1 },
        };
        result.publishes.push({ ...(await publishStep(pub, pubConn, aliasConn, version, reused, size)), topicAlias: 'reused' });
        // The first subscriber got both as well; wait for them so nothing is in flight when we leave.
        await sub.waitForCount('publish', 2 + 3 * sizes.length, 3000);
      }

      const mark = markOf(pubConn);
      await pub.disconnect();
      const units = await waitForUnits(pubConn, splitMqtt, mark, (u) => u.up.some((p) => p.type === 'DISCONNECT'));
      result.setup.push({
        version,
        step: 'DISCONNECT',
        side: 'publisher',
        packets: rows(pubConn, units),
        bytes: sumBytes(rows(pubConn, units)),
      });
    } finally {
      for (const c of clients) c.destroy();
      await proxy.close();
    }
  }
  return result;
}

async function connectStep(
  client: WireClient,
  conn: ProxiedConnection,
  version: MqttVersion,
  side: 'publisher' | 'subscriber',
  clientId: string,
  properties?: IConnectPacket['properties'],
): Promise<MqttSetupCost> {
  const mark = markOf(conn);
  client.send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: version === '5.0' ? 5 : 4,
    clean: true,
    keepalive: 60,
    clientId,
    ...(properties ? { properties } : {}),
  } as IConnectPacket);
  await client.expect('connack');
  const units = await waitForUnits(conn, splitMqtt, mark, (u) => u.down.some((p) => p.type === 'CONNACK'));
  const packets = rows(conn, units);
  return { version, step: 'CONNECT/CONNACK', side, packets, bytes: sumBytes(packets) };
}

async function subscribeStep(client: WireClient, conn: ProxiedConnection, version: MqttVersion, topic: string): Promise<MqttSetupCost> {
  const mark = markOf(conn);
  client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 2 }] } as Packet);
  await client.expect('suback');
  const units = await waitForUnits(conn, splitMqtt, mark, (u) => u.down.some((p) => p.type === 'SUBACK'));
  const packets = rows(conn, units);
  return { version, step: 'SUBSCRIBE/SUBACK', side: 'subscriber', packets, bytes: sumBytes(packets) };
}

/** The packet types that complete a QoS flow on each connection [MQTT-4.3]. */
const FLOW: Record<0 | 1 | 2, { publisherUp: string[]; publisherDown: string[]; subscriberDown: string[]; subscriberUp: string[] }> = {
  0: { publisherUp: ['PUBLISH'], publisherDown: [], subscriberDown: ['PUBLISH'], subscriberUp: [] },
  1: { publisherUp: ['PUBLISH'], publisherDown: ['PUBACK'], subscriberDown: ['PUBLISH'], subscriberUp: ['PUBACK'] },
  2: {
    publisherUp: ['PUBLISH', 'PUBREL'],
    publisherDown: ['PUBREC', 'PUBCOMP'],
    subscriberDown: ['PUBLISH', 'PUBREL'],
    subscriberUp: ['PUBREC', 'PUBCOMP'],
  },
};

async function publishStep(
  pub: WireClient,
  pubConn: ProxiedConnection,
  subConn: ProxiedConnection,
  version: MqttVersion,
  packet: IPublishPacket,
  payloadBytes: number,
): Promise<MqttPublishCost> {
  const qos = packet.qos as 0 | 1 | 2;
  const flow = FLOW[qos];
  const pubMark = markOf(pubConn);
  const subMark = markOf(subConn);
  pub.send(packet);
  const has = (units: WireUnit[], types: string[]) => types.every((t) => units.some((u) => u.type === t));
  const pubUnits = await waitForUnits(pubConn, splitMqtt, pubMark, (u) => has(u.up, flow.publisherUp) && has(u.down, flow.publisherDown));
  const subUnits = await waitForUnits(subConn, splitMqtt, subMark, (u) => has(u.down, flow.subscriberDown) && has(u.up, flow.subscriberUp));
  const publisher: MqttStep = { side: 'publisher', packets: rows(pubConn, pubUnits), bytes: 0 };
  publisher.bytes = sumBytes(publisher.packets);
  const subscriber: MqttStep = { side: 'subscriber', packets: rows(subConn, subUnits), bytes: 0 };
  subscriber.bytes = sumBytes(subscriber.packets);
  const total = publisher.bytes + subscriber.bytes;
  return { version, qos, payloadBytes, publisher, subscriber, total, overhead: total - 2 * payloadBytes };
}

function markOf(conn: ProxiedConnection): Mark {
  return conn.bytes;
}

/** The packets of a step, both ways in the order they crossed the wire. */
function rows(conn: ProxiedConnection, units: { up: WireUnit[]; down: WireUnit[] }): WireRow[] {
  return timeOrdered(conn, units).map((u) => ({
    direction: u.direction,
    type: u.type + (u.detail ? ` (${u.detail})` : ''),
    bytes: u.bytes,
  }));
}

/**
 * A bare MQTT client over a socket: sends exactly the packets given (mqtt-packet encodes them) and answers
 * QoS flows the minimal way: PUBACK for QoS 1, PUBREC then PUBCOMP for QoS 2 [MQTT-4.3.2, 4.3.3], and
 * PUBREL when its own QoS 2 PUBLISH is PUBREC'd. Acks carry Reason Code 0 so MQTT 5 may omit it (§3.4.2.1).
 */
export class WireClient {
  readonly received: Packet[] = [];
  private cursor = 0;
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly protocolVersion: 4 | 5,
  ) {
    const parser = mqttPacket.parser({ protocolVersion });
    parser.on('packet', (packet: Packet) => {
      this.received.push(packet);
      const p = packet as Packet & { messageId?: number; qos?: number };
      if (packet.cmd === 'publish' && p.qos === 1) this.send({ cmd: 'puback', messageId: p.messageId!, reasonCode: 0 } as Packet);
      if (packet.cmd === 'publish' && p.qos === 2) this.send({ cmd: 'pubrec', messageId: p.messageId!, reasonCode: 0 } as Packet);
      if (packet.cmd === 'pubrel') this.send({ cmd: 'pubcomp', messageId: p.messageId!, reasonCode: 0 } as Packet);
      if (packet.cmd === 'pubrec') this.send({ cmd: 'pubrel', messageId: p.messageId!, reasonCode: 0 } as Packet);
    });
    parser.on('error', () => socket.destroy());
    socket.on('data', (chunk) => parser.parse(chunk));
    socket.on('error', () => {});
    socket.once('close', () => (this.closed = true));
  }

  static open(port: number, protocolVersion: 4 | 5, host = '127.0.0.1'): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host);
      socket.setNoDelay(true);
      socket.once('connect', () => resolve(new WireClient(socket, protocolVersion)));
      socket.once('error', reject);
    });
  }

  send(packet: Packet): void {
    if (!this.closed) this.socket.write(mqttPacket.generate(packet, { protocolVersion: this.protocolVersion }));
  }

  /** Waits (bounded) for the next packet of a type. */
  async expect(cmd: Packet['cmd'], timeoutMs = 3000): Promise<Packet> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.received.length) {
        const p = this.received[this.cursor++]!;
        if (p.cmd === cmd) return p;
      }
      if (this.closed) throw new Error(`MQTT connection closed while waiting for ${cmd.toUpperCase()}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${cmd.toUpperCase()}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** Waits (bounded) until `count` packets of a type have arrived in total. */
  async waitForCount(cmd: Packet['cmd'], count: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.filter((p) => p.cmd === cmd).length < count) {
      if (Date.now() > deadline || this.closed) return false;
      await new Promise((r) => setTimeout(r, 2));
    }
    return true;
  }

  async disconnect(): Promise<void> {
    // Written by hand: mqtt-packet always adds Reason Code and Property Length in 5.0, but with Normal
    // disconnection and no properties both can be omitted (MQTT 5 §3.14.2.1; 3.1.1 §3.14 has none): 0xE0 0x00.
    if (!this.closed) this.socket.write(Buffer.from([0xe0, 0x00]));
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * What the specs say the client's own packets must cost, worked out without a broker: the size of the
 * encoding of a PUBLISH per MQTT 3.1.1 §3.3 / 5.0 §3.3 (fixed header + Remaining Length varint + topic
 * length prefix + topic + packet id when QoS > 0 + property length in 5.0 + payload).
 */
export function expectedPublishSize(
  version: MqttVersion,
  topicBytes: number,
  payloadBytes: number,
  qos: 0 | 1 | 2,
  propertyBytes = 0,
): number {
  const remaining =
    2 + topicBytes + (qos > 0 ? 2 : 0) + (version === '5.0' ? variableByteIntegerSize(propertyBytes) + propertyBytes : 0) + payloadBytes;
  return 1 + variableByteIntegerSize(remaining) + remaining;
}
