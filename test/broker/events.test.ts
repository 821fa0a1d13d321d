import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Packet } from 'mqtt-packet';
import type { ClientInfo, DropReason, Message } from '../../src/broker/index.js';
import { startBroker, type TestBroker } from '../helpers/brokers.js';
import { sleep, waitUntil } from '../helpers/clients.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { RawClient } from '../helpers/raw-client.js';

// The embedded broker's typed events (src/broker/events.ts). Mosquitto has no equivalent API, so
// these run against the embedded broker only.

async function withBroker(options: Parameters<typeof startBroker>[1], body: (b: TestBroker) => Promise<void>): Promise<void> {
  const b = await startBroker('embedded', options);
  try {
    await body(b);
  } finally {
    await b.close();
  }
}

describe('broker events [embedded]', () => {
  test('clientConnected reports who connected and whether a session was present', async () => {
    await withBroker({}, async (b) => {
      const seen: Array<[ClientInfo, boolean]> = [];
      b.broker!.events.on('clientConnected', (info, present) => seen.push([info, present]));
      const first = await RawClient.connect(b.port, { clientId: 'ev-conn', clean: false, properties: { sessionExpiryInterval: 60 } });
      await first.client.disconnect();
      const second = await RawClient.connect(b.port, { clientId: 'ev-conn', clean: false, properties: { sessionExpiryInterval: 60 } });
      const v311 = await RawClient.connect(b.port, { clientId: 'ev-conn-311', protocolVersion: 4 });
      await waitUntil(() => seen.length === 3, 2000, 'three clientConnected events');
      assert.deepEqual(
        seen.map(([info, present]) => [info.clientId, info.protocolVersion, info.transport, info.remoteAddress, present]),
        [
          ['ev-conn', 5, 'tcp', '127.0.0.1', false],
          ['ev-conn', 5, 'tcp', '127.0.0.1', true],
          ['ev-conn-311', 4, 'tcp', '127.0.0.1', false],
        ],
      );
      assert.equal(second.connack.sessionPresent, true);
      await second.client.disconnect();
      await v311.client.disconnect();
    });
  });

  test('clientDisconnected gives the reason: DISCONNECT, dropped socket, takeover, protocol error', async () => {
    await withBroker({}, async (b) => {
      const reasons = new Map<string, string[]>();
      b.broker!.events.on('clientDisconnected', (info, reason) =>
        reasons.set(info.clientId, [...(reasons.get(info.clientId) ?? []), reason]),
      );

      await (await RawClient.connect(b.port, { clientId: 'ev-normal' })).client.disconnect();
      const dropped = await RawClient.connect(b.port, { clientId: 'ev-dropped' });
      dropped.client.destroy();
      const taken = await RawClient.connect(b.port, { clientId: 'ev-taken' });
      const taker = await RawClient.connect(b.port, { clientId: 'ev-taken' });
      await taken.client.closed;
      const bad = await RawClient.connect(b.port, { clientId: 'ev-bad' });
      bad.client.sendBytes([0x36, 0x00]); // PUBLISH with QoS 3: malformed
      await bad.client.closed;

      await waitUntil(
        () => ['ev-normal', 'ev-dropped', 'ev-taken', 'ev-bad'].every((id) => reasons.has(id)),
        2000,
        'four clientDisconnected events',
      );
      assert.match(reasons.get('ev-normal')!.join(), /client sent DISCONNECT \(reason 0x00\)/);
      assert.match(reasons.get('ev-dropped')!.join(), /connection closed by the client/);
      assert.match(reasons.get('ev-taken')!.join(), /taken over.*SessionTakenOver \(0x8e\)/);
      assert.match(reasons.get('ev-bad')!.join(), /MalformedPacket \(0x81\)/);
      await taker.client.disconnect();
    });
  });

  test('packetIn / packetOut show a QoS 2 flow in wire order on both sides [MQTT-4.3.3]', async () => {
    await withBroker({}, async (b) => {
      const log: Array<[string, string | undefined, string, number | undefined]> = [];
      const record = (dir: string) => (clientId: string | undefined, packet: Packet) =>
        log.push([dir, clientId, packet.cmd, (packet as { messageId?: number }).messageId]);
      b.broker!.events.on('packetIn', record('in'));
      b.broker!.events.on('packetOut', record('out'));

      const { client: sub } = await RawClient.connect(b.port, { clientId: 'ev-q2-sub' });
      sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'ev/q2', qos: 2 }] });
      await sub.expect('suback');
      const { client: pub } = await RawClient.connect(b.port, { clientId: 'ev-q2-pub' });
      log.length = 0;

      pub.send({ cmd: 'publish', topic: 'ev/q2', payload: Buffer.from('exactly once'), qos: 2, retain: false, dup: false, messageId: 7 });
      const delivered = await sub.expect('publish');
      await pub.expect('pubrec');
      pub.send({ cmd: 'pubrel', messageId: 7, reasonCode: 0 });
      await pub.expect('pubcomp');
      sub.send({ cmd: 'pubrec', messageId: delivered.messageId!, reasonCode: 0 });
      await sub.expect('pubrel');
      sub.send({ cmd: 'pubcomp', messageId: delivered.messageId!, reasonCode: 0 });
      await waitUntil(() => log.length >= 8, 2000, 'eight packet events');
      await sleep(100);

      const of = (id: string) =>
        log.filter(([, clientId]) => clientId === id).map(([dir, , cmd, messageId]) => `${dir} ${cmd} ${messageId}`);
      assert.deepEqual(of('ev-q2-pub'), ['in publish 7', 'out pubrec 7', 'in pubrel 7', 'out pubcomp 7']);
      const d = delivered.messageId;
      assert.deepEqual(of('ev-q2-sub'), [`out publish ${d}`, `in pubrec ${d}`, `out pubrel ${d}`, `in pubcomp ${d}`]);
      // The message is routed while its PUBLISH is handled, before the publisher's PUBREC goes out.
      const at = (entry: string, id: string) =>
        log.findIndex(([dir, clientId, cmd, messageId]) => clientId === id && `${dir} ${cmd} ${messageId}` === entry);
      assert.ok(at('in publish 7', 'ev-q2-pub') < at(`out publish ${d}`, 'ev-q2-sub'));
      assert.ok(at(`out publish ${d}`, 'ev-q2-sub') < at('out pubrec 7', 'ev-q2-pub'));
      await pub.disconnect();
      await sub.disconnect();
    });
  });

  test('messagePublished reports each accepted message with its number of receivers', async () => {
    await withBroker({}, async (b) => {
      const published: Array<[string, number]> = [];
      b.broker!.events.on('messagePublished', (message, receivers) => published.push([message.topic, receivers]));
      const { client: s1 } = await RawClient.connect(b.port, { clientId: 'ev-mp-1' });
      const { client: s2 } = await RawClient.connect(b.port, { clientId: 'ev-mp-2' });
      for (const s of [s1, s2]) {
        s.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'ev/mp/#', qos: 0 }] });
        await s.expect('suback');
      }
      s1.send({ cmd: 'publish', topic: 'ev/mp/two', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
      s1.send({ cmd: 'publish', topic: 'ev/none', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
      await waitUntil(() => published.length === 2, 2000, 'two messagePublished events');
      assert.deepEqual(published, [
        ['ev/mp/two', 2],
        ['ev/none', 0],
      ]);
      await s1.disconnect();
      await s2.disconnect();
    });
  });

  describe('messageDropped', () => {
    /** Subscribes a persistent-session client at QoS 1, then leaves it offline. */
    async function offlineSubscriber(b: TestBroker, clientId: string, topic: string): Promise<void> {
      const { client } = await RawClient.connect(b.port, { clientId, clean: true, properties: { sessionExpiryInterval: 60 } });
      client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
      await client.expect('suback');
      await client.disconnect();
    }
    function recordDrops(b: TestBroker): Array<[string, string, DropReason]> {
      const drops: Array<[string, string, DropReason]> = [];
      b.broker!.events.on('messageDropped', (clientId: string, message: Message, reason: DropReason) =>
        drops.push([clientId, message.payload.toString(), reason]),
      );
      return drops;
    }

    test("'expired': a queued message whose Message Expiry Interval passed is not delivered [MQTT-3.3.2-5]", async () => {
      // The broker's clock is moved forward instead of sleeping past the 1 s expiry.
      const clock = new ManualClock(Date.now());
      await withBroker({ embedded: { clock } }, async (b) => {
        const drops = recordDrops(b);
        await offlineSubscriber(b, 'ev-exp', 'ev/exp');
        const { client: pub } = await RawClient.connect(b.port, { clientId: 'ev-exp-pub' });
        pub.send({
          cmd: 'publish',
          topic: 'ev/exp',
          payload: Buffer.from('short-lived'),
          qos: 1,
          retain: false,
          dup: false,
          messageId: 1,
          properties: { messageExpiryInterval: 1 },
        });
        pub.send({
          cmd: 'publish',
          topic: 'ev/exp',
          payload: Buffer.from('long-lived'),
          qos: 1,
          retain: false,
          dup: false,
          messageId: 2,
          properties: { messageExpiryInterval: 60 },
        });
        await pub.expect('puback');
        await pub.expect('puback');
        clock.advance(1600);
        const { client: sub, connack } = await RawClient.connect(b.port, {
          clientId: 'ev-exp',
          clean: false,
          properties: { sessionExpiryInterval: 60 },
        });
        assert.equal(connack.sessionPresent, true);
        const p = await sub.expect('publish');
        assert.equal(p.payload.toString(), 'long-lived');
        assert.deepEqual(drops, [['ev-exp', 'short-lived', 'expired']]);
        await sleep(200);
        assert.equal(sub.all('publish').length, 1);
        await sub.disconnect();
        await pub.disconnect();
      });
    });

    test("'queue-full': beyond maxQueuedMessages an offline session's message is dropped", async () => {
      await withBroker({ embedded: { maxQueuedMessages: 2 } }, async (b) => {
        const drops = recordDrops(b);
        await offlineSubscriber(b, 'ev-full', 'ev/full');
        const { client: pub } = await RawClient.connect(b.port, { clientId: 'ev-full-pub' });
        for (let i = 1; i <= 3; i++) {
          pub.send({ cmd: 'publish', topic: 'ev/full', payload: Buffer.from(`m${i}`), qos: 1, retain: false, dup: false, messageId: i });
          await pub.expect('puback');
        }
        assert.deepEqual(drops, [['ev-full', 'm3', 'queue-full']]);
        const { client: sub } = await RawClient.connect(b.port, {
          clientId: 'ev-full',
          clean: false,
          properties: { sessionExpiryInterval: 60 },
        });
        const got = [(await sub.expect('publish')).payload.toString(), (await sub.expect('publish')).payload.toString()];
        assert.deepEqual(got, ['m1', 'm2']);
        await sleep(200);
        assert.equal(sub.all('publish').length, 2);
        await sub.disconnect();
        await pub.disconnect();
      });
    });

    test("'too-large': a message over the subscriber's Maximum Packet Size is dropped [MQTT-3.1.2-25]", async () => {
      await withBroker({}, async (b) => {
        const drops = recordDrops(b);
        const { client: sub } = await RawClient.connect(b.port, { clientId: 'ev-big', properties: { maximumPacketSize: 100 } });
        sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'ev/big', qos: 1 }] });
        await sub.expect('suback');
        const { client: pub } = await RawClient.connect(b.port, { clientId: 'ev-big-pub' });
        pub.send({ cmd: 'publish', topic: 'ev/big', payload: Buffer.alloc(500, 0x42), qos: 1, retain: false, dup: false, messageId: 1 });
        pub.send({ cmd: 'publish', topic: 'ev/big', payload: Buffer.from('fits'), qos: 1, retain: false, dup: false, messageId: 2 });
        const p = await sub.expect('publish');
        assert.equal(p.payload.toString(), 'fits');
        assert.deepEqual(
          drops.map(([id, payload, reason]) => [id, payload.length, reason]),
          [['ev-big', 500, 'too-large']],
        );
        await sub.disconnect();
        await pub.disconnect();
      });
    });

    test("'offline-qos0': a QoS 0 message for an offline session is not queued", async () => {
      await withBroker({}, async (b) => {
        const drops = recordDrops(b);
        await offlineSubscriber(b, 'ev-q0', 'ev/q0');
        const { client: pub } = await RawClient.connect(b.port, { clientId: 'ev-q0-pub' });
        pub.send({ cmd: 'publish', topic: 'ev/q0', payload: Buffer.from('fire and forget'), qos: 0, retain: false, dup: false });
        await waitUntil(() => drops.length === 1, 2000, 'a messageDropped event');
        assert.deepEqual(drops, [['ev-q0', 'fire and forget', 'offline-qos0']]);
        await pub.disconnect();
      });
    });
  });
});
