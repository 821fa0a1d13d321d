import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryPersistence } from '../../src/broker/index.js';
import { ReasonCode } from '../../src/protocol/index.js';
import { describeEachBroker, startBroker, startEmbedded, withEmbedded } from '../helpers/brokers.js';
import { spawnBrokerProcess } from '../helpers/broker-process.js';
import { RawClient } from '../helpers/raw-client.js';

/*
 * Well-formed packets of unusual shape (issue 11): topics and filters thousands of levels deep, wills on them,
 * retained messages that every later SUBSCRIBE would walk, and errors thrown where no handler catches them.
 * Each attack must get a reason code, and a healthy client must still be answered at once.
 */

/** A topic or filter of `levels` levels under `prefix`. */
function deep(levels: number, prefix = 'a'): string {
  return [prefix, ...Array.from({ length: levels - 1 }, (_, i) => `l${i}`)].join('/');
}

async function assertHealthy(port: number, clientId: string): Promise<void> {
  const { client } = await RawClient.connect(port, { clientId });
  const ms = await client.pingMs();
  assert.ok(ms < 100, `a healthy client waited ${ms.toFixed(1)} ms for PINGRESP`);
  await client.disconnect();
}

describeEachBroker('Topics past the level limit are refused with a reason code; the broker keeps serving', (kind) => {
  test('PUBLISH to a topic of 10,000 levels: DISCONNECT 0x90 Topic Name invalid (Mosquitto: 0x82)', async () => {
    const b = await startBroker(kind);
    try {
      const { client: healthy } = await RawClient.connect(b.port, { clientId: 'deep-pub-healthy' });
      const { client } = await RawClient.connect(b.port, { clientId: 'deep-pub' });
      client.send({ cmd: 'publish', topic: deep(10_000), payload: Buffer.from('x'), qos: 1, messageId: 1, retain: false, dup: false });
      const disconnect = await client.expect('disconnect');
      // Mosquitto 2.0.11 says Protocol Error; 0x90 is the code for a well-formed topic the server does not accept
      // (MQTT 5.0 §3.14.2.1), and both close the connection.
      assert.equal(disconnect.reasonCode, kind !== 'mosquitto' ? ReasonCode.TopicNameInvalid : ReasonCode.ProtocolError);
      assert.ok(await client.closedWithin(2000));
      assert.ok((await healthy.pingMs()) < 100);
      await healthy.disconnect();
    } finally {
      await b.close();
    }
  });

  test('a retained PUBLISH to a topic of 10,000 levels is not stored: SUBSCRIBE to # and a/# still get SUBACK', async () => {
    const b = await startBroker(kind);
    try {
      const { client } = await RawClient.connect(b.port, { clientId: 'deep-retain' });
      client.send({ cmd: 'publish', topic: deep(10_000), payload: Buffer.from('poison'), qos: 0, retain: true, dup: false });
      assert.ok(await client.closedWithin(2000));
      const { client: sub } = await RawClient.connect(b.port, { clientId: 'deep-retain-sub' });
      sub.send({
        cmd: 'subscribe',
        messageId: 1,
        subscriptions: [
          { topic: '#', qos: 0 },
          { topic: 'a/#', qos: 0 },
        ],
      });
      const suback = await sub.expect('suback');
      assert.deepEqual(suback.granted, [0, 0]);
      assert.ok((await sub.pingMs()) < 100);
      assert.equal(sub.all('publish').filter((p) => p.payload.toString() === 'poison').length, 0);
      await sub.disconnect();
    } finally {
      await b.close();
    }
  });

  test('SUBSCRIBE to a filter of 10,000 levels: SUBACK 0x8F, 3.1.1 0x80 (Mosquitto: DISCONNECT 0x81, 3.1.1 close)', async () => {
    const b = await startBroker(kind);
    try {
      for (const protocolVersion of [5, 4] as const) {
        const { client } = await RawClient.connect(b.port, { clientId: `deep-sub-${protocolVersion}`, protocolVersion });
        client.send({
          cmd: 'subscribe',
          messageId: 1,
          subscriptions: [
            { topic: deep(10_000, '+'), qos: 1 },
            { topic: 'ok/+', qos: 1 },
          ],
        });
        if (kind !== 'mosquitto') {
          // 0x8F: "the Topic Filter is correctly formed, but is not allowed for this Client" (MQTT 5.0 §3.9.3).
          const suback = await client.expect('suback');
          assert.deepEqual(suback.granted, [protocolVersion === 5 ? ReasonCode.TopicFilterInvalid : 0x80, 1]);
          await client.disconnect();
        } else {
          if (protocolVersion === 5) assert.equal((await client.expect('disconnect')).reasonCode, ReasonCode.MalformedPacket);
          assert.ok(await client.closedWithin(2000));
        }
      }
      await assertHealthy(b.port, 'deep-sub-healthy');
    } finally {
      await b.close();
    }
  });

  test('a will on a topic of 6,000 levels is refused at CONNECT: 0x90, 3.1.1 return code 3 (Mosquitto: closed, no CONNACK)', async () => {
    const b = await startBroker(kind);
    try {
      for (const protocolVersion of [5, 4] as const) {
        const client = await RawClient.open(b.port, protocolVersion);
        client.send({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion,
          clean: true,
          keepalive: 0,
          clientId: `deep-will-${protocolVersion}`,
          will: { topic: deep(6000), payload: Buffer.from('gone'), qos: 0, retain: false },
        });
        assert.ok(await client.closedWithin(2000));
        const connack = client.all('connack')[0];
        if (kind !== 'mosquitto') {
          // [MQTT-3.2.2-7] after a CONNACK with a failure code the server closes the connection.
          if (protocolVersion === 5) assert.equal(connack?.reasonCode, ReasonCode.TopicNameInvalid);
          else assert.equal(connack?.returnCode, 3);
        } else {
          // [MQTT-3.1.4-2] closing without CONNACK is allowed when a CONNECT check fails.
          assert.equal(connack, undefined);
        }
      }
      await assertHealthy(b.port, 'deep-will-healthy');
    } finally {
      await b.close();
    }
  });

  test('a topic of 200 levels (the limit) works end to end: retained, found by # and by a +/… filter', async () => {
    const b = await startBroker(kind);
    try {
      const topic = deep(200);
      const { client: pub } = await RawClient.connect(b.port, { clientId: 'limit-pub' });
      pub.send({ cmd: 'publish', topic, payload: Buffer.from('at-limit'), qos: 1, messageId: 1, retain: true, dup: false });
      assert.equal((await pub.expect('puback')).messageId, 1);
      const { client: sub } = await RawClient.connect(b.port, { clientId: 'limit-sub' });
      sub.send({
        cmd: 'subscribe',
        messageId: 1,
        subscriptions: [
          { topic: '#', qos: 0 },
          { topic: `+/${deep(199, 'l0').split('/').slice(1).join('/')}/#`, qos: 0 },
        ],
      });
      assert.deepEqual((await sub.expect('suback')).granted, [0, 0]);
      const retained = await sub.waitFor((p) => p.cmd === 'publish' && p.topic === topic);
      assert.equal(retained.cmd === 'publish' && retained.payload.toString(), 'at-limit');
      await pub.disconnect();
      await sub.disconnect();
    } finally {
      await b.close();
    }
  });
});

describe('Topic walks are iterative: far past the default limit, nothing exhausts the stack [embedded, maxTopicLevels 100,000]', () => {
  test('a will on a 6,000-level topic with a subscriber on it is published when the socket drops', async () => {
    await withEmbedded({ embedded: { maxTopicLevels: 100_000 } }, async (b) => {
      const topic = deep(6000);
      const { client: watcher } = await RawClient.connect(b.port, { clientId: 'will-watcher' });
      watcher.send({
        cmd: 'subscribe',
        messageId: 1,
        subscriptions: [
          { topic, qos: 0 },
          { topic: 'a/#', qos: 0 },
        ],
      });
      await watcher.expect('suback');
      const { client: dying } = await RawClient.connect(b.port, {
        clientId: 'will-deep',
        will: { topic, payload: Buffer.from('gone'), qos: 0, retain: false },
      });
      dying.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] });
      await dying.expect('suback');
      dying.destroy();
      const will = await watcher.waitFor((p) => p.cmd === 'publish');
      assert.equal(will.cmd === 'publish' && will.payload.toString(), 'gone');
      await watcher.disconnect();
    });
  });

  test('a retained message on a 10,000-level topic is found by # and a/# (SUBACK, then the message)', async () => {
    await withEmbedded({ embedded: { maxTopicLevels: 100_000 } }, async (b) => {
      const { client: pub } = await RawClient.connect(b.port, { clientId: 'deep-retained-pub' });
      pub.send({ cmd: 'publish', topic: deep(10_000), payload: Buffer.from('deep'), qos: 1, messageId: 1, retain: true, dup: false });
      await pub.expect('puback');
      for (const filter of ['#', 'a/#', `${deep(9_999)}/+`]) {
        const { client: sub } = await RawClient.connect(b.port, { clientId: `deep-retained-${filter.length}` });
        sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 0 }] });
        assert.deepEqual((await sub.expect('suback')).granted, [0]);
        const got = await sub.expect('publish');
        assert.equal(got.payload.toString(), 'deep');
        await sub.disconnect();
      }
      await pub.disconnect();
    });
  });
});

describe('A deep retained message is not poison after kill -9 and restart (mqttlab broker --data-dir, child process)', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('refused at the default limit; stored under a larger one, it is not loaded at the default: # still gets SUBACK', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mqttlab-poison-'));
    dirs.push(dataDir);
    // First run: a limit of 20,000 levels lets a 10,000-level retained message in (as an older version did).
    let broker = await spawnBrokerProcess(['--sys-interval', '0', '--data-dir', dataDir, '--max-topic-levels', '20000']);
    try {
      const { client: pub } = await RawClient.connect(broker.port, { clientId: 'poison-pub' });
      pub.send({ cmd: 'publish', topic: deep(10_000), payload: Buffer.from('poison'), qos: 1, messageId: 1, retain: true, dup: false });
      pub.send({ cmd: 'publish', topic: 'a/ok', payload: Buffer.from('fine'), qos: 1, messageId: 2, retain: true, dup: false });
      await pub.waitFor((p) => p.cmd === 'puback' && p.messageId === 2);
      await broker.stop('SIGKILL');
      // Second run, default limit: the deep message is left in the store but not loaded.
      broker = await spawnBrokerProcess(['--sys-interval', '0', '--data-dir', dataDir]);
      const { client: refused } = await RawClient.connect(broker.port, { clientId: 'poison-again' });
      refused.send({ cmd: 'publish', topic: deep(10_000), payload: Buffer.from('poison'), qos: 0, retain: true, dup: false });
      assert.equal((await refused.expect('disconnect')).reasonCode, ReasonCode.TopicNameInvalid);
      const { client: sub } = await RawClient.connect(broker.port, { clientId: 'poison-sub' });
      sub.send({
        cmd: 'subscribe',
        messageId: 1,
        subscriptions: [
          { topic: '#', qos: 0 },
          { topic: 'a/#', qos: 0 },
        ],
      });
      assert.deepEqual((await sub.expect('suback')).granted, [0, 0]);
      assert.ok((await sub.pingMs()) < 100);
      assert.deepEqual(
        sub.all('publish').map((p) => p.payload.toString()),
        ['fine', 'fine'],
      );
      await sub.disconnect();
    } finally {
      await broker.stop('SIGKILL');
    }
  });
});

describe('An internal error ends at most one connection, never the process [embedded, injected throws]', () => {
  test('will publication: the error is reported as internalError and other clients are served', async () => {
    const b = await startEmbedded();
    const broker = b.broker!;
    const errors: string[] = [];
    broker.events.on('internalError', (where) => errors.push(where));
    const match = broker.router.match.bind(broker.router);
    broker.router.match = (topic: string) => {
      if (topic === 'boom/will') throw new Error('injected');
      return match(topic);
    };
    try {
      const { client } = await RawClient.connect(b.port, {
        clientId: 'boom',
        will: { topic: 'boom/will', payload: Buffer.from('x'), qos: 0, retain: false },
      });
      client.destroy();
      await client.closed;
      await assertHealthy(b.port, 'after-will-error');
      assert.deepEqual(errors, ['will publication']);
    } finally {
      await b.close();
    }
  });

  test('timers: a deadline that throws is reported, and the deadlines due with it still run', async () => {
    const b = await startEmbedded();
    const broker = b.broker!;
    const errors: string[] = [];
    broker.events.on('internalError', (where, error) => errors.push(`${where}: ${error.message}`));
    try {
      let ran = false;
      const now = Date.now();
      broker.deadlines.add('injected:throws', now, () => {
        throw new Error('injected');
      });
      broker.deadlines.add('injected:runs', now, () => (ran = true));
      const started = Date.now();
      while (!ran && Date.now() - started < 2000) await new Promise((r) => setTimeout(r, 5));
      assert.equal(ran, true);
      assert.deepEqual(errors, ['timer: injected']);
      await assertHealthy(b.port, 'after-timer-error');
    } finally {
      await b.close();
    }
  });

  test('acks after a persistence commit: a throw while answering one client ends that client only', async () => {
    // A crash-safe persistence makes SUBACK wait for a commit: the answer runs in the commit's callback.
    const persistence = new MemoryPersistence();
    Object.defineProperty(persistence, 'crashSafe', { value: true });
    await withEmbedded({ embedded: { persistence } }, async (b) => {
      const broker = b.broker!;
      const errors: string[] = [];
      broker.events.on('internalError', (where) => errors.push(where));
      broker.events.on('packetOut', (clientId, packet) => {
        if (clientId === 'ack-victim' && packet.cmd === 'suback') throw new Error('injected');
      });
      const { client: victim } = await RawClient.connect(b.port, { clientId: 'ack-victim' });
      const { client: other } = await RawClient.connect(b.port, { clientId: 'ack-other' });
      victim.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'v', qos: 0 }] });
      other.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'o', qos: 0 }] });
      assert.deepEqual((await other.expect('suback')).granted, [0]);
      assert.equal((await victim.expect('disconnect')).reasonCode, ReasonCode.ImplementationSpecificError);
      assert.deepEqual(errors, ['suback after store']);
      await other.disconnect();
    });
  });
});
