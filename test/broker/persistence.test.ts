import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import {
  MemoryPersistence,
  ReasonCode,
  SqlitePersistence,
  type Message,
  type Persistence,
  type SessionSnapshot,
} from '../../src/broker/index.js';
import { startBroker, type TestBroker } from '../helpers/brokers.js';
import { sleep, waitUntil } from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';

/**
 * Every Persistence implementation passes the same contract. To add one, add an entry: `create` makes
 * an empty store, `reopen` closes a store and opens the same storage again (a file store opens a new
 * instance on the same path; the memory store is its own storage, so it is the same instance), and a
 * crash-safe store gives `openBeside`: a second instance on the same storage while the first stays
 * open and unflushed, which is what a restart after SIGKILL sees.
 */
interface Implementation {
  name: string;
  create(): Promise<Persistence>;
  reopen(store: Persistence): Promise<Persistence>;
  openBeside?(store: Persistence): Persistence;
}

const tempDirs: string[] = [];
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

const IMPLEMENTATIONS: Implementation[] = [
  {
    name: 'MemoryPersistence',
    create: async () => new MemoryPersistence(),
    reopen: async (store) => {
      await store.close();
      return store;
    },
  },
  {
    name: 'SqlitePersistence',
    create: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'mqttlab-sqlite-'));
      tempDirs.push(dir);
      return new SqlitePersistence(join(dir, 'mqttlab.db'));
    },
    reopen: async (store) => {
      await store.close();
      return new SqlitePersistence((store as SqlitePersistence).path);
    },
    openBeside: (store) => new SqlitePersistence((store as SqlitePersistence).path),
  },
];

function message(topic: string, payload: Buffer | string, extra: Partial<Message> = {}): Message {
  return { topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos: 1, retain: true, properties: {}, ...extra };
}

function snapshot(clientId: string, extra: Partial<SessionSnapshot> = {}): SessionSnapshot {
  const m = message('s/t', 'queued', { retain: false });
  return {
    clientId,
    expiryInterval: 300,
    disconnectedAt: 1_700_000_000_000,
    subscriptions: [
      {
        clientId,
        topicFilter: 's/#',
        filter: 's/#',
        qos: 1,
        noLocal: false,
        retainAsPublished: true,
        retainHandling: 1,
        subscriptionId: 9,
      },
      {
        clientId,
        topicFilter: '$share/g/jobs/+',
        filter: 'jobs/+',
        group: 'g',
        qos: 2,
        noLocal: false,
        retainAsPublished: false,
        retainHandling: 0,
      },
    ],
    inflight: [
      { packetId: 3, delivery: { message: m, qos: 1, retain: false, subscriptionIds: [9] }, state: 'publish' },
      { packetId: 4, delivery: { message: m, qos: 2, retain: false, subscriptionIds: [] }, state: 'pubrel' },
    ],
    queue: [
      { message: message('s/q', 'later', { retain: false, expiresAt: 1_700_000_100_000 }), qos: 1, retain: false, subscriptionIds: [9] },
    ],
    inboundQos2: [11, 12],
    ...extra,
  };
}

const byTopic = (a: Message, b: Message) => a.topic.localeCompare(b.topic);
const byClient = (a: SessionSnapshot, b: SessionSnapshot) => a.clientId.localeCompare(b.clientId);

for (const impl of IMPLEMENTATIONS) {
  describe(`Persistence contract: ${impl.name}`, () => {
    test('a new store holds no retained messages and no sessions', async () => {
      const store = await impl.create();
      assert.deepEqual(await store.loadRetained(), []);
      assert.deepEqual(await store.loadSessions(), []);
      await store.close();
    });

    test('retained messages come back with payload bytes, QoS, properties, expiry and origin', async () => {
      const store = await impl.create();
      const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const rich = message('r/rich', binary, {
        qos: 2,
        properties: {
          payloadFormatIndicator: false,
          contentType: 'application/octet-stream',
          responseTopic: 'r/reply',
          correlationData: Buffer.from([0, 1, 2, 255]),
          userProperties: { a: '1', b: ['2', '3'] },
        },
        expiresAt: 1_800_000_000_000,
        origin: 'publisher-1',
      });
      const plain = message('r/plain', 'text');
      store.saveRetained(rich.topic, rich);
      store.saveRetained(plain.topic, plain);
      assert.deepEqual((await store.loadRetained()).sort(byTopic), [plain, rich]);
      await store.close();
    });

    test('saving a topic again replaces its retained message; undefined deletes only that topic', async () => {
      const store = await impl.create();
      store.saveRetained('r/a', message('r/a', 'one'));
      store.saveRetained('r/b', message('r/b', 'b'));
      store.saveRetained('r/a', message('r/a', 'two'));
      assert.deepEqual(
        (await store.loadRetained()).sort(byTopic).map((m) => [m.topic, m.payload.toString()]),
        [
          ['r/a', 'two'],
          ['r/b', 'b'],
        ],
      );
      store.saveRetained('r/a', undefined);
      store.saveRetained('r/never-set', undefined);
      assert.deepEqual(
        (await store.loadRetained()).map((m) => m.topic),
        ['r/b'],
      );
      await store.close();
    });

    test('a session snapshot comes back whole: subscriptions, in-flight, queue, inbound QoS 2 ids', async () => {
      const store = await impl.create();
      const s = snapshot('c1');
      store.saveSession(s);
      assert.deepEqual(await store.loadSessions(), [snapshot('c1')]);
      await store.close();
    });

    test('saving a session again replaces it; deleteSession removes only that client', async () => {
      const store = await impl.create();
      store.saveSession(snapshot('c1'));
      store.saveSession(snapshot('c2'));
      store.saveSession(snapshot('c1', { expiryInterval: 5, queue: [], inflight: [] }));
      const loaded = (await store.loadSessions()).sort(byClient);
      assert.deepEqual(loaded, [snapshot('c1', { expiryInterval: 5, queue: [], inflight: [] }), snapshot('c2')]);
      store.deleteSession('c1');
      store.deleteSession('never-saved');
      assert.deepEqual(
        (await store.loadSessions()).map((x) => x.clientId),
        ['c2'],
      );
      await store.close();
    });

    test('the store keeps its own copy: changing a snapshot after saving or after loading does not change it', async () => {
      const store = await impl.create();
      const s = snapshot('c1');
      store.saveSession(s);
      s.subscriptions.pop();
      s.queue.push(s.queue[0]!);
      s.inboundQos2.push(99);
      s.inflight[0]!.state = 'pubrel';
      const loaded = await store.loadSessions();
      assert.deepEqual(loaded, [snapshot('c1')]);
      loaded[0]!.inboundQos2.length = 0;
      loaded[0]!.subscriptions.length = 0;
      assert.deepEqual(await store.loadSessions(), [snapshot('c1')]);
      await store.close();
    });

    test('saves are visible to loads before and after flush; flush with nothing pending resolves', async () => {
      const store = await impl.create();
      await store.flush();
      store.saveRetained('r/f', message('r/f', 'before flush'));
      store.saveSession(snapshot('c-f'));
      assert.deepEqual(
        (await store.loadRetained()).map((m) => m.payload.toString()),
        ['before flush'],
      );
      await store.flush();
      store.deleteSession('c-f');
      assert.deepEqual(await store.loadSessions(), []);
      await store.flush();
      assert.deepEqual(
        (await store.loadRetained()).map((m) => m.payload.toString()),
        ['before flush'],
      );
      await store.close();
    });

    test('crash-safe: what flush stored is seen by a second store opened while the first is still open', {
      skip: impl.openBeside ? false : 'not crash-safe: its state lives in this process',
    }, async () => {
      const store = await impl.create();
      assert.equal(store.crashSafe, true);
      store.saveRetained('r/c', message('r/c', 'flushed'));
      store.saveSession(snapshot('c-flushed'));
      await store.flush();
      store.saveSession(snapshot('c-not-flushed'));
      const beside = impl.openBeside!(store);
      assert.deepEqual(
        (await beside.loadRetained()).map((m) => m.payload.toString()),
        ['flushed'],
      );
      assert.deepEqual(await beside.loadSessions(), [snapshot('c-flushed')]);
      await beside.close();
      await store.close();
    });

    test('a message held by two sessions stays for one when the other lets it go or is deleted', async () => {
      const store = await impl.create();
      const shared = message('s/shared', 'shared', { retain: false });
      const delivery = { message: shared, qos: 1 as const, retain: false, subscriptionIds: [] };
      store.saveSession(snapshot('a', { inflight: [], queue: [delivery] }));
      store.saveSession(snapshot('b', { inflight: [{ packetId: 5, delivery, state: 'publish' }], queue: [] }));
      await store.flush();
      store.saveSession(snapshot('a', { inflight: [], queue: [] }));
      let again = await impl.reopen(store);
      const b = (await again.loadSessions()).find((x) => x.clientId === 'b')!;
      assert.deepEqual(
        b.inflight.map((e) => e.delivery.message),
        [shared],
      );
      assert.deepEqual((await again.loadSessions()).find((x) => x.clientId === 'a')!.queue, []);
      // Saved again after a reopen (as a restored broker does), then deleted: nothing of it comes back.
      again.saveSession(b);
      again.deleteSession('b');
      again = await impl.reopen(again);
      assert.deepEqual(
        (await again.loadSessions()).map((x) => x.clientId),
        ['a'],
      );
      await again.close();
    });

    test('what was saved is there after close and reopen', async () => {
      const store = await impl.create();
      store.saveRetained('r/kept', message('r/kept', 'kept'));
      store.saveSession(snapshot('c-kept'));
      const again = await impl.reopen(store);
      assert.deepEqual(
        (await again.loadRetained()).map((m) => [m.topic, m.payload.toString()]),
        [['r/kept', 'kept']],
      );
      assert.deepEqual(await again.loadSessions(), [snapshot('c-kept')]);
      await again.close();
    });
  });

  describe(`Broker restart with ${impl.name} [embedded]`, () => {
    /** Runs `first` on a broker, closes it, then `second` on a new broker over the same storage. */
    async function restart(
      options: { maxQueuedMessages?: number },
      first: (b: TestBroker) => Promise<void>,
      second: (b: TestBroker) => Promise<void>,
      between?: () => Promise<void>,
    ): Promise<void> {
      const store = await impl.create();
      const b1 = await startBroker('embedded', { embedded: { ...options, persistence: store } });
      try {
        await first(b1);
      } finally {
        await b1.close();
      }
      await between?.();
      const b2 = await startBroker('embedded', { embedded: { ...options, persistence: await impl.reopen(store) } });
      try {
        await second(b2);
      } finally {
        await b2.close();
      }
    }

    test('retained messages survive a restart, cleared ones stay cleared [MQTT-3.3.1-5], [MQTT-3.3.1-6]', async () => {
      await restart(
        {},
        async (b) => {
          const { client } = await RawClient.connect(b.port, { clientId: 'rp-pub' });
          const publish = (topic: string, payload: string, id: number, properties = {}) => {
            client.send({
              cmd: 'publish',
              topic,
              payload: Buffer.from(payload),
              qos: 1,
              retain: true,
              dup: false,
              messageId: id,
              properties,
            });
            return client.expect('puback');
          };
          await publish('rp/a', 'alpha', 1, { contentType: 'text/plain', userProperties: { unit: 'C' } });
          await publish('rp/b', 'beta', 2);
          await publish('rp/c', 'soon cleared', 3);
          await publish('rp/c', '', 4);
          await client.disconnect();
        },
        async (b) => {
          const { client } = await RawClient.connect(b.port, { clientId: 'rp-sub' });
          client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'rp/#', qos: 1 }] });
          await client.expect('suback');
          const got = [await client.expect('publish'), await client.expect('publish')].sort((x, y) => x.topic.localeCompare(y.topic));
          assert.deepEqual(
            got.map((p) => [p.topic, p.payload.toString(), p.retain]),
            [
              ['rp/a', 'alpha', true],
              ['rp/b', 'beta', true],
            ],
          );
          assert.equal(got[0]!.properties?.contentType, 'text/plain');
          assert.deepEqual({ ...got[0]!.properties?.userProperties }, { unit: 'C' });
          await sleep(200);
          assert.equal(client.all('publish').length, 2, 'the cleared topic has no retained message');
          await client.disconnect();
        },
      );
    });

    test("a persistent session's subscriptions and queued QoS 1 messages survive a restart [MQTT-3.1.2-23]", async () => {
      const session = { clientId: 'rp-session', clean: false, properties: { sessionExpiryInterval: 300 } };
      await restart(
        {},
        async (b) => {
          const { client } = await RawClient.connect(b.port, { ...session, clean: true });
          client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'rp/session/#', qos: 1 }] });
          await client.expect('suback');
          await client.disconnect();
          const { client: pub } = await RawClient.connect(b.port, { clientId: 'rp-session-pub' });
          for (let i = 1; i <= 3; i++) {
            pub.send({
              cmd: 'publish',
              topic: `rp/session/${i}`,
              payload: Buffer.from(`queued ${i}`),
              qos: 1,
              retain: false,
              dup: false,
              messageId: i,
            });
            await pub.expect('puback');
          }
          await pub.disconnect();
        },
        async (b) => {
          const { client, connack } = await RawClient.connect(b.port, session);
          assert.equal(connack.sessionPresent, true);
          const queued: string[] = [];
          for (let i = 0; i < 3; i++) {
            const p = await client.expect('publish');
            queued.push(p.payload.toString());
            assert.equal(p.qos, 1);
            client.send({ cmd: 'puback', messageId: p.messageId!, reasonCode: 0 });
          }
          assert.deepEqual(queued, ['queued 1', 'queued 2', 'queued 3']);
          // The subscription itself came back too: a new message is routed to it.
          const { client: pub } = await RawClient.connect(b.port, { clientId: 'rp-session-pub2' });
          pub.send({
            cmd: 'publish',
            topic: 'rp/session/new',
            payload: Buffer.from('after restart'),
            qos: 1,
            retain: false,
            dup: false,
            messageId: 1,
          });
          const puback = await pub.expect('puback');
          assert.equal(puback.reasonCode ?? 0, 0, 'a matching subscriber exists');
          assert.equal((await client.expect('publish')).payload.toString(), 'after restart');
          await pub.disconnect();
          await client.disconnect();
        },
      );
    });

    test('an unacknowledged QoS 1 message is resent with DUP=1 after a restart [MQTT-4.4.0-1]', async () => {
      const session = { clientId: 'rp-inflight', clean: false, properties: { sessionExpiryInterval: 300 } };
      await restart(
        {},
        async (b) => {
          const { client } = await RawClient.connect(b.port, { ...session, clean: true });
          client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'rp/inflight', qos: 1 }] });
          await client.expect('suback');
          const { client: pub } = await RawClient.connect(b.port, { clientId: 'rp-inflight-pub' });
          pub.send({
            cmd: 'publish',
            topic: 'rp/inflight',
            payload: Buffer.from('unacked'),
            qos: 1,
            retain: false,
            dup: false,
            messageId: 1,
          });
          await pub.expect('puback');
          const first = await client.expect('publish');
          assert.equal(first.dup, false);
          // No PUBACK: the broker shuts down with the message in flight.
          await pub.disconnect();
        },
        async (b) => {
          const { client, connack } = await RawClient.connect(b.port, session);
          assert.equal(connack.sessionPresent, true);
          const again = await client.expect('publish');
          assert.equal(again.payload.toString(), 'unacked');
          assert.equal(again.dup, true);
          client.send({ cmd: 'puback', messageId: again.messageId!, reasonCode: 0 });
          await client.disconnect();
        },
      );
    });

    test('3.1.1: a CleanSession=0 session survives a restart', async () => {
      const session = { clientId: 'rp-311', protocolVersion: 4 as const, clean: false };
      await restart(
        {},
        async (b) => {
          const { client } = await RawClient.connect(b.port, session);
          client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'rp/311', qos: 1 }] });
          await client.expect('suback');
          await client.disconnect();
          const { client: pub } = await RawClient.connect(b.port, { clientId: 'rp-311-pub' });
          pub.send({ cmd: 'publish', topic: 'rp/311', payload: Buffer.from('for 3.1.1'), qos: 1, retain: false, dup: false, messageId: 1 });
          await pub.expect('puback');
          await pub.disconnect();
        },
        async (b) => {
          const { client, connack } = await RawClient.connect(b.port, session);
          assert.equal(connack.sessionPresent, true);
          assert.equal((await client.expect('publish')).payload.toString(), 'for 3.1.1');
          await client.disconnect();
        },
      );
    });

    test('a session whose expiry passed while the broker was down is not restored [MQTT-3.1.2-23]', async () => {
      const session = { clientId: 'rp-expired', clean: false, properties: { sessionExpiryInterval: 1 } };
      await restart(
        {},
        async (b) => {
          const { client } = await RawClient.connect(b.port, { ...session, clean: true });
          client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'rp/expired', qos: 1 }] });
          await client.expect('suback');
          await client.disconnect();
        },
        async (b) => {
          const { client, connack } = await RawClient.connect(b.port, session);
          assert.equal(connack.sessionPresent, false);
          assert.equal(b.broker!.router.size, 0, 'its subscription is gone');
          await client.disconnect();
        },
        () => sleep(1500),
      );
    });

    test('a session with Session Expiry Interval 0 is not kept across a restart', async () => {
      await restart(
        {},
        async (b) => {
          const { client } = await RawClient.connect(b.port, { clientId: 'rp-zero' });
          client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'rp/zero', qos: 1 }] });
          await client.expect('suback');
          // Still connected when the broker closes.
        },
        async (b) => {
          assert.equal(b.broker!.sessions.has('rp-zero'), false);
          const { client, connack } = await RawClient.connect(b.port, { clientId: 'rp-zero', clean: false });
          assert.equal(connack.sessionPresent, false);
          await client.disconnect();
        },
      );
    });
  });
}

describe('SqlitePersistence storage', () => {
  test('a message is stored once however many sessions hold it, and deleted when none does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqttlab-sqlite-'));
    tempDirs.push(dir);
    const path = join(dir, 'mqttlab.db');
    const rows = (table = 'messages') => {
      const db = new Database(path, { readonly: true });
      try {
        return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    const store = new SqlitePersistence(path);
    const m = message('s/once', Buffer.alloc(1000), { retain: false });
    const delivery = { message: m, qos: 1 as const, retain: false, subscriptionIds: [] };
    for (const id of ['x', 'y', 'z']) store.saveSession(snapshot(id, { inflight: [], queue: [delivery] }));
    await store.flush();
    assert.equal(rows(), 1);
    assert.equal(rows('deliveries'), 3, 'one delivery row per session');
    // The delivery goes into flight in x: the same row, updated.
    store.saveSession(snapshot('x', { inflight: [{ packetId: 1, delivery, state: 'publish' }], queue: [] }));
    await store.flush();
    assert.equal(rows('deliveries'), 3);
    store.saveSession(snapshot('x', { inflight: [], queue: [] }));
    store.deleteSession('y');
    await store.flush();
    assert.equal(rows(), 1, 'z still holds it');
    store.deleteSession('z');
    await store.flush();
    assert.equal(rows(), 0);
    assert.equal(rows('deliveries'), 0);
    await store.close();
  });
});

for (const impl of IMPLEMENTATIONS.filter((i) => i.openBeside)) {
  describe(`Acknowledgement after store with ${impl.name} [embedded]`, () => {
    /** What a broker restarted after a crash would load: a second store on the same storage. */
    async function storedSession(store: Persistence, clientId: string): Promise<SessionSnapshot | undefined> {
      const beside = impl.openBeside!(store);
      try {
        return (await beside.loadSessions()).find((s) => s.clientId === clientId);
      } finally {
        await beside.close();
      }
    }

    test('SUBACK comes after the subscription is stored; each PUBACK once the message is in the offline queue [MQTT-4.3.2-4]', async () => {
      const store = await impl.create();
      const b = await startBroker('embedded', { embedded: { persistence: store } });
      try {
        const { client: sub } = await RawClient.connect(b.port, {
          clientId: 'as-sub',
          clean: false,
          properties: { sessionExpiryInterval: 300 },
        });
        sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'as/#', qos: 1 }] });
        await sub.expect('suback');
        assert.deepEqual(
          (await storedSession(store, 'as-sub'))?.subscriptions.map((s) => s.topicFilter),
          ['as/#'],
        );
        await sub.disconnect();
        const { client: pub } = await RawClient.connect(b.port, { clientId: 'as-pub' });
        for (let i = 1; i <= 5; i++) {
          pub.send({ cmd: 'publish', topic: `as/${i}`, payload: Buffer.from(`m${i}`), qos: 1, retain: false, dup: false, messageId: i });
          await pub.expect('puback');
          const queued = (await storedSession(store, 'as-sub'))?.queue.map((d) => d.message.payload.toString());
          assert.deepEqual(
            queued,
            Array.from({ length: i }, (_, k) => `m${k + 1}`),
          );
        }
        await pub.disconnect();
      } finally {
        await b.close();
      }
    });

    test("a message queued later does not move an offline session's disconnect time, its expiry's start [MQTT-3.1.2-23]", async () => {
      const store = await impl.create();
      const b = await startBroker('embedded', { embedded: { persistence: store } });
      try {
        const { client: sub } = await RawClient.connect(b.port, {
          clientId: 'as-expiry',
          clean: false,
          properties: { sessionExpiryInterval: 300 },
        });
        sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'as/expiry', qos: 1 }] });
        await sub.expect('suback');
        await sub.disconnect();
        await waitUntil(() => b.broker!.sessions.get('as-expiry')?.connected === false, 3000, 'the subscriber offline');
        const { client: pub } = await RawClient.connect(b.port, { clientId: 'as-expiry-pub' });
        pub.send({ cmd: 'publish', topic: 'as/expiry', payload: Buffer.from('later'), qos: 1, retain: false, dup: false, messageId: 1 });
        await pub.expect('puback');
        const stored = await storedSession(store, 'as-expiry');
        assert.equal(stored?.queue.length, 1);
        assert.equal(stored?.disconnectedAt, b.broker!.sessions.get('as-expiry')!.disconnectedAt);
        await pub.disconnect();
      } finally {
        await b.close();
      }
    });

    test('a retained message is stored before its PUBACK', async () => {
      const store = await impl.create();
      const b = await startBroker('embedded', { embedded: { persistence: store } });
      try {
        const { client: pub } = await RawClient.connect(b.port, { clientId: 'as-retain' });
        pub.send({ cmd: 'publish', topic: 'as/retained', payload: Buffer.from('kept'), qos: 1, retain: true, dup: false, messageId: 1 });
        await pub.expect('puback');
        const beside = impl.openBeside!(store);
        assert.deepEqual(
          (await beside.loadRetained()).map((m) => [m.topic, m.payload.toString()]),
          [['as/retained', 'kept']],
        );
        await beside.close();
        await pub.disconnect();
      } finally {
        await b.close();
      }
    });

    test('an inbound QoS 2 id is stored before PUBREC and its release before PUBCOMP [MQTT-4.3.3-8], [MQTT-4.3.3-12]', async () => {
      const store = await impl.create();
      const b = await startBroker('embedded', { embedded: { persistence: store } });
      try {
        const { client } = await RawClient.connect(b.port, {
          clientId: 'as-qos2',
          clean: false,
          properties: { sessionExpiryInterval: 300 },
        });
        client.send({ cmd: 'publish', topic: 'as/qos2', payload: Buffer.from('two'), qos: 2, retain: false, dup: false, messageId: 42 });
        await client.expect('pubrec');
        assert.deepEqual((await storedSession(store, 'as-qos2'))?.inboundQos2, [42]);
        client.send({ cmd: 'pubrel', messageId: 42, reasonCode: 0 });
        assert.equal((await client.expect('pubcomp')).reasonCode ?? 0, 0);
        assert.deepEqual((await storedSession(store, 'as-qos2'))?.inboundQos2, []);
        await client.disconnect();
      } finally {
        await b.close();
      }
    });

    test('a session with Session Expiry 0 is never stored', async () => {
      const store = await impl.create();
      const b = await startBroker('embedded', { embedded: { persistence: store } });
      try {
        const { client } = await RawClient.connect(b.port, { clientId: 'as-clean' });
        client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'as/clean', qos: 1 }] });
        await client.expect('suback');
        assert.equal(await storedSession(store, 'as-clean'), undefined);
        await client.disconnect();
      } finally {
        await b.close();
      }
    });
  });
}

/** A crash-safe stand-in whose flush waits until the test opens the gate (or fails it). */
class GatedPersistence extends MemoryPersistence {
  override readonly crashSafe = true;
  flushes = 0;
  private release!: (error?: Error) => void;
  private readonly gate = new Promise<void>((resolve, reject) => {
    this.release = (error) => (error ? reject(error) : resolve());
  });

  override async flush(): Promise<void> {
    this.flushes++;
    await this.gate;
  }

  open(): void {
    this.release();
  }

  fail(error: Error): void {
    this.release(error);
  }
}

/** Sends a QoS 1 PUBLISH and then a PINGREQ, and waits for the PINGRESP (written at once, never held). */
async function publishThenPing(client: RawClient, messageId: number): Promise<void> {
  client.send({ cmd: 'publish', topic: 'gate/t', payload: Buffer.from('x'), qos: 1, retain: false, dup: false, messageId });
  client.send({ cmd: 'pingreq' });
  await client.expect('pingresp');
}

describe('When acknowledgements go out [embedded]', () => {
  test('with MemoryPersistence a PUBACK is written at once: it arrives before the PINGRESP sent after it', async () => {
    const b = await startBroker('embedded', { embedded: { persistence: new MemoryPersistence() } });
    try {
      const { client } = await RawClient.connect(b.port, { clientId: 'gate-memory' });
      await publishThenPing(client, 1);
      assert.deepEqual(
        client.received.slice(1).map((p) => p.cmd),
        ['puback', 'pingresp'],
      );
      await client.disconnect();
    } finally {
      await b.close();
    }
  });

  test('with a crash-safe store the PUBACK waits for the commit: PINGRESP overtakes it, PUBACK follows the flush', async () => {
    const store = new GatedPersistence();
    const b = await startBroker('embedded', { embedded: { persistence: store } });
    try {
      const { client } = await RawClient.connect(b.port, { clientId: 'gate-held' });
      await publishThenPing(client, 7);
      assert.equal(client.all('puback').length, 0, 'no PUBACK before the store flushed');
      assert.equal(store.flushes, 1);
      store.open();
      assert.equal((await client.expect('puback')).messageId, 7);
      await client.disconnect();
    } finally {
      await b.close();
    }
  });

  test('when storing fails the publisher gets DISCONNECT 0x80 instead of PUBACK, and the broker keeps serving', async () => {
    const store = new GatedPersistence();
    const b = await startBroker('embedded', { embedded: { persistence: store } });
    const errors: string[] = [];
    b.broker!.events.on('persistenceError', (error) => errors.push(error.message));
    try {
      const { client } = await RawClient.connect(b.port, { clientId: 'gate-fail' });
      await publishThenPing(client, 3);
      store.fail(new Error('disk full'));
      const disconnect = await client.expect('disconnect');
      assert.equal(disconnect.reasonCode, ReasonCode.UnspecifiedError);
      assert.equal(client.all('puback').length, 0);
      // Every commit since fails the same way (the disconnect made one more).
      assert.ok(errors.length >= 1 && errors.every((e) => e === 'disk full'), `persistenceError events: ${errors.join(', ')}`);
      const { client: other, connack } = await RawClient.connect(b.port, { clientId: 'gate-after' });
      assert.equal(connack.reasonCode, ReasonCode.Success);
      await other.disconnect();
    } finally {
      await b.close();
    }
  });
});
