import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { describeEachBroker, startBroker, type TestBroker } from '../helpers/brokers.js';
import { sleep } from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';

/**
 * A CONNECT written byte by byte (mqtt-packet refuses unknown names and levels and the reserved flag):
 * protocol name, level, connect flags, keep alive 0, an empty property block when `properties`
 * (MQTT 5 layout), then the client id.
 */
function connectBytes(o: { name?: string; level?: number; flags?: number; clientId?: string; properties?: boolean }): Buffer {
  const name = Buffer.from(o.name ?? 'MQTT');
  const id = Buffer.from(o.clientId ?? 'raw');
  const level = o.level ?? 5;
  const body = Buffer.from([
    0x00,
    name.length,
    ...name,
    level,
    o.flags ?? 0x02, // Clean Start / CleanSession only
    0x00,
    0x00, // keep alive 0
    ...((o.properties ?? level === 5) ? [0x00] : []), // Property Length 0
    0x00,
    id.length,
    ...id,
  ]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

/** Writes bytes on a fresh socket and collects what comes back until the broker closes it or `waitMs` passes. */
async function exchange(port: number, bytes: Buffer, waitMs = 3000): Promise<{ data: Buffer; closed: boolean }> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  // Not events.once: an 'error' (a reset from the broker) would reject it; a reset is a close here.
  const closedPromise = new Promise<boolean>((resolve) => socket.once('close', () => resolve(true)));
  await once(socket, 'connect');
  socket.write(bytes);
  const closed = await Promise.race([closedPromise, sleep(waitMs).then(() => false)]);
  socket.destroy();
  return { data: Buffer.concat(chunks), closed };
}

/** A 3.1.1-form CONNACK: session present 0 and the return code. */
const connack311 = (returnCode: number) => Buffer.from([0x20, 0x02, 0x00, returnCode]);

describeEachBroker('CONNECT and CONNACK', (kind) => {
  let b: TestBroker;
  before(async () => (b = await startBroker(kind)));
  after(() => b.close());

  test('an unsupported protocol level (6) gets CONNACK "unacceptable protocol version", then the close [MQTT-3.1.2-2]', async () => {
    const { data, closed } = await exchange(b.port, connectBytes({ level: 6, clientId: 'level-6' }));
    assert.ok(closed, 'the server closes the connection');
    // [MQTT-3.1.2-2] the server MAY answer 0x84 and MUST close. A client of an unknown level can only be
    // expected to read the 3.1.1 form, so both brokers answer return code 1 (unacceptable protocol version).
    assert.deepEqual(data, connack311(1));
  });

  test('3.1.1 level 3 with the protocol name "MQTT" is refused with return code 1 [MQTT-3.1.2-2]', async () => {
    // Level 3 belongs to the name "MQIsdp" (MQTT 3.1); under "MQTT" it is not a supported level.
    const { data, closed } = await exchange(b.port, connectBytes({ level: 3, clientId: 'mqtt-level-3' }));
    assert.ok(closed, 'the server closes the connection');
    assert.deepEqual(data, connack311(1));
  });

  test('a protocol name other than "MQTT" closes the connection without a CONNACK [MQTT-3.1.2-1]', async () => {
    const { data, closed } = await exchange(b.port, connectBytes({ name: 'MQTX', level: 4, clientId: 'mqtx' }));
    assert.ok(closed, 'the server closes the connection');
    assert.equal(data.length, 0, 'nothing is sent back');
  });

  test('reserved connect flag bit 0 set closes the connection, in MQTT 5 and 3.1.1 [MQTT-3.1.2-3]', async () => {
    for (const level of [5, 4]) {
      const { data, closed } = await exchange(b.port, connectBytes({ level, flags: 0x03, clientId: `reserved-${level}` }));
      assert.ok(closed, `level ${level}: the server closes the connection`);
      // §4.13.1 allows a CONNACK 0x81 first; neither broker sends one.
      assert.equal(data.length, 0, `level ${level}: nothing is sent back`);
    }
  });

  test('a CONNECT with the reserved flag is not processed: it does not take over the live client with that id [MQTT-3.1.2-3]', async () => {
    const { client: live } = await RawClient.connect(b.port, { clientId: 'reserved-victim' });
    try {
      const { closed } = await exchange(b.port, connectBytes({ flags: 0x03, clientId: 'reserved-victim' }));
      assert.ok(closed);
      assert.equal(await live.closedWithin(500), false, 'the live client is still connected');
      live.send({ cmd: 'pingreq' });
      await live.expect('pingresp');
      assert.equal(live.all('disconnect').length, 0);
    } finally {
      live.destroy();
    }
  });

  test('a first packet other than CONNECT closes the connection and is not answered [MQTT-3.1.0-1]', async () => {
    // PINGREQ: 0xC0, Remaining Length 0.
    const ping = await exchange(b.port, Buffer.from([0xc0, 0x00]));
    assert.ok(ping.closed, 'PINGREQ first: closed');
    assert.equal(ping.data.length, 0, 'PINGREQ first: no PINGRESP');
    // SUBSCRIBE: 0x82, packet id 1, filter "a/#", QoS 0 (3.1.1 layout).
    const sub = await exchange(b.port, Buffer.from([0x82, 0x08, 0x00, 0x01, 0x00, 0x03, 0x61, 0x2f, 0x23, 0x00]));
    assert.ok(sub.closed, 'SUBSCRIBE first: closed');
    assert.equal(sub.data.length, 0, 'SUBSCRIBE first: no SUBACK');
  });

  test('an empty client id gets an Assigned Client Identifier in CONNACK [MQTT-3.2.2-16]', async () => {
    const { client, connack } = await RawClient.connect(b.port, { clientId: '' });
    assert.equal(connack.reasonCode, 0);
    assert.equal(typeof connack.properties?.assignedClientIdentifier, 'string');
    assert.ok(connack.properties!.assignedClientIdentifier!.length > 0);
    await client.disconnect();
  });

  test('two clients with empty ids get different assigned ids and both stay connected [MQTT-3.1.3-6]', async () => {
    const one = await RawClient.connect(b.port, { clientId: '' });
    const two = await RawClient.connect(b.port, { clientId: '' });
    try {
      const a = one.connack.properties?.assignedClientIdentifier;
      const c = two.connack.properties?.assignedClientIdentifier;
      assert.ok(a && c);
      assert.notEqual(a, c);
      assert.equal(await one.client.closedWithin(300), false, 'the first is not taken over by the second');
    } finally {
      one.client.destroy();
      two.client.destroy();
    }
  });

  test('MQTT 5: an empty client id with Clean Start 0 is accepted with an assigned id and no session present [MQTT-3.1.3-6]', async () => {
    // mqtt-packet refuses to encode an empty client id with Clean Start 0, so the CONNECT is written by hand.
    const client = await RawClient.open(b.port, 5);
    client.sendBytes(connectBytes({ level: 5, flags: 0x00, clientId: '' }));
    const connack = await client.expect('connack');
    assert.equal(connack.reasonCode, 0);
    assert.equal(connack.sessionPresent, false);
    assert.ok(connack.properties?.assignedClientIdentifier);
    await client.disconnect();
  });

  test('3.1.1: an empty client id with CleanSession=1 is accepted, without an assigned id [MQTT-3.1.3-7]', async () => {
    const { client, connack } = await RawClient.connect(b.port, { clientId: '', clean: true, protocolVersion: 4 });
    assert.equal(connack.returnCode, 0);
    assert.equal(connack.sessionPresent, false);
    assert.equal(connack.properties, undefined, '3.1.1 CONNACK has no properties');
    await client.disconnect();
  });

  test('3.1.1: an empty client id with CleanSession=0 is rejected with return code 2 [MQTT-3.1.3-8]', async () => {
    // mqtt-packet refuses to encode this CONNECT, so the bytes are written by hand:
    // fixed header, "MQTT", level 4, flags 0 (CleanSession=0), keep alive 0, empty client id.
    const client = await RawClient.open(b.port, 4);
    client.sendBytes([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00]);
    const connack = await client.expect('connack');
    assert.equal(connack.returnCode, 2);
    assert.ok(await client.closedWithin(2000));
  });

  test('MQTT 3.1 ("MQIsdp", level 3): a client id is accepted, an empty one is rejected with return code 2 (3.1 §3.1)', async () => {
    // MQTT 3.1 requires a Client Identifier of 1 to 23 characters and has no server-assigned ids.
    // mqtt-packet refuses to encode an empty 3.1 client id, so these CONNECTs are written by hand.
    const named = await exchange(b.port, connectBytes({ name: 'MQIsdp', level: 3, clientId: 'v31-client' }), 500);
    assert.deepEqual(named.data, connack311(0), 'accepted');
    assert.equal(named.closed, false, 'and kept open');
    const empty = await exchange(b.port, connectBytes({ name: 'MQIsdp', level: 3, clientId: '' }));
    assert.deepEqual(empty.data, connack311(2), 'identifier rejected');
    assert.ok(empty.closed, 'and closed');
  });

  test('a second CONNECT on one connection is a protocol error: DISCONNECT 0x82 and close [MQTT-3.1.0-2]', async () => {
    const { client } = await RawClient.connect(b.port, { clientId: 'twice' });
    client.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'twice' });
    assert.ok(await client.closedWithin(2000), 'the server closes the connection');
    assert.equal(client.all('connack').length, 1, 'the second CONNECT is not answered with a CONNACK');
    const disconnects = client.all('disconnect');
    if (kind === 'mosquitto') {
      // Mosquitto 2.0.11 closes without a DISCONNECT. Allowed: the DISCONNECT before closing on a
      // Protocol Error is a MAY for the server (§4.13.2 [MQTT-4.13.2-1] only binds it when it sends one).
      assert.equal(disconnects.length, 0);
    } else {
      assert.equal(disconnects.length, 1);
      assert.equal(disconnects[0]!.reasonCode, 0x82);
    }
  });

  test('3.1.1: a second CONNECT closes the connection without a reply [MQTT-3.1.0-2]', async () => {
    const { client } = await RawClient.connect(b.port, { clientId: 'twice-311', protocolVersion: 4 });
    client.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'twice-311' });
    assert.ok(await client.closedWithin(2000));
    assert.deepEqual(
      client.received.map((p) => p.cmd),
      ['connack'],
    );
  });
});

describeEachBroker('CONNACK properties (MQTT 5)', (kind) => {
  test('CONNACK announces Receive Maximum and Topic Alias Maximum as configured (§3.2.2.3.3, §3.2.2.3.8)', async () => {
    const b = await startBroker(kind, {
      embedded: { receiveMaximum: 12, topicAliasMaximum: 7 },
      mosquitto: ['max_inflight_messages 12', 'max_topic_alias 7'],
    });
    try {
      const { client, connack } = await RawClient.connect(b.port, { clientId: 'props-limits' });
      assert.equal(connack.reasonCode, 0);
      assert.equal(connack.properties?.receiveMaximum, 12);
      assert.equal(connack.properties?.topicAliasMaximum, 7);
      await client.disconnect();
    } finally {
      await b.close();
    }
  });

  test('CONNACK does not deny retain, wildcard, subscription identifier or shared subscriptions (§3.2.2.3.5, .11-.13)', async () => {
    const b = await startBroker(kind);
    try {
      const { client, connack } = await RawClient.connect(b.port, { clientId: 'props-available', keepalive: 30 });
      const p = connack.properties ?? {};
      if (kind !== 'mosquitto') {
        // The embedded broker says so explicitly.
        assert.equal(p.retainAvailable, true);
        assert.equal(p.wildcardSubscriptionAvailable, true);
        assert.equal(p.subscriptionIdentifiersAvailable, true);
        assert.equal(p.sharedSubscriptionAvailable, true);
      } else {
        // Mosquitto leaves them out, which means "available" (absent = supported).
        assert.equal(p.retainAvailable, undefined);
        assert.equal(p.wildcardSubscriptionAvailable, undefined);
        assert.equal(p.subscriptionIdentifiersAvailable, undefined);
        assert.equal(p.sharedSubscriptionAvailable, undefined);
      }
      // No Maximum QoS below 2; a Maximum Packet Size only from us: our default of 1 MiB (Mosquitto has none).
      assert.equal(p.maximumQoS, undefined);
      assert.equal(p.maximumPacketSize, kind !== 'mosquitto' ? 1024 * 1024 : undefined);
      assert.equal(p.serverKeepAlive, undefined, 'no Server Keep Alive when the client keep alive is acceptable');
      await client.disconnect();
    } finally {
      await b.close();
    }
  });

  test('keep alive 0 without a configured maximum: what CONNACK says (§3.2.2.3.14)', async () => {
    const b = await startBroker(kind);
    try {
      const { client, connack } = await RawClient.connect(b.port, { clientId: 'ska-default-zero', keepalive: 0 });
      assert.equal(connack.reasonCode, 0);
      if (kind === 'mosquitto') {
        // Mosquitto 2.0.11 counts keep alive 0 as above its default max_keepalive 65535 and returns Server
        // Keep Alive 65535. Allowed: the server may always set Server Keep Alive [MQTT-3.2.2-21].
        assert.equal(connack.properties?.serverKeepAlive, 65535);
      } else {
        // The embedded broker leaves keep alive off, as the client asked (§3.1.2.10).
        assert.equal(connack.properties?.serverKeepAlive, undefined);
      }
      await client.disconnect();
    } finally {
      await b.close();
    }
  });

  test('CONNACK announces Maximum Packet Size when one is configured (§3.2.2.3.6)', async () => {
    const b = await startBroker(kind, { embedded: { maximumPacketSize: 4096 }, mosquitto: ['max_packet_size 4096'] });
    try {
      const { client, connack } = await RawClient.connect(b.port, { clientId: 'props-mps' });
      assert.equal(connack.properties?.maximumPacketSize, 4096);
      await client.disconnect();
    } finally {
      await b.close();
    }
  });

  test('a keep alive above the server maximum is replaced by Server Keep Alive in CONNACK [MQTT-3.2.2-21]', async () => {
    const b = await startBroker(kind, { embedded: { maxKeepalive: 10 }, mosquitto: ['max_keepalive 10'] });
    try {
      const high = await RawClient.connect(b.port, { clientId: 'ska-high', keepalive: 60 });
      assert.equal(high.connack.reasonCode, 0);
      assert.equal(high.connack.properties?.serverKeepAlive, 10);
      await high.client.disconnect();

      const low = await RawClient.connect(b.port, { clientId: 'ska-low', keepalive: 5 });
      assert.equal(low.connack.reasonCode, 0);
      assert.equal(low.connack.properties?.serverKeepAlive, undefined, 'a keep alive within the maximum is left alone');
      await low.client.disconnect();

      // Keep alive 0 (no limit) is also above any maximum [MQTT-3.2.2-21].
      const zero = await RawClient.connect(b.port, { clientId: 'ska-zero', keepalive: 0 });
      assert.equal(zero.connack.reasonCode, 0);
      assert.equal(zero.connack.properties?.serverKeepAlive, 10);
      await zero.client.disconnect();
    } finally {
      await b.close();
    }
  });
  test('a CONNECT with an Authentication Method we do not offer gets CONNACK 0x8C Bad authentication method (§4.12)', async () => {
    const b = await startBroker(kind);
    try {
      const { client, connack } = await RawClient.connect(b.port, {
        clientId: 'auth-method',
        properties: { authenticationMethod: 'SCRAM-SHA-1' },
      });
      assert.equal(connack.reasonCode, 0x8c);
      assert.ok(await client.closedWithin(2000));
    } finally {
      await b.close();
    }
  });
});
