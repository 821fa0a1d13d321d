import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { IPublishPacket, QoS } from 'mqtt-packet';
import { describeEachBroker, startBroker, type BrokerKind, type TestBroker } from '../helpers/brokers.js';
import { connectClient, end, sleep } from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';

// Sessions (MQTT 5.0 §4.1, §3.1.2.4 Clean Start, §3.1.2.11.2 Session Expiry Interval), session
// takeover [MQTT-3.1.4-3] and the resending of unacknowledged messages on resume [MQTT-4.4.0-1].

interface Open {
  clean?: boolean;
  /** Session Expiry Interval in the CONNECT (MQTT 5 only); absent means 0. */
  expiry?: number;
  version?: 4 | 5;
}

/** Connects a RawClient with Clean Start / CleanSession and Session Expiry Interval as given. */
function open(port: number, clientId: string, o: Open = {}) {
  const version = o.version ?? 5;
  return RawClient.connect(port, {
    clientId,
    clean: o.clean ?? true,
    protocolVersion: version,
    properties: version === 5 && o.expiry !== undefined ? { sessionExpiryInterval: o.expiry } : undefined,
  });
}

/** SUBSCRIBE one filter and wait for a SUBACK granting it. */
async function subscribe(client: RawClient, topic: string, qos: QoS, messageId = 1): Promise<void> {
  client.send({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos }] });
  const suback = await client.expect('suback');
  assert.deepEqual(suback.granted, [qos], `SUBACK grants QoS ${qos} on ${topic}`);
}

/** Waits for the next PUBLISH. */
const nextPublish = (client: RawClient, timeoutMs = 3000) => client.expect('publish', timeoutMs) as Promise<IPublishPacket>;

const text = (p: IPublishPacket) => p.payload.toString();

describeEachBroker('Sessions', (kind) => {
  let b: TestBroker;
  let pub: MqttClient;
  before(async () => {
    b = await startBroker(kind);
    pub = await connectClient(b.url, { clientId: 'session-publisher' });
  });
  after(async () => {
    await end(pub, true);
    await b.close();
  });

  test('MQTT 5 Session Present: 0 new, 1 on resume (Clean Start 0), 0 with Clean Start 1 [MQTT-3.2.2-2], [MQTT-3.2.2-3]', async () => {
    const first = await open(b.port, 'sp-5', { clean: false, expiry: 60 });
    assert.equal(first.connack.sessionPresent, false, 'Clean Start 0 without a session: a new session [MQTT-3.1.2-6]');
    await first.client.disconnect();

    const resumed = await open(b.port, 'sp-5', { clean: false, expiry: 60 });
    assert.equal(resumed.connack.sessionPresent, true, 'Clean Start 0 with a session: resumed [MQTT-3.1.2-5]');
    await resumed.client.disconnect();

    const fresh = await open(b.port, 'sp-5', { clean: true, expiry: 0 });
    assert.equal(fresh.connack.sessionPresent, false, 'Clean Start 1: always 0 [MQTT-3.2.2-2]');
    await fresh.client.disconnect();

    const after0 = await open(b.port, 'sp-5', { clean: false, expiry: 0 });
    assert.equal(after0.connack.sessionPresent, false, 'the session with expiry 0 ended with its connection');
    await after0.client.disconnect();
  });

  test('3.1.1 Session Present: CleanSession=0 resumes (1), CleanSession=1 starts clean (0) [MQTT-3.2.2-1..3 (3.1.1)]', async () => {
    const first = await open(b.port, 'sp-4', { clean: false, version: 4 });
    assert.equal(first.connack.sessionPresent, false);
    await first.client.disconnect();

    const resumed = await open(b.port, 'sp-4', { clean: false, version: 4 });
    assert.equal(resumed.connack.sessionPresent, true);
    await resumed.client.disconnect();

    const fresh = await open(b.port, 'sp-4', { clean: true, version: 4 });
    assert.equal(fresh.connack.sessionPresent, false);
    await fresh.client.disconnect();

    const again = await open(b.port, 'sp-4', { clean: false, version: 4 });
    assert.equal(again.connack.sessionPresent, false, 'a CleanSession=1 session ends with its connection');
    await again.client.disconnect();
  });

  test('Clean Start 1 discards the old session: its subscriptions and queued messages are gone [MQTT-3.1.2-4]', async () => {
    const first = await open(b.port, 'clean-discard', { clean: false, expiry: 60 });
    await subscribe(first.client, 'discard/t', 1);
    await first.client.disconnect();
    await pub.publishAsync('discard/t', 'queued before clean start', { qos: 1 });

    const fresh = await open(b.port, 'clean-discard', { clean: true, expiry: 60 });
    try {
      assert.equal(fresh.connack.sessionPresent, false);
      assert.ok(await fresh.client.nothingWithin('publish', 300), 'the queued message was discarded');
      await pub.publishAsync('discard/t', 'after clean start', { qos: 1 });
      assert.ok(await fresh.client.nothingWithin('publish', 300), 'the old subscription was discarded');
    } finally {
      await fresh.client.disconnect();
    }
  });

  test('Session Expiry Interval 0: the session ends when the connection closes (§3.1.2.11.2)', async () => {
    const first = await open(b.port, 'sei-zero', { clean: false, expiry: 0 });
    await subscribe(first.client, 'sei0/t', 1);
    // An ungraceful close ends the session too.
    first.client.destroy();
    await first.client.closed;
    await sleep(100);
    await pub.publishAsync('sei0/t', 'nobody home', { qos: 1 });

    const again = await open(b.port, 'sei-zero', { clean: false, expiry: 0 });
    try {
      assert.equal(again.connack.sessionPresent, false);
      assert.ok(await again.client.nothingWithin('publish', 300), 'nothing was kept for the ended session');
      if (b.broker) assert.equal(b.broker.sessions.get('sei-zero')?.subscriptions.size, 0);
    } finally {
      await again.client.disconnect();
    }
  });

  // The two timed tests run side by side (distinct client ids and topics) so their waits overlap.
  describe('Session Expiry Interval timing', { concurrency: true }, () => {
    test('Session Expiry Interval 1: the session is kept for 1 s after the connection closes, then discarded [MQTT-3.1.2-23]', async () => {
      const first = await open(b.port, 'sei-one', { clean: false, expiry: 1 });
      await subscribe(first.client, 'sei1/t', 1);
      await first.client.disconnect();

      const soon = await open(b.port, 'sei-one', { clean: false, expiry: 1 });
      assert.equal(soon.connack.sessionPresent, true, 'still there right after the disconnect');
      await pub.publishAsync('sei1/t', 'while resumed', { qos: 1 });
      const got = await nextPublish(soon.client);
      assert.equal(text(got), 'while resumed', 'the subscription came with the session');
      soon.client.send({ cmd: 'puback', messageId: got.messageId!, reasonCode: 0 });
      await soon.client.disconnect();

      // Mosquitto 2.0.11 checks expiry in whole seconds: allow 3 s for a 1 s interval.
      await sleep(3000);
      if (b.broker) assert.equal(b.broker.sessions.has('sei-one'), false, 'the embedded broker has dropped the session');
      const late = await open(b.port, 'sei-one', { clean: false, expiry: 1 });
      try {
        assert.equal(late.connack.sessionPresent, false, 'gone after the interval');
        await pub.publishAsync('sei1/t', 'after expiry', { qos: 1 });
        assert.ok(await late.client.nothingWithin('publish', 300), 'the subscription expired with the session');
      } finally {
        await late.client.disconnect();
      }
    });

    test('Session Expiry Interval 0xFFFFFFFF: the session does not expire (§3.1.2.11.2)', async () => {
      const first = await open(b.port, 'sei-never', { clean: false, expiry: 0xffffffff });
      await subscribe(first.client, 'seinever/t', 1);
      await first.client.disconnect();
      if (b.broker) assert.equal(b.broker.deadlines.has('session:sei-never'), false, 'no expiry is scheduled');
      // Longer than the 1 s session above lived.
      await sleep(2000);
      const again = await open(b.port, 'sei-never', { clean: false, expiry: 0xffffffff });
      try {
        assert.equal(again.connack.sessionPresent, true);
        await pub.publishAsync('seinever/t', 'still subscribed', { qos: 1 });
        assert.equal(text(await nextPublish(again.client)), 'still subscribed');
      } finally {
        // Clean up: end the session for good.
        again.client.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
        await again.client.closedWithin(2000);
      }
    });
  });

  test('a Session Expiry Interval longer than a Node timer (3,000,000 s ≈ 35 days) keeps the session (§3.1.2.11.2)', async () => {
    // The embedded broker runs in this process: with the interval passed to setTimeout as is, Node warns
    // (TimeoutOverflowWarning), fires after 1 ms and the broker re-arms it, over and over.
    let overflows = 0;
    const onWarning = (warning: Error) => {
      if (warning.name === 'TimeoutOverflowWarning') overflows++;
    };
    process.on('warning', onWarning);
    try {
      const first = await open(b.port, 'sei-long', { clean: false, expiry: 3_000_000 });
      await subscribe(first.client, 'seilong/t', 1);
      await first.client.disconnect();
      await sleep(300);
      if (b.broker) {
        assert.equal(b.broker.deadlines.has('session:sei-long'), true, 'the expiry is scheduled');
        assert.equal(overflows, 0, 'no timer overflow');
      }
      const again = await open(b.port, 'sei-long', { clean: false, expiry: 3_000_000 });
      assert.equal(again.connack.sessionPresent, true);
      await pub.publishAsync('seilong/t', 'still here', { qos: 1 });
      assert.equal(text(await nextPublish(again.client)), 'still here');
      again.client.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
      await again.client.closedWithin(2000);
    } finally {
      process.off('warning', onWarning);
    }
  });

  test('subscriptions survive a reconnect with Clean Start 0, without subscribing again [MQTT-3.1.2-5], §4.1', async () => {
    const first = await open(b.port, 'keep-subs', { clean: false, expiry: 60 });
    await subscribe(first.client, 'keep/+/a', 1, 1);
    await subscribe(first.client, 'keep/b/#', 0, 2);
    // Dropped without DISCONNECT: the session stays all the same.
    first.client.destroy();
    await first.client.closed;

    const again = await open(b.port, 'keep-subs', { clean: false, expiry: 60 });
    try {
      assert.equal(again.connack.sessionPresent, true);
      await pub.publishAsync('keep/x/a', 'plus filter', { qos: 1 });
      const got = await nextPublish(again.client);
      assert.equal(got.topic, 'keep/x/a');
      assert.equal(got.qos, 1, 'with the QoS granted before the reconnect');
      again.client.send({ cmd: 'puback', messageId: got.messageId!, reasonCode: 0 });
      await pub.publishAsync('keep/b/c', 'hash filter', { qos: 1 });
      const second = await nextPublish(again.client);
      assert.equal(second.topic, 'keep/b/c');
      assert.equal(second.qos, 0);
    } finally {
      again.client.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
      await again.client.closedWithin(2000);
    }
  });

  test('QoS 1 and 2 messages published while the client is offline are delivered on resume, in order; QoS 0 is not (§4.1)', async () => {
    const first = await open(b.port, 'offline-q', { clean: false, expiry: 60 });
    await subscribe(first.client, 'offline/#', 2);
    await first.client.disconnect();

    await pub.publishAsync('offline/a', 'qos1', { qos: 1 });
    await pub.publishAsync('offline/b', 'qos0', { qos: 0 });
    await pub.publishAsync('offline/c', 'qos2', { qos: 2 });
    await pub.publishAsync('offline/d', 'qos1 again', { qos: 1 });

    const again = await open(b.port, 'offline-q', { clean: false, expiry: 60 });
    try {
      assert.equal(again.connack.sessionPresent, true);
      const got: IPublishPacket[] = [];
      for (let i = 0; i < 3; i++) got.push(await nextPublish(again.client));
      assert.deepEqual(
        got.map((p) => [p.topic, text(p), p.qos]),
        [
          ['offline/a', 'qos1', 1],
          ['offline/c', 'qos2', 2],
          ['offline/d', 'qos1 again', 1],
        ],
      );
      // First deliveries, not retransmissions: DUP=0 [MQTT-3.3.1-2].
      assert.deepEqual(
        got.map((p) => p.dup),
        [false, false, false],
      );
      assert.ok(await again.client.nothingWithin('publish', 300), 'the QoS 0 message was not queued');
      again.client.send({ cmd: 'puback', messageId: got[0]!.messageId!, reasonCode: 0 });
      again.client.send({ cmd: 'pubrec', messageId: got[1]!.messageId!, reasonCode: 0 });
      again.client.send({ cmd: 'puback', messageId: got[2]!.messageId!, reasonCode: 0 });
      const pubrel = await again.client.expect('pubrel');
      assert.equal(pubrel.messageId, got[1]!.messageId);
      again.client.send({ cmd: 'pubcomp', messageId: got[1]!.messageId!, reasonCode: 0 });
    } finally {
      again.client.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
      await again.client.closedWithin(2000);
    }
  });

  test('an unacknowledged QoS 1 PUBLISH is resent on resume, DUP=1, same Packet Identifier [MQTT-4.4.0-1], [MQTT-3.3.1-1]', async () => {
    const first = await open(b.port, 'resend-1', { clean: false, expiry: 60 });
    await subscribe(first.client, 'resend/1', 1);
    await pub.publishAsync('resend/1', 'ack me', { qos: 1 });
    const original = await nextPublish(first.client);
    assert.equal(original.dup, false);
    // No PUBACK: drop the connection.
    first.client.destroy();
    await first.client.closed;

    const again = await open(b.port, 'resend-1', { clean: false, expiry: 60 });
    try {
      assert.equal(again.connack.sessionPresent, true);
      const resent = await nextPublish(again.client);
      assert.equal(resent.dup, true, 'DUP=1 on the retransmission');
      assert.equal(resent.messageId, original.messageId, 'the original Packet Identifier');
      assert.equal(resent.qos, 1);
      assert.equal(resent.topic, 'resend/1');
      assert.equal(text(resent), 'ack me');
      again.client.send({ cmd: 'puback', messageId: resent.messageId!, reasonCode: 0 });
      assert.ok(await again.client.nothingWithin('publish', 300), 'sent once more only');
    } finally {
      again.client.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
      await again.client.closedWithin(2000);
    }
  });

  test('on resume, unacknowledged PUBLISHes are resent within the Receive Maximum, as now set [MQTT-4.4.0-1], [MQTT-3.3.4-9]', async () => {
    const first = await open(b.port, 'resend-window', { clean: false, expiry: 60 });
    await subscribe(first.client, 'resend/window', 1);
    for (let i = 0; i < 5; i++) await pub.publishAsync('resend/window', `m${i}`, { qos: 1 });
    for (let i = 0; i < 5; i++) await nextPublish(first.client);
    // Five unacknowledged; the client comes back allowing only 2 in flight.
    first.client.destroy();
    await first.client.closed;
    const again = await RawClient.connect(b.port, {
      clientId: 'resend-window',
      clean: false,
      properties: { sessionExpiryInterval: 60, receiveMaximum: 2 },
    });
    try {
      assert.equal(again.connack.sessionPresent, true);
      const a = await nextPublish(again.client);
      const c = await nextPublish(again.client);
      if (kind === 'mosquitto') {
        // Mosquitto 2.0.11 deviates from [MQTT-3.3.4-9]: it resends all five at once, beyond the
        // Receive Maximum of 2 the client just announced.
        for (let i = 0; i < 3; i++) assert.equal((await nextPublish(again.client)).dup, true);
      } else {
        assert.deepEqual([text(a), text(c), a.dup, c.dup], ['m0', 'm1', true, true]);
        assert.ok(await again.client.nothingWithin('publish', 300), 'no third PUBLISH while two are unacknowledged');
        again.client.send({ cmd: 'puback', messageId: a.messageId!, reasonCode: 0 });
        const next = await nextPublish(again.client);
        assert.deepEqual([text(next), next.dup], ['m2', true], 'each PUBACK lets the next resend out');
      }
    } finally {
      again.client.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
      await again.client.closedWithin(2000);
    }
  });

  test('an acknowledged QoS 1 PUBLISH is not resent on resume [MQTT-4.4.0-1]', async () => {
    const first = await open(b.port, 'no-resend', { clean: false, expiry: 60 });
    await subscribe(first.client, 'noresend/1', 1);
    await pub.publishAsync('noresend/1', 'acked', { qos: 1 });
    const got = await nextPublish(first.client);
    first.client.send({ cmd: 'puback', messageId: got.messageId!, reasonCode: 0 });
    await sleep(100);
    first.client.destroy();
    await first.client.closed;

    const again = await open(b.port, 'no-resend', { clean: false, expiry: 60 });
    try {
      assert.equal(again.connack.sessionPresent, true);
      assert.ok(await again.client.nothingWithin('publish', 500));
    } finally {
      again.client.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
      await again.client.closedWithin(2000);
    }
  });

  test('an unacknowledged QoS 2 PUBLISH (no PUBREC) is resent on resume with DUP=1, same Packet Identifier [MQTT-4.4.0-1]', async () => {
    const first = await open(b.port, 'resend-2', { clean: false, expiry: 60 });
    await subscribe(first.client, 'resend/2', 2);
    await pub.publishAsync('resend/2', 'exactly once', { qos: 2 });
    const original = await nextPublish(first.client);
    assert.equal(original.qos, 2);
    first.client.destroy();
    await first.client.closed;

    const again = await open(b.port, 'resend-2', { clean: false, expiry: 60 });
    try {
      const resent = await nextPublish(again.client);
      assert.equal(resent.dup, true);
      assert.equal(resent.messageId, original.messageId);
      assert.equal(resent.qos, 2);
      again.client.send({ cmd: 'pubrec', messageId: resent.messageId!, reasonCode: 0 });
      const pubrel = await again.client.expect('pubrel');
      assert.equal(pubrel.messageId, original.messageId);
      again.client.send({ cmd: 'pubcomp', messageId: resent.messageId!, reasonCode: 0 });
    } finally {
      again.client.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
      await again.client.closedWithin(2000);
    }
  });

  test('a QoS 2 message whose PUBREC was sent resumes with PUBREL, not the PUBLISH [MQTT-4.4.0-1]', async () => {
    const first = await open(b.port, 'resume-pubrel', { clean: false, expiry: 60 });
    await subscribe(first.client, 'resume/pubrel', 2);
    await pub.publishAsync('resume/pubrel', 'half way', { qos: 2 });
    const original = await nextPublish(first.client);
    first.client.send({ cmd: 'pubrec', messageId: original.messageId!, reasonCode: 0 });
    const firstPubrel = await first.client.expect('pubrel');
    assert.equal(firstPubrel.messageId, original.messageId);
    // No PUBCOMP: drop the connection.
    first.client.destroy();
    await first.client.closed;

    const again = await open(b.port, 'resume-pubrel', { clean: false, expiry: 60 });
    try {
      assert.equal(again.connack.sessionPresent, true);
      const pubrel = await again.client.expect('pubrel');
      assert.equal(pubrel.messageId, original.messageId, 'PUBREL with the original Packet Identifier');
      assert.equal(again.client.all('publish').length, 0, 'the PUBLISH is not sent again');
      again.client.send({ cmd: 'pubcomp', messageId: original.messageId!, reasonCode: 0 });
      assert.ok(await again.client.nothingWithin('publish', 300));
      assert.equal(again.client.all('pubrel').length, 1);
    } finally {
      again.client.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
      await again.client.closedWithin(2000);
    }
  });

  test('3.1.1: an unacknowledged QoS 1 PUBLISH is resent on resume with DUP=1, same Packet Identifier [MQTT-4.4.0-1 (3.1.1)]', async () => {
    const first = await open(b.port, 'resend-311', { clean: false, version: 4 });
    await subscribe(first.client, 'resend/311', 1);
    await pub.publishAsync('resend/311', 'old protocol', { qos: 1 });
    const original = await nextPublish(first.client);
    first.client.destroy();
    await first.client.closed;

    const again = await open(b.port, 'resend-311', { clean: false, version: 4 });
    try {
      assert.equal(again.connack.sessionPresent, true);
      const resent = await nextPublish(again.client);
      assert.equal(resent.dup, true);
      assert.equal(resent.messageId, original.messageId);
      again.client.send({ cmd: 'puback', messageId: resent.messageId! });
    } finally {
      await again.client.disconnect();
      // CleanSession=1 ends the session.
      const cleanup = await open(b.port, 'resend-311', { clean: true, version: 4 });
      await cleanup.client.disconnect();
    }
  });

  test('3.1.1: CleanSession=0 keeps the session: subscriptions and messages published while offline [MQTT-3.1.2-4 (3.1.1)]', async () => {
    const first = await open(b.port, 'keep-311', { clean: false, version: 4 });
    await subscribe(first.client, 'keep311/t', 1);
    await first.client.disconnect();
    await pub.publishAsync('keep311/t', 'while away', { qos: 1 });

    const again = await open(b.port, 'keep-311', { clean: false, version: 4 });
    try {
      assert.equal(again.connack.sessionPresent, true);
      const got = await nextPublish(again.client);
      assert.equal(text(got), 'while away');
      again.client.send({ cmd: 'puback', messageId: got.messageId! });
    } finally {
      await again.client.disconnect();
      const cleanup = await open(b.port, 'keep-311', { clean: true, version: 4 });
      await cleanup.client.disconnect();
    }
  });

  test('DISCONNECT with a Session Expiry Interval after CONNECT had 0 is a Protocol Error; the session ends [MQTT-3.14.2-2]', async () => {
    const { client } = await open(b.port, 'sei-disconnect-bad', { clean: false, expiry: 0 });
    await subscribe(client, 'seibad/t', 1);
    client.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 60 } });
    assert.ok(await client.closedWithin(2000), 'the connection is closed');
    const disconnects = client.all('disconnect');
    assert.equal(disconnects.length, 1, 'the server answers with a DISCONNECT');
    assert.equal(disconnects[0]!.reasonCode, 0x82, 'Protocol Error');

    const again = await open(b.port, 'sei-disconnect-bad', { clean: false, expiry: 0 });
    try {
      assert.equal(again.connack.sessionPresent, false, 'the expiry was not extended to 60 s');
    } finally {
      await again.client.disconnect();
    }
  });

  test('DISCONNECT with Session Expiry Interval 0 ends a session that CONNECT asked to keep (§3.14.2.2.2)', async () => {
    const { client } = await open(b.port, 'sei-disconnect-zero', { clean: false, expiry: 60 });
    await subscribe(client, 'seizero/t', 1);
    client.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
    assert.ok(await client.closedWithin(2000));
    assert.equal(client.all('disconnect').length, 0, 'the server sends nothing after a client DISCONNECT [MQTT-3.14.4-1]');

    const again = await open(b.port, 'sei-disconnect-zero', { clean: false, expiry: 60 });
    try {
      assert.equal(again.connack.sessionPresent, false);
    } finally {
      again.client.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
      await again.client.closedWithin(2000);
    }
  });
});

describeEachBroker('Offline queue limit', (kind) => {
  test('the offline queue is bounded: messages beyond the limit are dropped, the first ones delivered (§4.1)', async () => {
    const b = await startBroker(kind, { embedded: { maxQueuedMessages: 3 }, mosquitto: ['max_queued_messages 3'] });
    const pub = await connectClient(b.url, { clientId: 'queue-publisher' });
    try {
      const first = await open(b.port, 'queue-limit', { clean: false, expiry: 60 });
      await subscribe(first.client, 'queue/t', 1);
      await first.client.disconnect();
      for (let i = 0; i < 6; i++) await pub.publishAsync('queue/t', `m${i}`, { qos: 1 });

      const again = await open(b.port, 'queue-limit', { clean: false, expiry: 60 });
      assert.equal(again.connack.sessionPresent, true);
      const got: string[] = [];
      for (;;) {
        let p: IPublishPacket;
        try {
          p = await nextPublish(again.client, 500);
        } catch {
          break;
        }
        got.push(text(p));
        again.client.send({ cmd: 'puback', messageId: p.messageId!, reasonCode: 0 });
        if (got.length > 6) break;
      }
      assert.deepEqual(got, ['m0', 'm1', 'm2']);
      // The queue works again once drained.
      await pub.publishAsync('queue/t', 'after', { qos: 1 });
      assert.equal(text(await nextPublish(again.client)), 'after');
      await again.client.disconnect();
    } finally {
      await end(pub, true);
      await b.close();
    }
  });
});

/**
 * What the taken-over MQTT 5 connection received before its close. [MQTT-3.1.4-3]: the server sends it
 * DISCONNECT 0x8E (Session taken over) and closes it. Mosquitto 2.0.11 closes it without the DISCONNECT.
 */
function assertTakenOver(kind: BrokerKind, old: RawClient): void {
  const disconnects = old.all('disconnect');
  if (kind === 'mosquitto') {
    assert.equal(disconnects.length, 0, 'Mosquitto 2.0.11 sends no DISCONNECT 0x8E (deviation from [MQTT-3.1.4-3])');
  } else {
    assert.equal(disconnects.length, 1, 'a DISCONNECT before the close');
    assert.equal(disconnects[0]!.reasonCode, 0x8e, 'Session taken over');
  }
}

describeEachBroker('Session takeover', (kind) => {
  let b: TestBroker;
  let pub: MqttClient;
  before(async () => {
    b = await startBroker(kind);
    pub = await connectClient(b.url, { clientId: 'takeover-publisher' });
  });
  after(async () => {
    await end(pub, true);
    await b.close();
  });

  test('MQTT 5: a second connection with the same client id gets the session; the first gets DISCONNECT 0x8E [MQTT-3.1.4-3]', async () => {
    const old = await open(b.port, 'takeover-5', { clean: false, expiry: 60 });
    await subscribe(old.client, 'takeover/5', 1);
    const next = await open(b.port, 'takeover-5', { clean: false, expiry: 60 });
    try {
      assert.equal(next.connack.reasonCode, 0);
      assert.equal(next.connack.sessionPresent, true, 'the session moves to the new connection');
      assert.ok(await old.client.closedWithin(2000), 'the old connection is closed');
      assertTakenOver(kind, old.client);
      await pub.publishAsync('takeover/5', 'to the new one', { qos: 1 });
      assert.equal(text(await nextPublish(next.client)), 'to the new one');
      assert.ok(next.client.isOpen, 'the new connection stays');
    } finally {
      next.client.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
      await next.client.closedWithin(2000);
    }
  });

  test('MQTT 5: a takeover with Clean Start 1 closes the old connection, starts a new session [MQTT-3.1.4-3], [MQTT-3.1.2-4]', async () => {
    const old = await open(b.port, 'takeover-clean', { clean: false, expiry: 60 });
    await subscribe(old.client, 'takeover/clean', 1);
    const next = await open(b.port, 'takeover-clean', { clean: true });
    try {
      assert.equal(next.connack.sessionPresent, false);
      assert.ok(await old.client.closedWithin(2000));
      assertTakenOver(kind, old.client);
      await pub.publishAsync('takeover/clean', 'old subscription', { qos: 1 });
      assert.ok(await next.client.nothingWithin('publish', 300), 'the old session and its subscription are gone');
    } finally {
      await next.client.disconnect();
    }
  });

  test('a taken-over session with Session Expiry 0 ends with the old link: Session Present 0 [MQTT-3.1.4-3], §3.1.2.11.2', async () => {
    const old = await open(b.port, 'takeover-sei0', { clean: false, expiry: 0 });
    await subscribe(old.client, 'takeover/sei0', 1);
    const next = await open(b.port, 'takeover-sei0', { clean: false, expiry: 60 });
    try {
      assert.equal(next.connack.sessionPresent, false);
      assert.ok(await old.client.closedWithin(2000));
      await pub.publishAsync('takeover/sei0', 'old subscription', { qos: 1 });
      assert.ok(await next.client.nothingWithin('publish', 300), 'the old subscription ended with its session');
    } finally {
      next.client.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
      await next.client.closedWithin(2000);
    }
  });

  test('3.1.1: a second connection with the same client id closes the first without a packet [MQTT-3.1.4-2 (3.1.1)]', async () => {
    const old = await open(b.port, 'takeover-4', { clean: false, version: 4 });
    await subscribe(old.client, 'takeover/4', 1);
    const next = await open(b.port, 'takeover-4', { clean: false, version: 4 });
    try {
      assert.equal(next.connack.returnCode, 0);
      assert.equal(next.connack.sessionPresent, true);
      assert.ok(await old.client.closedWithin(2000));
      assert.deepEqual(
        old.client.received.map((p) => p.cmd),
        ['connack', 'suback'],
      );
      await pub.publishAsync('takeover/4', 'moved', { qos: 1 });
      assert.equal(text(await nextPublish(next.client)), 'moved');
    } finally {
      await next.client.disconnect();
      const cleanup = await open(b.port, 'takeover-4', { clean: true, version: 4 });
      await cleanup.client.disconnect();
    }
  });

  test('a takeover with an MQTT 5 client replacing a 3.1.1 one: the 3.1.1 connection closes without a packet [MQTT-3.1.4-3]', async () => {
    const old = await open(b.port, 'takeover-mixed', { clean: true, version: 4 });
    const next = await open(b.port, 'takeover-mixed', { clean: true, version: 5 });
    try {
      assert.equal(next.connack.reasonCode, 0);
      assert.ok(await old.client.closedWithin(2000));
      assert.deepEqual(
        old.client.received.map((p) => p.cmd),
        ['connack'],
      );
    } finally {
      await next.client.disconnect();
    }
  });
});
