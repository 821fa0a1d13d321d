import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { decodeLevel, encodeLevel, filterSubjects, subjectTopic, topicSubject } from '../../src/cluster/index.js';
import { topicMatchesFilter } from '../../src/broker/index.js';
import { clusterUnavailable, startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { collect, connectClient, end, waitUntil, type Received } from '../helpers/clients.js';

/** NATS subject matching (tokens; `*` one, `>` one or more), to check the mapping against MQTT's rules. */
function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

describe('Subject mapping of topics and filters', () => {
  const awkward = ['', '.', ' ', '*', '>', 'a.b', 'x y', '=', '=20', 'ünï', '$SYS', 'tab\there', 'a*', '~'];

  test('every level becomes one valid NATS token and decodes back', () => {
    for (const level of awkward) {
      const token = encodeLevel(level);
      assert.match(token, /^[-_=A-Za-z0-9]+$/, `token for ${JSON.stringify(level)}`);
      assert.equal(decodeLevel(token), level);
    }
    assert.notEqual(encodeLevel(''), encodeLevel('='));
  });

  test('topics round-trip through subjects', () => {
    for (const topic of ['a/b', '/', 'a//b', '$SYS/broker/x', 'sensors/de.vice/temp', '+plus', ...awkward.map((l) => `a/${l}/b`)]) {
      assert.equal(subjectTopic('mqttlab.q0', topicSubject('mqttlab.q0', topic)), topic);
    }
  });

  test('filters match through NATS wildcards exactly the topics MQTT matches, $ topics included [MQTT-4.7.2-1]', () => {
    const topics = ['a', 'a/b', 'a/b/c', 'a//c', '/a', 'b/a', '$SYS/a', '$SYS', 'a/./c', 'a/*/c', 'a/>/c', '', 'x y/z'];
    const filters = [
      '#',
      '+',
      'a/#',
      'a/+',
      'a/+/c',
      '+/+',
      '/#',
      '$SYS/#',
      '+/a',
      'a/b',
      '$SYS',
      'a/./c',
      'a/*/c',
      'a/>/c',
      '+/#',
      'x y/+',
    ];
    for (const filter of filters) {
      const subjects = filterSubjects('p', filter);
      for (const topic of topics) {
        const subject = topicSubject('p', topic);
        const matches = subjects.filter((s) => subjectMatches(s, subject)).length;
        assert.equal(matches > 0, topicMatchesFilter(filter, topic), `${filter} vs ${JSON.stringify(topic)}`);
        assert.ok(matches <= 1, `${filter} matches ${topic} through one subject only`);
      }
    }
  });
});

describe('Routing across nodes', { skip: clusterUnavailable ?? false }, () => {
  let cluster: TestCluster;
  const clients: MqttClient[] = [];
  const on = async (node: number, options: Parameters<typeof connectClient>[1] = {}) => {
    const client = await connectClient(cluster.nodes[node]!.url!, options);
    clients.push(client);
    return client;
  };
  before(async () => (cluster = await startTestCluster()));
  after(async () => {
    await Promise.all(clients.map((c) => end(c, true)));
    await cluster?.close();
  });

  test('a PUBLISH on one node reaches subscribers on every other node, at each QoS', async () => {
    const subscribers = [await on(0), await on(2)];
    const received = subscribers.map(collect);
    for (const s of subscribers) await s.subscribeAsync('route/+', { qos: 2 });
    const publisher = await on(1);
    for (const qos of [0, 1, 2] as const) await publisher.publishAsync('route/x', `q${qos}`, { qos });
    for (const r of received) {
      await waitUntil(() => r.length === 3, 5000, 'three messages');
      assert.deepEqual(r.map((m) => [m.payload, m.packet.qos]).sort(), [
        ['q0', 0],
        ['q1', 1],
        ['q2', 2],
      ]);
    }
  });

  test('overlapping subscriptions on a remote node: once, highest QoS, all identifiers [MQTT-3.3.4-2], [MQTT-3.3.4-3]', async () => {
    const subscriber = await on(0);
    const received = collect(subscriber);
    await subscriber.subscribeAsync('overlap/+', { qos: 0, properties: { subscriptionIdentifier: 1 } });
    await subscriber.subscribeAsync('overlap/#', { qos: 1, properties: { subscriptionIdentifier: 2 } });
    await subscriber.subscribeAsync('overlap/a', { qos: 2, properties: { subscriptionIdentifier: 3 } });
    const publisher = await on(1);
    await publisher.publishAsync('overlap/a', 'q2', { qos: 2 });
    await publisher.publishAsync('overlap/a', 'q0', { qos: 0 });
    await waitUntil(() => received.length >= 2, 5000, 'two messages');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(received.length, 2, 'each message once');
    const q2 = received.find((m) => m.payload === 'q2')!;
    assert.equal(q2.packet.qos, 2);
    assert.deepEqual([q2.packet.properties?.subscriptionIdentifier].flat().sort(), [1, 2, 3]);
    const q0 = received.find((m) => m.payload === 'q0')!;
    assert.equal(q0.packet.qos, 0);
    assert.deepEqual([q0.packet.properties?.subscriptionIdentifier].flat().sort(), [1, 2, 3]);
  });

  test('properties cross nodes unchanged; Message Expiry is what remains [MQTT-3.3.2-6]', async () => {
    const subscriber = await on(2);
    const received = collect(subscriber);
    await subscriber.subscribeAsync('props/t', { qos: 1 });
    const publisher = await on(0);
    await new Promise((r) => setTimeout(r, 50));
    await publisher.publishAsync('props/t', 'p', {
      qos: 1,
      properties: {
        payloadFormatIndicator: true,
        contentType: 'text/plain',
        responseTopic: 'props/reply',
        correlationData: Buffer.from('c0ffee', 'hex'),
        userProperties: { a: '1', ü: 'ß' },
        messageExpiryInterval: 60,
      },
    });
    await waitUntil(() => received.length === 1, 5000, 'the message');
    const p = received[0]!.packet.properties!;
    assert.equal(p.payloadFormatIndicator, true);
    assert.equal(p.contentType, 'text/plain');
    assert.equal(p.responseTopic, 'props/reply');
    assert.deepEqual(p.correlationData, Buffer.from('c0ffee', 'hex'));
    assert.deepEqual({ ...p.userProperties }, { a: '1', ü: 'ß' });
    assert.ok(p.messageExpiryInterval! <= 60 && p.messageExpiryInterval! >= 58, `expiry ${p.messageExpiryInterval}`);
  });

  test('No Local holds when the message comes back through the cluster [MQTT-3.8.3-3]', async () => {
    const client = await on(1);
    const received = collect(client);
    await client.subscribeAsync('nolocal/t', { qos: 1, nl: true });
    const other = await on(0);
    await client.publishAsync('nolocal/t', 'own', { qos: 1 });
    await client.publishAsync('nolocal/t', 'own0', { qos: 0 });
    await other.publishAsync('nolocal/t', 'theirs', { qos: 1 });
    await waitUntil(() => received.length >= 1, 5000, "the other client's message");
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(
      received.map((m) => m.payload),
      ['theirs'],
    );
  });

  test('topics with levels that are not NATS tokens route exactly ($, dots, spaces, *, >, empty)', async () => {
    const subscriber = await on(0);
    const received: Received[] = collect(subscriber);
    await subscriber.subscribeAsync('odd/+/end', { qos: 1 });
    await subscriber.subscribeAsync('$odd/#', { qos: 1 });
    const publisher = await on(1);
    const topics = ['odd/a.b/end', 'odd/ /end', 'odd/*/end', 'odd/>/end', 'odd//end', '$odd/x', 'odd/a/b/end'];
    for (const topic of topics) await publisher.publishAsync(topic, topic, { qos: 1 });
    await waitUntil(() => received.length >= 6, 5000, 'six messages');
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(received.map((m) => m.topic).sort(), topics.filter((t) => t !== 'odd/a/b/end').sort());
  });
});
