import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { filterSubjects } from '../../src/cluster/index.js';
import { clusterUnavailable, startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { collect, connectClient, end, waitUntil } from '../helpers/clients.js';

describe('Retained messages across nodes', { skip: clusterUnavailable ?? false }, () => {
  let cluster: TestCluster;
  const url = (node: number) => cluster.nodes[node]!.url!;
  before(async () => (cluster = await startTestCluster()));
  after(() => cluster?.close());

  test('a retained message acknowledged on one node is sent on SUBSCRIBE on every other node [MQTT-3.3.1-5]', async () => {
    const publisher = await connectClient(url(0));
    await publisher.publishAsync('ret/a', 'A', { qos: 1, retain: true });
    for (const node of [1, 2]) {
      const subscriber = await connectClient(url(node));
      const got = collect(subscriber);
      await subscriber.subscribeAsync('ret/+', { qos: 1 });
      await waitUntil(() => got.length === 1, 5000, `the retained message on node ${node + 1}`);
      assert.equal(got[0]!.payload, 'A');
      assert.equal(got[0]!.packet.retain, true);
      await end(subscriber);
    }
    await end(publisher);
  });

  test('an empty retained message clears the topic cluster-wide [MQTT-3.3.1-6]', async () => {
    const publisher = await connectClient(url(1));
    await publisher.publishAsync('ret/b', 'B', { qos: 1, retain: true });
    await publisher.publishAsync('ret/b', '', { qos: 1, retain: true });
    const subscriber = await connectClient(url(2));
    const got = collect(subscriber);
    await subscriber.subscribeAsync('ret/b', { qos: 1 });
    await publisher.publishAsync('ret/marker', 'm', { qos: 1 });
    await subscriber.subscribeAsync('ret/marker', { qos: 1 });
    await publisher.publishAsync('ret/marker', 'after', { qos: 1 });
    await waitUntil(() => got.some((m) => m.payload === 'after'), 5000, 'the marker');
    assert.equal(got.filter((m) => m.topic === 'ret/b').length, 0);
    await end(publisher);
    await end(subscriber);
  });

  test('retained messages survive every node being stopped and the cluster started again', async () => {
    const first = await startTestCluster({ keep: true });
    const publisher = await connectClient(first.nodes[0]!.url!);
    await publisher.publishAsync('ret/durable', 'kept', { qos: 1, retain: true, properties: { contentType: 'text/plain' } });
    await end(publisher);
    await first.close();
    const again = await startTestCluster({ prefix: first.prefix });
    try {
      const subscriber = await connectClient(again.nodes[2]!.url!);
      const got = collect(subscriber);
      await subscriber.subscribeAsync('ret/#', { qos: 1 });
      await waitUntil(() => got.length === 1, 5000, 'the retained message after the restart');
      assert.equal(got[0]!.payload, 'kept');
      assert.equal(got[0]!.packet.properties?.contentType, 'text/plain');
      await end(subscriber);
    } finally {
      await again.close();
    }
  });
});

describe('Shared subscriptions across nodes', { skip: clusterUnavailable ?? false }, () => {
  let cluster: TestCluster;
  const url = (node: number) => cluster.nodes[node]!.url!;
  before(async () => (cluster = await startTestCluster()));
  after(() => cluster?.close());

  test('each message goes to exactly one member of the group, members on three nodes [MQTT-4.8.2-2]', async () => {
    const members = await Promise.all([0, 1, 2].map((n) => connectClient(url(n), { clientId: `member-${n}` })));
    const got = members.map(collect);
    for (const m of members) await m.subscribeAsync('$share/workers/jobs/+', { qos: 1 });
    const plain = await connectClient(url(1));
    const all = collect(plain);
    await plain.subscribeAsync('jobs/+', { qos: 1 });
    const publisher = await connectClient(url(0));
    const count = 60;
    for (let i = 0; i < count; i++) await publisher.publishAsync(`jobs/${i % 3}`, `job-${i}`, { qos: (i % 2) as 0 | 1 });
    await waitUntil(() => got.reduce((n, g) => n + g.length, 0) >= count && all.length === count, 8000, 'every job');
    await new Promise((r) => setTimeout(r, 300));
    const delivered = got
      .flat()
      .map((m) => m.payload)
      .sort();
    assert.deepEqual(delivered, Array.from({ length: count }, (_, i) => `job-${i}`).sort(), 'each job exactly once in the group');
    assert.ok(got.filter((g) => g.length > 0).length >= 2, `spread over nodes: ${got.map((g) => g.length).join('/')}`);
    await Promise.all([...members, plain, publisher].map((c) => end(c)));
  });

  test('offline members are skipped; QoS 1 messages wait for a member when none is connected', async () => {
    const stays = await connectClient(url(0), { clientId: 'stays' });
    const leaves = await connectClient(url(1), { clientId: 'leaves', clean: false, properties: { sessionExpiryInterval: 60 } });
    for (const m of [stays, leaves]) await m.subscribeAsync('$share/g2/work', { qos: 1 });
    await end(leaves);
    const got = collect(stays);
    const publisher = await connectClient(url(2));
    for (let i = 0; i < 10; i++) await publisher.publishAsync('work', `w${i}`, { qos: 1 });
    await waitUntil(() => got.length === 10, 5000, 'all ten at the connected member');
    await end(stays, true);
    await new Promise((r) => setTimeout(r, 200));
    // Nobody connected: the group's QoS 1 messages wait in JetStream for the next member.
    await publisher.publishAsync('work', 'waiting', { qos: 1 });
    const back = await connectClient(url(2), { clientId: 'late-member' });
    const late = collect(back);
    await back.subscribeAsync('$share/g2/work', { qos: 1 });
    await waitUntil(() => late.length === 1, 5000, 'the waiting message');
    assert.equal(late[0]!.payload, 'waiting');
    await Promise.all([publisher, back].map((c) => end(c)));
  });

  test('the SUBACK of a new group comes once its JetStream consumer exists: a message published at once reaches it', async () => {
    const member = await connectClient(url(0), { clientId: 'first-member' });
    const got = collect(member);
    await member.subscribeAsync('$share/fresh/now/+', { qos: 1 });
    // The consumer starts at new messages: made after the SUBACK, it would miss what came in between.
    const { names } = cluster.nodes[0]!.node;
    const jsm = await jetstreamManager(cluster.nodes[0]!.node.nc);
    const filters: string[] = [];
    for await (const c of jsm.consumers.list(names.stream)) if (c.config.filter_subject) filters.push(c.config.filter_subject);
    assert.deepEqual(
      filters.filter((f) => filterSubjects(names.qos12, 'now/+').includes(f)),
      filterSubjects(names.qos12, 'now/+'),
    );
    const publisher = await connectClient(url(2));
    await publisher.publishAsync('now/a', 'right after the SUBACK', { qos: 1 });
    await waitUntil(() => got.length === 1, 5000, 'the message published right after the SUBACK');
    await Promise.all([member, publisher].map((c) => end(c)));
  });

  test('a member resuming on another node and subscribing again gets the queued messages at once, not after the ack wait', async () => {
    const options = { clientId: 'resubscriber', clean: false, properties: { sessionExpiryInterval: 60 } };
    const first = await connectClient(url(0), options);
    await first.subscribeAsync('$share/again/queue/+', { qos: 1 });
    await end(first);
    const publisher = await connectClient(url(2));
    for (let i = 0; i < 10; i++) await publisher.publishAsync(`queue/${i}`, `q${i}`, { qos: 1 });
    // As an ingest worker does: resume the session elsewhere, then SUBSCRIBE to the same filter again
    // [MQTT-3.8.4-3]. Stopping the group's pulls for that repeat left JetStream's messages on their way to
    // the stopped pull waiting 30 s (its ack wait) before they went out again.
    const back = await connectClient(url(1), options);
    const got = collect(back);
    await back.subscribeAsync('$share/again/queue/+', { qos: 1 });
    await waitUntil(() => got.length >= 10, 5000, 'the ten queued messages');
    assert.deepEqual(got.map((m) => m.payload).sort(), Array.from({ length: 10 }, (_, i) => `q${i}`).sort());
    await Promise.all([back, publisher].map((c) => end(c)));
  });
});
