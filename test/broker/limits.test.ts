import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqttPacket, { type IPublishPacket } from 'mqtt-packet';
import { describeEachBroker, startBroker, type BrokerKind, type TestBroker } from '../helpers/brokers.js';
import { collect, connectClient, end, sleep } from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';

/** The server's Maximum Packet Size in these tests (embedded `maximumPacketSize`, Mosquitto `max_packet_size`). */
const SERVER_MAX = 1024;

function withServerMax(kind: BrokerKind): Promise<TestBroker> {
  return startBroker(kind, { embedded: { maximumPacketSize: SERVER_MAX }, mosquitto: [`max_packet_size ${SERVER_MAX}`] });
}

/** A PUBLISH whose encoded size is exactly `size` bytes (MQTT 5, QoS 1, no properties). */
function publishOfSize(size: number, topic: string, messageId: number): { packet: IPublishPacket; bytes: Buffer } {
  const packet: IPublishPacket = {
    cmd: 'publish',
    topic,
    payload: Buffer.alloc(0),
    qos: 1,
    retain: false,
    dup: false,
    messageId,
    properties: {},
  };
  const overhead = mqttPacket.generate(packet, { protocolVersion: 5 }).length;
  // Payloads here are > 127 bytes, so the remaining length takes 2 bytes instead of 1.
  packet.payload = Buffer.alloc(size - overhead - 1, 0x61);
  const bytes = mqttPacket.generate(packet, { protocolVersion: 5 });
  assert.equal(bytes.length, size, 'test setup: PUBLISH of the intended size');
  return { packet, bytes };
}

describeEachBroker('Maximum Packet Size: client to server', (kind) => {
  test('CONNACK announces the server Maximum Packet Size (§3.2.2.3.6)', async () => {
    const b = await withServerMax(kind);
    try {
      const { client, connack } = await RawClient.connect(b.port, { clientId: 'mps-connack' });
      assert.equal(connack.reasonCode, 0);
      assert.equal(connack.properties?.maximumPacketSize, SERVER_MAX);
      await client.disconnect();
    } finally {
      await b.close();
    }
  });

  test('a PUBLISH larger than the server Maximum Packet Size gets DISCONNECT 0x95 and is not delivered [MQTT-3.2.2-15]', async () => {
    const b = await withServerMax(kind);
    const sub = await connectClient(b.url, { clientId: 'mps-sub' });
    try {
      const got = collect(sub);
      await sub.subscribeAsync('mps/big', { qos: 1 });
      const { client } = await RawClient.connect(b.port, { clientId: 'mps-pub' });
      client.send({
        cmd: 'publish',
        topic: 'mps/big',
        payload: Buffer.alloc(4 * SERVER_MAX, 0x62),
        qos: 1,
        retain: false,
        dup: false,
        messageId: 1,
      });
      assert.ok(await client.closedWithin(3000), 'the server closes the connection');
      const disconnect = client.all('disconnect')[0];
      assert.ok(disconnect, 'a DISCONNECT comes before the close');
      assert.equal(disconnect.reasonCode, 0x95);
      assert.equal(client.all('puback').length, 0);
      await sleep(200);
      assert.equal(got.length, 0, 'the oversized message reached no subscriber');
    } finally {
      await end(sub, true);
      await b.close();
    }
  });

  test('a packet of exactly the server Maximum Packet Size is accepted; one byte more is not [MQTT-3.2.2-15]', async () => {
    const b = await withServerMax(kind);
    try {
      const { client } = await RawClient.connect(b.port, { clientId: 'mps-exact' });
      client.sendBytes(publishOfSize(SERVER_MAX, 'mps/exact', 1).bytes);
      const puback = await client.expect('puback');
      assert.equal(puback.messageId, 1);

      client.sendBytes(publishOfSize(SERVER_MAX + 1, 'mps/exact', 2).bytes);
      if (kind === 'mosquitto') {
        // Mosquitto 2.0.11 compares remaining length + 1 with max_packet_size, not the whole packet
        // (1 + 2 length bytes + remaining length), so a packet 1 byte over the announced maximum is
        // still accepted, against [MQTT-3.2.2-15] / MQTT 5.0 §3.1.2.11.4 "packet size is the total
        // number of bytes in an MQTT Control Packet".
        const second = await client.expect('puback');
        assert.equal(second.messageId, 2);
        assert.equal(client.isOpen, true);
        await client.disconnect();
      } else {
        assert.ok(await client.closedWithin(3000));
        assert.equal(client.all('disconnect')[0]?.reasonCode, 0x95);
        assert.equal(client.all('puback').length, 1, 'only the packet within the limit was acknowledged');
      }
    } finally {
      await b.close();
    }
  });

  test('3.1.1: a packet over the server maximum closes the connection without a DISCONNECT', async () => {
    const b = await withServerMax(kind);
    try {
      const { client, connack } = await RawClient.connect(b.port, { clientId: 'mps-311', protocolVersion: 4 });
      assert.equal(connack.returnCode, 0);
      client.send({ cmd: 'publish', topic: 'mps/311', payload: Buffer.alloc(4 * SERVER_MAX), qos: 0, retain: false, dup: false });
      assert.ok(await client.closedWithin(3000));
      // MQTT 3.1.1 has no server DISCONNECT.
      assert.equal(client.all('disconnect').length, 0);
    } finally {
      await b.close();
    }
  });
});

describeEachBroker('Maximum Packet Size: server to client', (kind) => {
  const CLIENT_MAX = 200;

  test('a PUBLISH larger than the client Maximum Packet Size is discarded, smaller ones delivered (QoS 0) [MQTT-3.1.2-24]', async () => {
    const b = await startBroker(kind);
    const pub = await connectClient(b.url, { clientId: 'mpsc-pub0' });
    try {
      const { client } = await RawClient.connect(b.port, { clientId: 'mpsc-sub0', properties: { maximumPacketSize: CLIENT_MAX } });
      client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'mpsc/0', qos: 0 }] });
      await client.expect('suback');
      await pub.publishAsync('mpsc/0', 'small-1');
      await pub.publishAsync('mpsc/0', Buffer.alloc(CLIENT_MAX * 2, 0x78));
      await pub.publishAsync('mpsc/0', 'small-2');
      const first = await client.expect('publish');
      const second = await client.expect('publish');
      assert.deepEqual([first.payload.toString(), second.payload.toString()], ['small-1', 'small-2']);
      await sleep(200);
      const publishes = client.all('publish');
      assert.equal(publishes.length, 2, 'the large message was not sent');
      for (const p of publishes) assert.ok(mqttPacket.generate(p, { protocolVersion: 5 }).length <= CLIENT_MAX);
      assert.equal(client.isOpen, true);
      await client.disconnect();
    } finally {
      await end(pub, true);
      await b.close();
    }
  });

  test('a QoS 1 message too large for the client is dropped as if delivered, so later messages still flow [MQTT-3.1.2-25]', async () => {
    const b = await startBroker(kind);
    const pub = await connectClient(b.url, { clientId: 'mpsc-pub1' });
    try {
      // Receive Maximum 1: were the large message kept in flight, nothing after it could be sent.
      const { client } = await RawClient.connect(b.port, {
        clientId: 'mpsc-sub1',
        properties: { maximumPacketSize: CLIENT_MAX, receiveMaximum: 1 },
      });
      client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'mpsc/1', qos: 1 }] });
      await client.expect('suback');
      await pub.publishAsync('mpsc/1', Buffer.alloc(CLIENT_MAX * 2, 0x79), { qos: 1 });
      await pub.publishAsync('mpsc/1', 'after-1', { qos: 1 });
      await pub.publishAsync('mpsc/1', 'after-2', { qos: 1 });
      if (kind === 'mosquitto') {
        // Mosquitto 2.0.11 keeps the discarded QoS 1 message in its in-flight window (it uses a packet
        // identifier and is never acknowledged), so with Receive Maximum 1 nothing else is ever sent —
        // against [MQTT-3.1.2-25] "behave as if it had completed sending that Application Message".
        assert.equal(await client.closedWithin(1500), false);
        assert.equal(client.all('publish').length, 0);
        await client.disconnect();
        return;
      }
      const payloads: string[] = [];
      for (let i = 0; i < 2; i++) {
        const p = await client.expect('publish');
        payloads.push(p.payload.toString());
        client.send({ cmd: 'puback', messageId: p.messageId!, reasonCode: 0 });
      }
      assert.deepEqual(payloads, ['after-1', 'after-2']);
      await sleep(200);
      assert.equal(client.all('publish').length, 2);
      await client.disconnect();
    } finally {
      await end(pub, true);
      await b.close();
    }
  });

  test('a retained message too large for the client is not sent on subscribe; smaller retained ones are [MQTT-3.1.2-24]', async () => {
    const b = await startBroker(kind);
    const pub = await connectClient(b.url, { clientId: 'mpsc-pubr' });
    try {
      await pub.publishAsync('mpsc/r/big', Buffer.alloc(CLIENT_MAX * 2, 0x7a), { qos: 1, retain: true });
      await pub.publishAsync('mpsc/r/small', 'small', { qos: 1, retain: true });
      const { client } = await RawClient.connect(b.port, { clientId: 'mpsc-subr', properties: { maximumPacketSize: CLIENT_MAX } });
      client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'mpsc/r/#', qos: 0 }] });
      await client.expect('suback');
      const p = await client.expect('publish');
      assert.equal(p.topic, 'mpsc/r/small');
      await sleep(200);
      assert.equal(client.all('publish').length, 1);
      await client.disconnect();
    } finally {
      await end(pub, true);
      await b.close();
    }
  });
});

describeEachBroker('Receive Maximum: client to server', (kind) => {
  test('more unacknowledged QoS 2 PUBLISH than the server Receive Maximum gets DISCONNECT 0x93 [MQTT-3.3.4-7]', async () => {
    // Embedded `receiveMaximum`; Mosquitto announces `max_inflight_messages` as its Receive Maximum.
    const b = await startBroker(kind, { embedded: { receiveMaximum: 2 }, mosquitto: ['max_inflight_messages 2'] });
    try {
      const { client, connack } = await RawClient.connect(b.port, { clientId: 'rm-pub' });
      const announced = connack.properties?.receiveMaximum;
      assert.equal(announced, 2);
      for (let id = 1; id <= 2; id++) {
        client.send({ cmd: 'publish', topic: 'rm/q2', payload: Buffer.from(`m${id}`), qos: 2, retain: false, dup: false, messageId: id });
        const pubrec = await client.expect('pubrec');
        assert.equal(pubrec.messageId, id);
      }
      // Neither has been released with PUBREL, so a third QoS 2 PUBLISH exceeds the Receive Maximum.
      client.send({ cmd: 'publish', topic: 'rm/q2', payload: Buffer.from('m3'), qos: 2, retain: false, dup: false, messageId: 3 });
      if (kind === 'mosquitto') {
        // Mosquitto 2.0.11 answers PUBREC 0x97 (Quota exceeded) and keeps the connection, where
        // MQTT 5.0 §3.3.4 ([MQTT-3.3.4-7]) says the server uses DISCONNECT 0x93 (Receive Maximum exceeded).
        const pubrec = await client.expect('pubrec');
        assert.equal(pubrec.messageId, 3);
        assert.equal(pubrec.reasonCode, 0x97);
        assert.equal(await client.closedWithin(500), false);
        await client.disconnect();
        return;
      }
      assert.ok(await client.closedWithin(3000));
      assert.equal(client.all('disconnect')[0]?.reasonCode, 0x93);
    } finally {
      await b.close();
    }
  });

  test('QoS 2 messages released with PUBREL free the Receive Maximum window', async () => {
    const b = await startBroker(kind, { embedded: { receiveMaximum: 2 }, mosquitto: ['max_inflight_messages 2'] });
    try {
      const { client } = await RawClient.connect(b.port, { clientId: 'rm-ok' });
      for (let id = 1; id <= 6; id++) {
        client.send({ cmd: 'publish', topic: 'rm/ok', payload: Buffer.from(`m${id}`), qos: 2, retain: false, dup: false, messageId: id });
        await client.expect('pubrec');
        client.send({ cmd: 'pubrel', messageId: id, reasonCode: 0 });
        const pubcomp = await client.expect('pubcomp');
        assert.equal(pubcomp.messageId, id);
        assert.equal(pubcomp.reasonCode ?? 0, 0);
      }
      assert.equal(client.isOpen, true);
      await client.disconnect();
    } finally {
      await b.close();
    }
  });
});

describeEachBroker('Server shutdown', (kind) => {
  test('closing the broker sends DISCONNECT 0x8B (Server shutting down) to MQTT 5 clients, closes 3.1.1 ones (§3.14.2.1)', async () => {
    const b = await startBroker(kind);
    const { client: v5 } = await RawClient.connect(b.port, { clientId: 'shutdown-v5' });
    const { client: v311 } = await RawClient.connect(b.port, { clientId: 'shutdown-311', protocolVersion: 4 });
    await b.close();
    assert.ok(await v5.closedWithin(3000));
    assert.ok(await v311.closedWithin(3000));
    assert.equal(v311.all('disconnect').length, 0, 'MQTT 3.1.1 has no server DISCONNECT');
    if (kind === 'mosquitto') {
      // Mosquitto 2.0.11 on SIGTERM closes the sockets without a DISCONNECT. The spec makes the server's
      // DISCONNECT before closing a SHOULD/MAY (§4.13.1, §3.14), so this is a difference, not a violation.
      assert.equal(v5.all('disconnect').length, 0);
    } else {
      const disconnects = v5.all('disconnect');
      assert.equal(disconnects.length, 1);
      assert.equal(disconnects[0]!.reasonCode, 0x8b);
    }
  });
});
