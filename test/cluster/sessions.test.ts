import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { IPublishPacket } from 'mqtt-packet';
import { serialize } from 'node:v8';
import { jetstream } from '@nats-io/jetstream';
import { ReasonCode, releaseSession } from '../../src/broker/index.js';
import { SessionHandover } from '../../src/cluster/handover.js';
import { decodeStoredSession, type StoredSession } from '../../src/cluster/store.js';
import { idToken } from '../../src/cluster/subjects.js';
import { clusterUnavailable, startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { collect, connectClient, end, sleep, waitUntil } from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';

describe('Sessions across nodes', { skip: clusterUnavailable ?? false }, () => {
  let cluster: TestCluster;
  const port = (node: number) => cluster.nodes[node]!.port!;
  const url = (node: number) => cluster.nodes[node]!.url!;
  before(async () => (cluster = await startTestCluster()));
  after(() => cluster?.close());

  test('a persistent session resumes on another node: Session Present, subscriptions, messages queued meanwhile', async () => {
    const first = await connectClient(url(0), { clientId: 'resume-1', clean: false, properties: { sessionExpiryInterval: 60 } });
    await first.subscribeAsync('resume/#', { qos: 1 });
    await end(first);
    const publisher = await connectClient(url(1));
    for (let i = 1; i <= 3; i++) await publisher.publishAsync('resume/t', `m${i}`, { qos: 1 });
    const { client, connack } = await RawClient.connect(port(2), {
      clientId: 'resume-1',
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    });
    assert.equal(connack.sessionPresent, true);
    const payloads: string[] = [];
    for (let i = 0; i < 3; i++) {
      const p = (await client.expect('publish', 5000)) as IPublishPacket;
      payloads.push(p.payload.toString());
      client.send({ cmd: 'puback', messageId: p.messageId! });
    }
    assert.deepEqual(payloads, ['m1', 'm2', 'm3']);
    // The subscription came along: a new message reaches the session on its new node.
    await publisher.publishAsync('resume/t', 'm4', { qos: 1 });
    assert.equal(((await client.expect('publish', 5000)) as IPublishPacket).payload.toString(), 'm4');
    await client.disconnect();
    await end(publisher);
  });

  test('an unacknowledged QoS 1 message is sent again with DUP=1 on the new node [MQTT-4.4.0-1]', async () => {
    const { client: subscriber } = await RawClient.connect(port(0), {
      clientId: 'inflight-1',
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    });
    subscriber.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'inflight/t', qos: 1 }] });
    await subscriber.expect('suback');
    const publisher = await connectClient(url(1));
    await publisher.publishAsync('inflight/t', 'unacked', { qos: 1 });
    const sent = (await subscriber.expect('publish', 5000)) as IPublishPacket;
    await sleep(100);
    subscriber.destroy();
    const { client, connack } = await RawClient.connect(port(2), {
      clientId: 'inflight-1',
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    });
    assert.equal(connack.sessionPresent, true);
    const again = (await client.expect('publish', 5000)) as IPublishPacket;
    assert.equal(again.payload.toString(), 'unacked');
    assert.equal(again.messageId, sent.messageId);
    assert.equal(again.dup, true);
    client.send({ cmd: 'puback', messageId: again.messageId! });
    await client.disconnect();
    await end(publisher);
  });

  test('a connection with the same client id on another node takes over: DISCONNECT 0x8E on the old one [MQTT-3.1.4-3]', async () => {
    const { client: old } = await RawClient.connect(port(0), { clientId: 'takeover-1', clean: true });
    const { client: fresh, connack } = await RawClient.connect(port(1), { clientId: 'takeover-1', clean: true });
    assert.equal(connack.reasonCode, ReasonCode.Success);
    const disconnect = await old.expect('disconnect', 5000);
    assert.equal(disconnect.reasonCode, ReasonCode.SessionTakenOver);
    assert.equal(await old.closedWithin(2000), true);
    // The new connection works and stays.
    fresh.send({ cmd: 'pingreq' });
    await fresh.expect('pingresp');
    await fresh.disconnect();
  });

  test('Clean Start on another node discards the stored session (Session Present 0)', async () => {
    const first = await connectClient(url(0), { clientId: 'clean-1', clean: false, properties: { sessionExpiryInterval: 60 } });
    await first.subscribeAsync('clean/#', { qos: 1 });
    await end(first);
    const { client, connack } = await RawClient.connect(port(1), {
      clientId: 'clean-1',
      clean: true,
      properties: { sessionExpiryInterval: 60 },
    });
    assert.equal(connack.sessionPresent, false);
    const publisher = await connectClient(url(2));
    await publisher.publishAsync('clean/t', 'not for the new session', { qos: 1 });
    assert.equal(await client.nothingWithin('publish', 300), true);
    await client.disconnect();
    await end(publisher);
  });

  test('a late release does not overwrite the claim of a node that stopped waiting for it (compare-and-set)', async () => {
    const { client } = await RawClient.connect(port(0), {
      clientId: 'late-release',
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    });
    client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'late/t', qos: 1 }] });
    await client.expect('suback');
    // A node that took node1 for dead claimed the session meanwhile: the key has another owner.
    const { node } = cluster.nodes[0]!;
    const key = idToken('late-release');
    const claim: StoredSession = { clientId: 'late-release', owner: 'node-elsewhere', streamSeq: 0, connected: true };
    await node.resources.sessions.put(key, serialize(claim));
    // node1's answer comes now: it lets its connection go (0x8E) and does not write its state over the claim.
    const answer = await node.nc.request(`${node.names.node}.${idToken(node.name)}.release`, 'late-release', { timeout: 5000 });
    assert.equal(answer.string(), 'released');
    assert.equal((await client.expect('disconnect', 5000)).reasonCode, ReasonCode.SessionTakenOver);
    const entry = await node.resources.sessions.get(key);
    assert.equal(decodeStoredSession(entry!.value)?.owner, 'node-elsewhere');
    await node.resources.sessions.delete(key);
  });

  test('a session is installed on a node only once its reading of the stream has reached the session’s stored sequence', async () => {
    const options = { clientId: 'lagging', clean: false, properties: { sessionExpiryInterval: 60 } };
    const first = await connectClient(url(0), options);
    const got = collect(first);
    await first.subscribeAsync('lag/t', { qos: 1 });
    const publisher = await connectClient(url(1));
    await publisher.publishAsync('lag/t', 'seen on node1', { qos: 1 });
    await waitUntil(() => got.length === 1, 5000, 'the message on node1');
    await end(first);
    await end(publisher);
    const stored = decodeStoredSession((await cluster.nodes[0]!.node.resources.sessions.get(idToken('lagging')))!.value)!;
    assert.ok(stored.snapshot && stored.streamSeq > 0, `stored at sequence ${stored.streamSeq}`);
    // node2 with a reading that lags behind the stored sequence: installed there at once, its reading would
    // route the messages up to that sequence into the session a second time.
    const { node, broker } = cluster.nodes[1]!;
    let reach: (() => void) | undefined;
    const lagging = { processed: 0, routedUpTo: () => new Promise<boolean>((resolve) => (reach = () => resolve(true))) };
    const handover = new SessionHandover(
      node.nc,
      jetstream(node.nc),
      node.names,
      'node-lagging',
      node.resources.sessions,
      node.store,
      lagging,
      () => true,
      () => broker,
    );
    const resumed = handover.resume(stored.snapshot, stored.streamSeq);
    await sleep(200);
    assert.equal(broker.sessions.has('lagging'), false, 'not installed while the reading is behind');
    lagging.processed = stored.streamSeq;
    reach!();
    await resumed;
    assert.equal(broker.sessions.has('lagging'), true);
    releaseSession(broker, 'lagging');
  });

  test('a will with Will Delay is cancelled by a reconnect to another node [MQTT-3.1.3-9]; without one it is published once', async () => {
    const watcher = await connectClient(url(2));
    const wills = collect(watcher);
    await watcher.subscribeAsync('wills/#', { qos: 1 });
    const will = (name: string) => ({
      topic: `wills/${name}`,
      payload: Buffer.from(name),
      qos: 1 as const,
      retain: false,
      properties: { willDelayInterval: 1 },
    });
    const { client: cancelled } = await RawClient.connect(port(0), {
      clientId: 'will-cancel',
      clean: false,
      will: will('cancelled'),
      properties: { sessionExpiryInterval: 30 },
    });
    const { client: sent } = await RawClient.connect(port(0), {
      clientId: 'will-sent',
      clean: false,
      will: will('sent'),
      properties: { sessionExpiryInterval: 30 },
    });
    cancelled.destroy();
    sent.destroy();
    await sleep(200);
    const { client: back } = await RawClient.connect(port(1), {
      clientId: 'will-cancel',
      clean: false,
      properties: { sessionExpiryInterval: 30 },
    });
    await waitUntil(() => wills.length > 0, 5000, 'the will that was not cancelled');
    await sleep(1500);
    assert.deepEqual(
      wills.map((w) => w.payload),
      ['sent'],
    );
    await back.disconnect();
    await end(watcher);
  });
});
