import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import mqttPacket, { type Packet } from 'mqtt-packet';
import WebSocket from 'ws';
import { describeEachBroker, startBroker, type TestBroker } from '../helpers/brokers.js';
import { collect, connectClient, end, waitUntil } from '../helpers/clients.js';

// MQTT over WebSocket (MQTT 5.0 §6). Mosquitto 2.0.11 as packaged by Debian is built with WebSocket
// support, so both brokers are started with a `protocol websockets` / `websocket: true` listener.

/** A bare WebSocket MQTT client: sends bytes in frames of our choosing and parses what comes back. */
class RawWsClient {
  readonly received: Packet[] = [];
  readonly closed: Promise<void>;

  private constructor(readonly ws: WebSocket) {
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    parser.on('packet', (p: Packet) => this.received.push(p));
    ws.on('message', (data: Buffer) => parser.parse(data));
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
  }

  static open(url: string, protocols: string[] = ['mqtt']): Promise<RawWsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols);
      ws.once('open', () => resolve(new RawWsClient(ws)));
      ws.once('error', reject);
    });
  }

  sendFrame(bytes: Buffer, binary = true): void {
    this.ws.send(bytes, { binary });
  }

  async waitFor(cmd: string, timeoutMs = 3000): Promise<Packet> {
    await waitUntil(() => this.received.some((p) => p.cmd === cmd), timeoutMs, cmd);
    return this.received.find((p) => p.cmd === cmd)!;
  }

  closedWithin(ms: number): Promise<boolean> {
    return Promise.race([this.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
  }

  close(): void {
    this.ws.terminate();
  }
}

const encode = (p: Packet) => mqttPacket.generate(p, { protocolVersion: 5 });
const connectBytes = (clientId: string) =>
  encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId });

describeEachBroker('MQTT over WebSocket', (kind) => {
  let b: TestBroker;
  before(async () => {
    b = await startBroker(kind, { websocket: true });
    assert.ok(b.wsUrl, 'a WebSocket listener');
  });
  after(() => b.close());

  for (const protocolVersion of [5, 4] as const) {
    test(`MQTT.js ${protocolVersion === 5 ? '5.0' : '3.1.1'} over ws:// subscribes and receives its own publish`, async () => {
      const client = await connectClient(b.wsUrl!, { clientId: `ws-mqttjs-${protocolVersion}`, protocolVersion });
      try {
        const got = collect(client);
        await client.subscribeAsync(`ws/roundtrip/${protocolVersion}`, { qos: 1 });
        await client.publishAsync(`ws/roundtrip/${protocolVersion}`, 'over websocket', { qos: 1 });
        await waitUntil(() => got.length === 1, 3000, 'the message');
        assert.equal(got[0]!.payload, 'over websocket');
      } finally {
        await end(client);
      }
    });
  }

  test('a WebSocket client and a TCP client exchange messages both ways', async () => {
    const wsClient = await connectClient(b.wsUrl!, { clientId: 'ws-side' });
    const tcpClient = await connectClient(b.url, { clientId: 'tcp-side' });
    try {
      const atWs = collect(wsClient);
      const atTcp = collect(tcpClient);
      await wsClient.subscribeAsync('bridge/to-ws', { qos: 1 });
      await tcpClient.subscribeAsync('bridge/to-tcp', { qos: 1 });
      await tcpClient.publishAsync('bridge/to-ws', 'from tcp', { qos: 1 });
      await wsClient.publishAsync('bridge/to-tcp', 'from ws', { qos: 1 });
      await waitUntil(() => atWs.length === 1 && atTcp.length === 1, 3000, 'both messages');
      assert.equal(atWs[0]!.payload, 'from tcp');
      assert.equal(atTcp[0]!.payload, 'from ws');
    } finally {
      await end(wsClient);
      await end(tcpClient);
    }
  });

  test('the server selects the "mqtt" subprotocol [MQTT-6.0.0-4]', async () => {
    const client = await RawWsClient.open(b.wsUrl!, ['mqtt']);
    try {
      assert.equal(client.ws.protocol, 'mqtt');
    } finally {
      client.close();
    }
  });

  test('packets split across WebSocket frames, and several packets in one frame, are read [MQTT-6.0.0-2]', async () => {
    const client = await RawWsClient.open(b.wsUrl!);
    try {
      const connect = connectBytes('ws-frames');
      // CONNECT in two frames, cut inside the protocol name.
      client.sendFrame(connect.subarray(0, 5));
      client.sendFrame(connect.subarray(5));
      const connack = await client.waitFor('connack');
      assert.equal((connack as { reasonCode?: number }).reasonCode, 0);
      // SUBSCRIBE and a PUBLISH to the same topic in one frame.
      client.sendFrame(
        Buffer.concat([
          encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'ws/frames', qos: 0 }] }),
          encode({ cmd: 'publish', topic: 'ws/frames', payload: Buffer.from('batched'), qos: 0, retain: false, dup: false }),
        ]),
      );
      await client.waitFor('suback');
      const publish = await client.waitFor('publish');
      assert.equal((publish as { payload: Buffer }).payload.toString(), 'batched');
    } finally {
      client.close();
    }
  });

  test('a text data frame closes the connection [MQTT-6.0.0-1]', async () => {
    const client = await RawWsClient.open(b.wsUrl!);
    try {
      client.sendFrame(connectBytes('ws-text'));
      await client.waitFor('connack');
      client.sendFrame(encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }] }));
      await client.waitFor('suback');
      // A PUBLISH to "a" whose bytes are all ASCII (30 05 00 01 61 00 78), so the text frame is valid
      // UTF-8 and only the MQTT rule, not the WebSocket layer, can refuse it.
      const publish = encode({ cmd: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
      assert.deepEqual([...publish], [0x30, 0x05, 0x00, 0x01, 0x61, 0x00, 0x78]);
      client.sendFrame(publish, false);
      if (kind === 'mosquitto') {
        // Mosquitto 2.0.11 reads a text frame like a binary one: it routes the PUBLISH (back to this
        // subscriber) and keeps the connection, against [MQTT-6.0.0-1].
        await client.waitFor('publish');
        assert.equal(await client.closedWithin(500), false);
        return;
      }
      assert.ok(await client.closedWithin(3000), 'the server closes the WebSocket');
      assert.equal(client.received.filter((p) => p.cmd === 'publish').length, 0, 'the text frame was not processed');
    } finally {
      client.close();
    }
  });
});
