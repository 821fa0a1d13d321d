import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DropReason, Message } from '../../src/broker/index.js';
import { startBroker, type TestBroker } from '../helpers/brokers.js';
import { waitUntil } from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';

function recordDrops(b: TestBroker): Array<{ payload: string; reason: DropReason }> {
  const drops: Array<{ payload: string; reason: DropReason }> = [];
  b.broker!.events.on('messageDropped', (_id: string, m: Message, reason: DropReason) =>
    drops.push({ payload: m.payload.toString(), reason }),
  );
  return drops;
}

/** PINGREQ/PINGRESP: everything the broker wrote to this client before the PINGRESP has arrived. */
async function ping(client: RawClient): Promise<void> {
  client.send({ cmd: 'pingreq' });
  await client.expect('pingresp', 10_000);
}

describe('Slow subscribers cannot grow broker memory without bound [embedded]', () => {
  test('a subscriber that never acks holds at most Receive Maximum in flight + maxQueuedMessages; the rest is dropped', async () => {
    const b = await startBroker('embedded', { embedded: { maxQueuedMessages: 10 } });
    const drops = recordDrops(b);
    try {
      const { client: sub } = await RawClient.connect(b.port, { clientId: 'never-acks', properties: { receiveMaximum: 5 } });
      sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'slow/q1', qos: 1 }] });
      await sub.expect('suback');
      const { client: pub } = await RawClient.connect(b.port, { clientId: 'slow-q1-pub' });
      for (let i = 1; i <= 50; i++) {
        pub.send({ cmd: 'publish', topic: 'slow/q1', payload: Buffer.from(`m${i}`), qos: 1, retain: false, dup: false, messageId: i });
        await pub.expect('puback');
      }
      await ping(sub);
      assert.deepEqual(
        sub.all('publish').map((p) => p.payload.toString()),
        ['m1', 'm2', 'm3', 'm4', 'm5'],
      );
      const session = b.broker!.sessions.get('never-acks')!;
      assert.equal(session.inflight.size, 5);
      assert.deepEqual(
        [...session.queue].map((d) => d.message.payload.toString()),
        Array.from({ length: 10 }, (_, i) => `m${i + 6}`),
      );
      assert.deepEqual(
        drops,
        Array.from({ length: 35 }, (_, i) => ({ payload: `m${i + 16}`, reason: 'queue-full' })),
      );
      assert.equal(b.broker!.stats.messagesDropped, 35);
      // One PUBACK opens the window for the oldest queued message.
      sub.send({ cmd: 'puback', messageId: sub.all('publish')[0]!.messageId!, reasonCode: 0 });
      await ping(sub);
      assert.equal(sub.all('publish').at(-1)!.payload.toString(), 'm6');
      await pub.disconnect();
      await sub.disconnect();
    } finally {
      await b.close();
    }
  });

  test('QoS 0 to a client that stops reading is dropped once maxBufferedBytes wait to be written; QoS 1 still goes through', async () => {
    const limit = 256 * 1024;
    const b = await startBroker('embedded', { embedded: { maxBufferedBytes: limit } });
    const drops = recordDrops(b);
    try {
      const { client: sub } = await RawClient.connect(b.port, { clientId: 'stalled' });
      sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'slow/q0', qos: 1 }] });
      await sub.expect('suback');
      sub.pauseReading();
      const { client: pub } = await RawClient.connect(b.port, { clientId: 'slow-q0-pub' });
      const N = 400;
      const body = Buffer.alloc(64 * 1024, 0x61);
      for (let i = 0; i < N; i++) {
        const payload = Buffer.concat([Buffer.from(`${String(i).padStart(4, '0')}:`), body]);
        pub.send({ cmd: 'publish', topic: 'slow/q0', payload, qos: 0, retain: false, dup: false });
      }
      for (let i = 1; i <= 3; i++) {
        pub.send({ cmd: 'publish', topic: 'slow/q0', payload: Buffer.from(`qos1-${i}`), qos: 1, retain: false, dup: false, messageId: i });
      }
      // The publisher's PINGRESP comes after the broker has handled every PUBLISH before it.
      await ping(pub);
      const dropped = drops.filter((d) => d.reason === 'write-buffer-full');
      assert.ok(dropped.length > 0, 'QoS 0 messages were dropped while the client did not read');
      assert.equal(dropped.length, drops.length, 'every drop was for the full write buffer');
      assert.equal(b.broker!.stats.messagesDropped, dropped.length);

      sub.resumeReading();
      const expected = Array.from({ length: N }, (_, i) => String(i).padStart(4, '0')).filter(
        (id) => !dropped.some((d) => d.payload.startsWith(`${id}:`)),
      );
      await waitUntil(() => sub.all('publish').length >= expected.length + 3, 20_000, 'the messages that were not dropped');
      await ping(sub);
      const got = sub.all('publish');
      assert.deepEqual(
        got.filter((p) => p.qos === 0).map((p) => p.payload.toString().slice(0, 4)),
        expected,
        'exactly the QoS 0 messages not dropped, in order',
      );
      assert.deepEqual(
        got.filter((p) => p.qos === 1).map((p) => p.payload.toString()),
        ['qos1-1', 'qos1-2', 'qos1-3'],
      );
      await pub.disconnect();
      await sub.disconnect();
    } finally {
      await b.close();
    }
  });
});
