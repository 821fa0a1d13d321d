import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ISubackPacket } from 'mqtt-packet';
import { ReasonCode } from '../../src/protocol/index.js';
import { spawnBrokerProcess } from '../helpers/broker-process.js';
import { startEmbedded } from '../helpers/brokers.js';
import { RawClient } from '../helpers/raw-client.js';

/*
 * What one client id (or many) can make the broker hold: sessions and subscriptions are counted and bounded,
 * like queued bytes and topic levels. Mosquitto 2.0 bounds neither (it has max_connections and
 * persistent_client_expiration, no count of sessions or of a client's subscriptions), so these run on ours only.
 */

/** Sends one SUBSCRIBE and returns the SUBACK's codes. */
async function subscribe(client: RawClient, messageId: number, topics: string[]): Promise<number[]> {
  client.send({ cmd: 'subscribe', messageId, subscriptions: topics.map((topic) => ({ topic, qos: 1 })) });
  const suback = (await client.waitFor((p) => p.cmd === 'suback' && p.messageId === messageId)) as ISubackPacket;
  return suback.granted as number[];
}

describe('Subscriptions per client are bounded [embedded]', () => {
  test('past maxSubscriptionsPerClient a new filter gets SUBACK 0x97 (3.1.1: 0x80); a repeat or one after UNSUBSCRIBE not', async () => {
    const b = await startEmbedded({ embedded: { maxSubscriptionsPerClient: 3 } });
    try {
      const { client } = await RawClient.connect(b.port, { clientId: 'many-filters' });
      assert.deepEqual(await subscribe(client, 1, ['a', 'b', 'c']), [1, 1, 1]);
      assert.deepEqual(await subscribe(client, 2, ['c', 'd']), [1, ReasonCode.QuotaExceeded], 'a repeat replaces, a fourth is refused');
      client.send({ cmd: 'unsubscribe', messageId: 3, unsubscriptions: ['a'] });
      await client.expect('unsuback');
      assert.deepEqual(await subscribe(client, 4, ['d']), [1], 'room again after UNSUBSCRIBE');
      assert.deepEqual([...b.broker!.sessions.get('many-filters')!.subscriptions.keys()].sort(), ['b', 'c', 'd']);
      const { client: pub } = await RawClient.connect(b.port, { clientId: 'to-d' });
      pub.send({ cmd: 'publish', topic: 'd', payload: Buffer.from('still works'), qos: 0, retain: false, dup: false });
      assert.equal((await client.expect('publish')).payload.toString(), 'still works');

      const { client: old } = await RawClient.connect(b.port, { clientId: 'many-filters-311', protocolVersion: 4 });
      assert.deepEqual(await subscribe(old, 1, ['a', 'b', 'c', 'd']), [1, 1, 1, 0x80]);
      await Promise.all([client.disconnect(), pub.disconnect(), old.disconnect()]);
    } finally {
      await b.close();
    }
  });
});

describe('Sessions are bounded [embedded]', () => {
  test('past maxSessions a CONNECT opening one more gets CONNACK 0x97 (3.1.1: 3); resuming or taking over one does not', async () => {
    const b = await startEmbedded({ embedded: { maxSessions: 2 } });
    try {
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
    } finally {
      await b.close();
    }
  });
});

describe('mqttlab broker --max-sessions and --max-subscriptions (child process)', () => {
  test('the flags set both bounds', async () => {
    const broker = await spawnBrokerProcess(['--max-sessions', '1', '--max-subscriptions', '1']);
    try {
      const { client } = await RawClient.connect(broker.port, { clientId: 'only' });
      assert.deepEqual(await subscribe(client, 1, ['x', 'y']), [1, ReasonCode.QuotaExceeded]);
      const { connack } = await RawClient.connect(broker.port, { clientId: 'second' });
      assert.equal(connack.reasonCode, ReasonCode.QuotaExceeded);
      await client.disconnect();
    } finally {
      await broker.stop();
    }
  });
});
