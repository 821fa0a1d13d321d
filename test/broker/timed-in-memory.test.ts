import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Broker } from '../../src/broker/index.js';
import { ReasonCode } from '../../src/protocol/index.js';
import { mqttInMemory, rawInMemory } from '../helpers/in-memory.js';
import { ManualClock } from '../helpers/manual-clock.js';
import type { RawClient } from '../helpers/raw-client.js';

/*
 * Timed behaviour of the core, driven by a manual clock over in-memory streams: no port, no sleeping. The same
 * rules are checked on real sockets against both brokers in sessions.test.ts and keepalive.test.ts.
 */

function setup(): { broker: Broker; clock: ManualClock } {
  const clock = new ManualClock();
  return { broker: new Broker({ clock, sysInterval: 0 }), clock };
}

async function connect(broker: Broker, clientId: string, extra: Record<string, unknown> = {}): Promise<RawClient> {
  const client = rawInMemory(broker);
  client.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId, ...extra });
  const connack = await client.expect('connack');
  assert.equal(connack.reasonCode, ReasonCode.Success);
  return client;
}

/** A PINGREQ answered: everything the broker sent before it has arrived. */
async function flush(client: RawClient): Promise<void> {
  client.send({ cmd: 'pingreq' });
  await client.expect('pingresp');
}

describe('Timed features on a manual clock [embedded, in memory]', () => {
  test('Will Delay Interval 30: the will goes out 30 s after the connection drops, not a millisecond before [MQTT-3.1.3-9]', async () => {
    const { broker, clock } = setup();
    const watcher = await connect(broker, 'watcher');
    watcher.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'wills/#', qos: 0 }] });
    await watcher.expect('suback');
    const dying = await connect(broker, 'dying', {
      clean: false,
      properties: { sessionExpiryInterval: 120 },
      will: { topic: 'wills/dying', payload: Buffer.from('gone'), qos: 0, retain: false, properties: { willDelayInterval: 30 } },
    });
    dying.destroy();
    await dying.closed;
    clock.advance(29_999);
    await flush(watcher);
    assert.equal(watcher.all('publish').length, 0);
    clock.advance(1);
    const will = await watcher.expect('publish');
    assert.equal(will.payload.toString(), 'gone');
    await broker.close();
  });

  test('a reconnect within the Will Delay Interval cancels the will [MQTT-3.1.3-9]', async () => {
    const { broker, clock } = setup();
    const watcher = await connect(broker, 'watcher');
    watcher.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'wills/#', qos: 0 }] });
    await watcher.expect('suback');
    const will = { topic: 'wills/back', payload: Buffer.from('gone'), qos: 0, retain: false, properties: { willDelayInterval: 30 } };
    const first = await connect(broker, 'back', { clean: false, properties: { sessionExpiryInterval: 120 }, will });
    first.destroy();
    await first.closed;
    clock.advance(10_000);
    const again = await connect(broker, 'back', { clean: false, properties: { sessionExpiryInterval: 120 } });
    clock.advance(60_000);
    await flush(watcher);
    assert.equal(watcher.all('publish').length, 0);
    await again.disconnect();
    await broker.close();
  });

  test('Session Expiry Interval 5: the session is there at 4.999 s and gone at 5 s [MQTT-3.1.2-23]', async () => {
    const { broker, clock } = setup();
    const expired: string[] = [];
    broker.events.on('sessionExpired', (id) => expired.push(id));
    const client = await connect(broker, 'short', { clean: false, properties: { sessionExpiryInterval: 5 } });
    await client.disconnect();
    await client.closed;
    clock.advance(4_999);
    assert.equal(broker.sessions.has('short'), true);
    clock.advance(1);
    assert.equal(broker.sessions.has('short'), false);
    assert.deepEqual(expired, ['short']);
    await broker.close();
  });

  test('keep alive 10: a silent client is disconnected with 0x8D after 1.5 × 10 s, a talking one is not [MQTT-3.1.2-22]', async () => {
    const { broker, clock } = setup();
    const silent = await connect(broker, 'silent', { keepalive: 10 });
    const talking = await connect(broker, 'talking', { keepalive: 10 });
    for (let t = 0; t < 14_500; t += 500) {
      clock.advance(500);
      if (t % 5000 === 0) await flush(talking);
    }
    assert.equal(silent.isOpen, true, 'still open just before 15 s');
    await flush(talking);
    clock.advance(1_000);
    assert.equal((await silent.expect('disconnect')).reasonCode, ReasonCode.KeepAliveTimeout);
    assert.equal(talking.isOpen, true);
    await broker.close();
  });

  test('a queued message whose Message Expiry Interval passes while its subscriber is offline is dropped [MQTT-3.3.2-5]', async () => {
    const { broker, clock } = setup();
    const drops: string[] = [];
    broker.events.on('messageDropped', (_id, m, reason) => drops.push(`${m.payload.toString()}: ${reason}`));
    const sub = await connect(broker, 'offline-sub', { clean: false, properties: { sessionExpiryInterval: 600 } });
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'exp', qos: 1 }] });
    await sub.expect('suback');
    await sub.disconnect();
    const pub = mqttInMemory(broker, { clientId: 'exp-pub' });
    await new Promise<void>((resolve) => pub.once('connect', () => resolve()));
    await pub.publishAsync('exp', 'short-lived', { qos: 1, properties: { messageExpiryInterval: 60 } });
    await pub.publishAsync('exp', 'long-lived', { qos: 1, properties: { messageExpiryInterval: 600 } });
    clock.advance(61_000);
    const back = await connect(broker, 'offline-sub', { clean: false, properties: { sessionExpiryInterval: 600 } });
    const got = await back.expect('publish');
    assert.equal(got.payload.toString(), 'long-lived');
    // [MQTT-3.3.2-6] the remaining lifetime is forwarded: 600 − 61 s.
    assert.equal(got.properties?.messageExpiryInterval, 539);
    assert.deepEqual(drops, ['short-lived: expired']);
    await pub.endAsync();
    await broker.close();
  });

  test('a connection that sends no CONNECT is closed after the connect timeout and reported', async () => {
    const { broker, clock } = setup();
    const refused: string[] = [];
    broker.events.on('connectionRefused', (r) => refused.push(r.reason));
    const idle = rawInMemory(broker);
    clock.advance(10_000);
    assert.equal(idle.isOpen, true);
    clock.advance(1_000);
    await idle.closed;
    assert.deepEqual(refused, ['no CONNECT within 10 s']);
    await broker.close();
  });
});
