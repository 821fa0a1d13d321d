import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ISubackPacket } from 'mqtt-packet';
import { ReasonCode } from '../../src/protocol/index.js';
import { spawnBrokerProcess } from '../helpers/broker-process.js';
import { withEmbedded } from '../helpers/brokers.js';
import { RawClient } from '../helpers/raw-client.js';

/*
 * What one client id (or many) can make the broker hold: sessions and subscriptions are counted and bounded,
 * like queued bytes and topic levels. Mosquitto 2.0 bounds neither (it has max_connections and
 * persistent_client_expiration, no count of sessions or of a client's subscriptions), so these run on ours only.
 */

/** Sends one UNSUBSCRIBE and waits for its UNSUBACK. */
async function unsubscribe(client: RawClient, messageId: number, topic: string): Promise<void> {
  client.send({ cmd: 'unsubscribe', messageId, unsubscriptions: [topic] });
  await client.waitFor((p) => p.cmd === 'unsuback' && p.messageId === messageId);
}

/** Sends one SUBSCRIBE and returns the SUBACK's codes. */
async function subscribe(client: RawClient, messageId: number, topics: string[]): Promise<number[]> {
  client.send({ cmd: 'subscribe', messageId, subscriptions: topics.map((topic) => ({ topic, qos: 1 })) });
  const suback = (await client.waitFor((p) => p.cmd === 'suback' && p.messageId === messageId)) as ISubackPacket;
  return suback.granted as number[];
}

describe('Subscriptions per client are bounded [embedded]', () => {
  test('past maxSubscriptionsPerClient a new filter gets SUBACK 0x97 (3.1.1: 0x80); a repeat or one after UNSUBSCRIBE not', async () => {
    await withEmbedded({ embedded: { maxSubscriptionsPerClient: 3 } }, async (b) => {
      const { client } = await RawClient.connect(b.port, { clientId: 'many-filters' });
      assert.deepEqual(await subscribe(client, 1, ['a', 'b', 'c']), [1, 1, 1]);
      assert.deepEqual(await subscribe(client, 2, ['c', 'd']), [1, ReasonCode.QuotaExceeded], 'a repeat replaces, a fourth is refused');
      await unsubscribe(client, 3, 'a');
      assert.deepEqual(await subscribe(client, 4, ['d']), [1], 'room again after UNSUBSCRIBE');
      assert.deepEqual([...b.broker!.sessions.get('many-filters')!.subscriptions.keys()].sort(), ['b', 'c', 'd']);
      const { client: pub } = await RawClient.connect(b.port, { clientId: 'to-d' });
      pub.send({ cmd: 'publish', topic: 'd', payload: Buffer.from('still works'), qos: 0, retain: false, dup: false });
      assert.equal((await client.expect('publish')).payload.toString(), 'still works');

      const { client: old } = await RawClient.connect(b.port, { clientId: 'many-filters-311', protocolVersion: 4 });
      assert.deepEqual(await subscribe(old, 1, ['a', 'b', 'c', 'd']), [1, 1, 1, 0x80]);
      await Promise.all([client.disconnect(), pub.disconnect(), old.disconnect()]);
    });
  });
});

describe('The topic levels all filters take are bounded [embedded]', () => {
  // What filters cost grows with their trie nodes: a 200-level filter of its own holds about 46 KB
  // (docs/reliability.md), so a count of subscriptions alone does not bound their memory.
  test('past maxFilterNodes a new subscription gets SUBACK 0x97; a repeat is allowed; UNSUBSCRIBE gives the nodes back', async () => {
    await withEmbedded({ embedded: { maxFilterNodes: 10 } }, async (b) => {
      const { client } = await RawClient.connect(b.port, { clientId: 'deep-filters' });
      assert.deepEqual(await subscribe(client, 1, ['a/b/c', 'a/b/d', 'x/y/z/w/v/u']), [1, 1, 1]);
      assert.equal(b.broker!.router.nodeCount, 10, 'a/b shared by two filters counts once');
      assert.deepEqual(await subscribe(client, 2, ['a/b/c', 'q']), [1, ReasonCode.QuotaExceeded]);
      const { client: other } = await RawClient.connect(b.port, { clientId: 'other-client' });
      assert.deepEqual(await subscribe(other, 1, ['a/b/c']), [ReasonCode.QuotaExceeded], 'the bound is the broker’s, not the client’s');
      await unsubscribe(client, 3, 'x/y/z/w/v/u');
      assert.equal(b.broker!.router.nodeCount, 4);
      assert.deepEqual(await subscribe(other, 2, ['a/b/c', 'q']), [1, 1]);
      await Promise.all([client.disconnect(), other.disconnect()]);
    });
  });
});

describe('Sessions are bounded [embedded]', () => {
  test('past maxSessions a CONNECT opening one more gets CONNACK 0x97 (3.1.1: 3); resuming or taking over one does not', async () => {
    await withEmbedded({ embedded: { maxSessions: 2 } }, async (b) => {
      // One offline session waiting for its expiry and one connected: the two the broker may hold.
      const { client: first } = await RawClient.connect(b.port, {
        clientId: 'offline',
        clean: false,
        properties: { sessionExpiryInterval: 600 },
      });
      await first.disconnect();
      const { client: online } = await RawClient.connect(b.port, { clientId: 'online' });

      const { connack: third } = await RawClient.connect(b.port, { clientId: 'third' });
      assert.equal(third.reasonCode, ReasonCode.QuotaExceeded);
      const { connack: third311 } = await RawClient.connect(b.port, { clientId: 'third-311', protocolVersion: 4 });
      assert.equal(third311.returnCode, 3, '3.1.1: Server unavailable');

      const { client: resumed, connack } = await RawClient.connect(b.port, {
        clientId: 'offline',
        clean: false,
        properties: { sessionExpiryInterval: 600 },
      });
      assert.deepEqual([connack.reasonCode, connack.sessionPresent], [ReasonCode.Success, true], 'an existing session resumes');
      const { client: takeover, connack: taken } = await RawClient.connect(b.port, { clientId: 'online' });
      assert.equal(taken.reasonCode, ReasonCode.Success, 'a takeover adds no session');
      assert.equal((await online.expect('disconnect')).reasonCode, ReasonCode.SessionTakenOver);

      await takeover.disconnect(); // Session Expiry 0: its session ends with it
      const { connack: now } = await RawClient.connect(b.port, { clientId: 'third' });
      assert.equal(now.reasonCode, ReasonCode.Success, 'room again once a session ended');
      assert.equal(b.broker!.sessions.size, 2);
      await resumed.disconnect();
    });
  });
});

describe('mqttlab broker --max-sessions, --max-subscriptions and --max-filter-nodes (child process)', () => {
  test('the flags set the three bounds', async () => {
    const broker = await spawnBrokerProcess(['--max-sessions', '1', '--max-subscriptions', '2', '--max-filter-nodes', '3']);
    try {
      const { client } = await RawClient.connect(broker.port, { clientId: 'only' });
      // A filter is checked before it is added, so one may pass the node bound by its own levels.
      assert.deepEqual(await subscribe(client, 1, ['a/b/c/d']), [1]);
      assert.deepEqual(await subscribe(client, 2, ['e']), [ReasonCode.QuotaExceeded], '--max-filter-nodes 3: 4 nodes held');
      await unsubscribe(client, 3, 'a/b/c/d');
      assert.deepEqual(await subscribe(client, 4, ['e', 'f', 'g']), [1, 1, ReasonCode.QuotaExceeded], '--max-subscriptions 2');
      const { connack } = await RawClient.connect(broker.port, { clientId: 'second' });
      assert.equal(connack.reasonCode, ReasonCode.QuotaExceeded);
      await client.disconnect();
    } finally {
      await broker.stop();
    }
  });
});
