import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import mqttPacket, { type QoS } from 'mqtt-packet';
import { Framer, frameTopicStrings, peekConnectVersion, type FramingError } from '../../src/protocol/index.js';
import { Fifo } from '../../src/broker/fifo.js';
import type { Message } from '../../src/broker/message.js';
import { RetainedStore } from '../../src/broker/retained.js';
import { Router } from '../../src/broker/router.js';
import { SharedGroup } from '../../src/broker/shared-subscriptions.js';
import type { Subscription } from '../../src/broker/subscription.js';
import { isValidTopicFilter, isValidTopicName, parseTopicFilter, topicMatchesFilter } from '../../src/protocol/index.js';

// Unit tests of the socket-free parts of the broker core: topic rules, the subscription trie, the
// retained store and the framer. Protocol behaviour on the wire is tested against both brokers elsewhere.

function sub(clientId: string, topicFilter: string, qos: QoS = 0): Subscription {
  const parsed = parseTopicFilter(topicFilter);
  assert.ok(parsed, `test setup: ${topicFilter} is a valid filter`);
  return {
    clientId,
    topicFilter,
    filter: parsed.filter,
    group: parsed.group,
    qos,
    noLocal: false,
    retainAsPublished: false,
    retainHandling: 0,
  };
}

function msg(topic: string, payload: string, expiresAt?: number): Message {
  return { topic, payload: Buffer.from(payload), qos: 0, retain: true, properties: {}, expiresAt };
}

describe('topics', () => {
  test('topic names: non-empty, no wildcards, no U+0000 [MQTT-3.3.2-2], [MQTT-4.7.3-1], [MQTT-4.7.3-2]', () => {
    for (const ok of ['a', 'a/b', '/', 'a//b', '/a', 'a/', '$SYS/x', 'sport/tennis player1', 'ü/€'])
      assert.equal(isValidTopicName(ok), true, ok);
    for (const bad of ['', 'a/+', 'a/#', '#', '+', 'a+b', 'a\u0000b']) assert.equal(isValidTopicName(bad), false, JSON.stringify(bad));
  });

  test("topic filters: '#' only as the whole last level, '+' only as a whole level [MQTT-4.7.1-1], [MQTT-4.7.1-2]", () => {
    for (const ok of ['#', '+', 'a/#', 'a/+/b', '+/+', '/+', '+/', 'sport/tennis/#', '$SYS/#', 'a//b'])
      assert.equal(isValidTopicFilter(ok), true, ok);
    for (const bad of ['', 'a#', 'a/#/b', '#/a', 'a/b#', 'a+', 'a/+b', '+a/b', 'a\u0000'])
      assert.equal(isValidTopicFilter(bad), false, JSON.stringify(bad));
  });

  test('$share/<ShareName>/<filter> is split into group and filter; bad share names are refused [MQTT-4.8.2-1], [MQTT-4.8.2-2]', () => {
    assert.deepEqual(parseTopicFilter('$share/g/a/#'), { raw: '$share/g/a/#', filter: 'a/#', group: 'g' });
    assert.deepEqual(parseTopicFilter('$share/workers/+'), { raw: '$share/workers/+', filter: '+', group: 'workers' });
    assert.deepEqual(parseTopicFilter('a/b'), { raw: 'a/b', filter: 'a/b' });
    for (const bad of ['$share/g', '$share//a', '$share/g+/a', '$share/g#/a', '$share/g/', '$share/g/a#']) {
      assert.equal(parseTopicFilter(bad), undefined, bad);
    }
  });

  test("matching: '+' is one level, '#' is any number including the parent, '$' topics need an explicit first level [MQTT-4.7.2-1]", () => {
    const cases: Array<[string, string, boolean]> = [
      ['a/b', 'a/b', true],
      ['a/+', 'a/b', true],
      ['a/+', 'a/b/c', false],
      ['a/+', 'a/', true],
      ['+/+', '/x', true],
      ['a/#', 'a', true],
      ['a/#', 'a/b/c', true],
      ['#', 'a/b', true],
      ['#', '$SYS/x', false],
      ['+/x', '$SYS/x', false],
      ['$SYS/#', '$SYS/broker/uptime', true],
      ['$SYS/+/uptime', '$SYS/broker/uptime', true],
      ['a/b', 'a/b/c', false],
      ['a/b/c', 'a/b', false],
      ['A/b', 'a/b', false],
    ];
    for (const [filter, topic, expected] of cases) assert.equal(topicMatchesFilter(filter, topic), expected, `${filter} vs ${topic}`);
  });
});

describe('Router', () => {
  const matchIds = (r: Router, topic: string) =>
    r
      .match(topic)
      .subscriptions.map((s) => `${s.clientId}:${s.topicFilter}`)
      .sort();

  test('matches exact, + and # filters the same way as topicMatchesFilter', () => {
    const r = new Router();
    const filters = ['a/b', 'a/+', 'a/#', '#', '+/b', '+/+/c', '$SYS/#', 'a/b/c'];
    for (const [i, f] of filters.entries()) r.add(sub(`c${i}`, f));
    for (const topic of ['a/b', 'a', 'a/b/c', 'x/b', '$SYS/uptime', 'a/', '/b', 'q/w/c']) {
      const expected = filters
        .map((f, i) => (topicMatchesFilter(f, topic) ? `c${i}:${f}` : undefined))
        .filter((x) => x !== undefined)
        .sort();
      assert.deepEqual(matchIds(r, topic), expected, topic);
    }
  });

  test('one subscription per client and filter: adding again replaces it [MQTT-3.8.4-3]', () => {
    const r = new Router();
    r.add(sub('c1', 'a/#', 0));
    r.add(sub('c1', 'a/#', 2));
    assert.equal(r.size, 1);
    assert.deepEqual(
      r.match('a/x').subscriptions.map((s) => s.qos),
      [2],
    );
    r.add(sub('c1', 'a/+', 1));
    assert.equal(r.size, 2, 'another filter of the same client is a second subscription');
    assert.equal(r.match('a/x').subscriptions.length, 2);
  });

  test('remove takes out only that client and filter, and reports whether it existed', () => {
    const r = new Router();
    r.add(sub('c1', 'a/b'));
    r.add(sub('c2', 'a/b'));
    r.add(sub('c1', 'a/b/c'));
    assert.equal(r.remove('c1', 'a/b'), true);
    assert.equal(r.remove('c1', 'a/b'), false);
    assert.equal(r.remove('c3', 'a/b'), false);
    assert.equal(r.remove('c1', 'x/y/z'), false);
    assert.deepEqual(matchIds(r, 'a/b'), ['c2:a/b']);
    assert.deepEqual(matchIds(r, 'a/b/c'), ['c1:a/b/c']);
    assert.equal(r.size, 2);
    r.remove('c2', 'a/b');
    r.remove('c1', 'a/b/c');
    assert.equal(r.size, 0);
    assert.deepEqual(r.match('a/b/c'), { subscriptions: [], groups: [], oneEach: true });
  });

  test('nodeCount: one node per filter level not shared with another filter, given back when the last filter through it goes', () => {
    const r = new Router();
    r.add(sub('c1', 'a/b/c'));
    assert.equal(r.nodeCount, 3);
    r.add(sub('c2', 'a/b/c'));
    r.add(sub('c1', 'a/b/d'));
    assert.equal(r.nodeCount, 4, 'a and b are shared; d is one more');
    r.add({ ...sub('c3', 'a/b/c'), group: 'g' });
    assert.equal(r.nodeCount, 4, 'a shared subscription on the same filter takes no node');
    r.remove('c1', 'a/b/c');
    assert.equal(r.nodeCount, 4, 'c2 and the group still use a/b/c');
    r.remove('c1', 'a/b/d');
    r.remove('c2', 'a/b/c');
    r.remove('c3', 'a/b/c', 'g');
    assert.equal(r.nodeCount, 0);
  });

  test('oneEach: no client twice and no No Local among the matches, kept with the cached match', () => {
    const r = new Router();
    r.add(sub('c1', 'a/+'));
    r.add(sub('c2', 'a/b'));
    assert.equal(r.match('a/b').oneEach, true);
    r.add(sub('c1', 'a/#'));
    assert.equal(r.match('a/b').oneEach, false, 'c1 matches through a/+ and a/#: its deliveries merge');
    assert.equal(r.match('a/b/c').oneEach, true, 'only a/# matches a/b/c');
    r.remove('c1', 'a/#');
    assert.equal(r.match('a/b').oneEach, true, 'a removal invalidates the cached match');
    r.add({ ...sub('c3', 'a/b'), noLocal: true });
    assert.equal(r.match('a/b').oneEach, false, 'No Local depends on the publisher');
  });

  test('shared subscriptions come back as one group per share name, not as plain subscriptions', () => {
    const r = new Router();
    r.add(sub('w1', '$share/g/jobs/+'));
    r.add(sub('w2', '$share/g/jobs/+'));
    r.add(sub('w3', '$share/h/jobs/#'));
    r.add(sub('plain', 'jobs/+'));
    const m = r.match('jobs/1');
    assert.deepEqual(
      m.subscriptions.map((s) => s.clientId),
      ['plain'],
    );
    assert.deepEqual(m.groups.map((g) => [g.group, g.size]).sort(), [
      ['g', 2],
      ['h', 1],
    ]);
    assert.equal(r.size, 4);
    assert.equal(r.remove('w1', 'jobs/+', 'g'), true);
    assert.equal(r.remove('w1', 'jobs/+', 'g'), false);
    assert.equal(r.match('jobs/1').groups.find((g) => g.group === 'g')!.size, 1);
  });
});

describe('SharedGroup', () => {
  test('picks members round robin, skipping offline members while any is online', () => {
    const g = new SharedGroup('g', 'jobs/+');
    for (const id of ['a', 'b', 'c']) g.upsert(sub(id, '$share/g/jobs/+'));
    const online = new Set(['a', 'b', 'c']);
    const isOnline = (id: string) => online.has(id);
    assert.deepEqual(
      [1, 2, 3, 4].map(() => g.pick(isOnline)!.clientId),
      ['a', 'b', 'c', 'a'],
    );
    online.delete('c');
    assert.deepEqual(
      [1, 2, 3, 4].map(() => g.pick(isOnline)!.clientId),
      ['b', 'a', 'b', 'a'],
    );
    online.clear();
    assert.ok(g.pick(isOnline), 'with nobody online a member is still picked (its session queues the message)');
    assert.equal(new SharedGroup('e', 'x').pick(isOnline), undefined);
  });
});

describe("Fifo (a session's queue)", () => {
  test('oldest first through pushes and shifts across its compaction, iterated in order', () => {
    const q = new Fifo<number>();
    const oracle: number[] = [];
    let next = 0;
    // Enough shifts to pass the compaction threshold several times, with the queue never empty for long.
    for (let round = 0; round < 5000; round++) {
      for (let i = 0; i < 3; i++) {
        q.push(next);
        oracle.push(next++);
      }
      for (let i = 0; i < 2; i++) assert.equal(q.shift(), oracle.shift());
      assert.equal(q.length, oracle.length);
      assert.equal(q.peek(), oracle[0]);
    }
    assert.deepEqual([...q], oracle);
    while (q.length > 0) assert.equal(q.shift(), oracle.shift());
    assert.equal(q.shift(), undefined);
    assert.equal(q.peek(), undefined);
    q.push(7);
    q.clear();
    assert.equal(q.length, 0);
    assert.deepEqual([...q], []);
  });
});

describe('RetainedStore', () => {
  test('keeps the last message per topic; an empty payload clears the topic [MQTT-3.3.1-5], [MQTT-3.3.1-6]', () => {
    const s = new RetainedStore();
    assert.equal(s.set(msg('a/b', 'one')), true);
    assert.equal(s.set(msg('a/b', 'two')), true);
    assert.equal(s.set(msg('a/c', 'c')), true);
    assert.equal(s.size, 2);
    assert.deepEqual(
      s.match('a/b', Date.now()).map((m) => m.payload.toString()),
      ['two'],
    );
    assert.equal(s.set(msg('a/b', '')), true, 'clearing an existing topic changes the store');
    assert.equal(s.set(msg('a/b', '')), false, 'clearing a topic without a retained message changes nothing');
    assert.deepEqual(s.match('a/b', Date.now()), []);
    assert.equal(s.size, 1);
  });

  test('matches wildcard filters, not $ topics with a leading wildcard [MQTT-4.7.2-1]', () => {
    const s = new RetainedStore();
    for (const t of ['a/b', 'a/c/d', 'x', '$SYS/v']) s.set(msg(t, t));
    const topics = (filter: string) =>
      s
        .match(filter, Date.now())
        .map((m) => m.topic)
        .sort();
    assert.deepEqual(topics('#'), ['a/b', 'a/c/d', 'x']);
    assert.deepEqual(topics('a/+'), ['a/b']);
    assert.deepEqual(topics('a/#'), ['a/b', 'a/c/d']);
    assert.deepEqual(topics('$SYS/#'), ['$SYS/v']);
    assert.deepEqual(topics('nothing/#'), []);
  });

  test('the topic tree answers every filter exactly as topicMatchesFilter over all topics, also after deletions', () => {
    // Seeded, so a failure repeats: topics and filters over a small alphabet, so they collide often.
    let seed = 7;
    const rand = (n: number) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n;
    const levels = ['a', 'b', '', '$x', 'dev-1'];
    const topic = () => Array.from({ length: 1 + rand(4) }, () => levels[rand(levels.length)]!).join('/');
    const filter = () => {
      const n = 1 + rand(4);
      const parts = Array.from({ length: n }, () => (rand(3) === 0 ? '+' : levels[rand(levels.length)]!));
      if (rand(3) === 0) parts[n - 1] = '#';
      return parts.join('/');
    };
    const s = new RetainedStore();
    const live = new Set<string>();
    for (let i = 0; i < 400; i++) {
      const t = topic();
      const clear = rand(4) === 0;
      s.set(msg(t, clear ? '' : t));
      if (clear) live.delete(t);
      else live.add(t);
    }
    assert.equal(s.size, live.size);
    for (let i = 0; i < 400; i++) {
      const f = filter();
      const expected = [...live].filter((t) => topicMatchesFilter(f, t)).sort();
      assert.deepEqual(
        s
          .match(f, Date.now())
          .map((m) => m.topic)
          .sort(),
        expected,
        f,
      );
    }
  });

  test('an expired retained message is not returned and is removed [MQTT-3.3.2-5]', () => {
    const s = new RetainedStore();
    const now = 1_000_000;
    s.set(msg('e/old', 'old', now - 1));
    s.set(msg('e/new', 'new', now + 60_000));
    assert.deepEqual(
      s.match('e/#', now).map((m) => m.topic),
      ['e/new'],
    );
    assert.equal(s.size, 1);
    assert.deepEqual(s.match('e/new', now + 60_000), [], 'expiry is inclusive of its instant');
  });
});

describe('Framer', () => {
  const encode = (p: mqttPacket.Packet) => mqttPacket.generate(p, { protocolVersion: 5 });
  function framer(max = 1_000_000) {
    const frames: Buffer[] = [];
    const errors: FramingError[] = [];
    const f = new Framer(
      max,
      (frame) => frames.push(Buffer.from(frame)),
      (e) => errors.push(e),
    );
    return { f, frames, errors };
  }

  test('splits several packets in one chunk and joins a packet fed one byte at a time', () => {
    const a = encode({ cmd: 'pingreq' });
    const b = encode({ cmd: 'publish', topic: 't', payload: Buffer.alloc(300, 1), qos: 1, messageId: 5, retain: false, dup: false });
    const c = encode({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'x/#', qos: 1 }] });
    const { f, frames, errors } = framer();
    f.push(Buffer.concat([a, b, c.subarray(0, 3)]));
    assert.deepEqual(frames, [a, b]);
    for (const byte of c.subarray(3)) f.push(Buffer.from([byte]));
    assert.deepEqual(frames, [a, b, c]);
    assert.deepEqual(errors, []);
  });

  test('reads a four-byte Remaining Length', () => {
    const big = encode({ cmd: 'publish', topic: 't', payload: Buffer.alloc(2_100_000), qos: 0, retain: false, dup: false });
    assert.equal(big[4]! & 0x80, 0, 'test setup: the length takes four bytes');
    const { f, frames } = framer(3_000_000);
    f.push(big.subarray(0, 1000));
    f.push(big.subarray(1000));
    assert.equal(frames.length, 1);
    assert.equal(frames[0]!.length, big.length);
  });

  test('a fifth Remaining Length byte is malformed, and nothing is framed after it (§1.5.5)', () => {
    const { f, frames, errors } = framer();
    f.push(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]));
    f.push(encode({ cmd: 'pingreq' }));
    assert.deepEqual(errors, ['malformed-remaining-length']);
    assert.deepEqual(frames, []);
  });

  test('a packet over the maximum is refused from its header alone, counting the whole packet [MQTT-3.2.2-15]', () => {
    const exact = encode({ cmd: 'publish', topic: 't', payload: Buffer.alloc(95), qos: 0, retain: false, dup: false });
    const max = exact.length;
    const ok = framer(max);
    ok.f.push(exact);
    assert.equal(ok.frames.length, 1);
    const over = framer(max);
    // Only the fixed header of a packet one byte larger: refused before any body arrives.
    over.f.push(encode({ cmd: 'publish', topic: 't', payload: Buffer.alloc(96), qos: 0, retain: false, dup: false }).subarray(0, 2));
    assert.deepEqual(over.errors, ['packet-too-large']);
  });

  test('peekConnectVersion reads protocol name and level from a CONNECT only', () => {
    const connect = encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'x' });
    assert.deepEqual(peekConnectVersion(connect), { name: 'MQTT', level: 5 });
    assert.equal(peekConnectVersion(encode({ cmd: 'pingreq' })), undefined);
    assert.equal(peekConnectVersion(connect.subarray(0, 5)), undefined, 'too short to tell');
  });

  test('frameTopicStrings returns the raw topic of a PUBLISH and the filters and options of a SUBSCRIBE / UNSUBSCRIBE', () => {
    const publish = encode({ cmd: 'publish', topic: 'a/ü', payload: Buffer.from('p'), qos: 1, messageId: 1, retain: false, dup: false });
    assert.deepEqual(frameTopicStrings(publish, 5), { strings: [Buffer.from('a/ü')], subscriptionOptions: [] });
    const subscribe = encode({
      cmd: 'subscribe',
      messageId: 9,
      properties: { subscriptionIdentifier: 300, userProperties: { k: 'v' } },
      subscriptions: [
        { topic: 'x/#', qos: 1, nl: true, rap: false, rh: 0 },
        { topic: 'y', qos: 2, nl: false, rap: true, rh: 2 },
      ],
    });
    assert.deepEqual(frameTopicStrings(subscribe, 5), {
      strings: [Buffer.from('x/#'), Buffer.from('y')],
      subscriptionOptions: [0x05, 0x2a],
    });
    const sub311 = mqttPacket.generate({ cmd: 'subscribe', messageId: 9, subscriptions: [{ topic: 'z', qos: 1 }] }, { protocolVersion: 4 });
    assert.deepEqual(frameTopicStrings(sub311, 4), { strings: [Buffer.from('z')], subscriptionOptions: [1] });
    const unsubscribe = encode({ cmd: 'unsubscribe', messageId: 3, unsubscriptions: ['p/q', 'r'] });
    assert.deepEqual(frameTopicStrings(unsubscribe, 5), { strings: [Buffer.from('p/q'), Buffer.from('r')], subscriptionOptions: [] });
    assert.deepEqual(frameTopicStrings(encode({ cmd: 'pingreq' }), 5), { strings: [], subscriptionOptions: [] });
    // A topic length past the end of the frame yields nothing (the parser reports the malformed packet).
    assert.deepEqual(frameTopicStrings(Buffer.from([0x30, 0x03, 0x00, 0x09, 0x61]), 5), { strings: [], subscriptionOptions: [] });
  });
});
