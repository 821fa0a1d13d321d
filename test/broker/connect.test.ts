import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { describeEachBroker, startBroker, type TestBroker } from '../helpers/brokers.js';
import { RawClient } from '../helpers/raw-client.js';

describeEachBroker('CONNECT and CONNACK', (kind) => {
  let b: TestBroker;
  before(async () => (b = await startBroker(kind)));
  after(() => b.close());

  test('an empty client id gets an Assigned Client Identifier in CONNACK [MQTT-3.2.2-16]', async () => {
    const { client, connack } = await RawClient.connect(b.port, { clientId: '' });
    assert.equal(connack.reasonCode, 0);
    assert.equal(typeof connack.properties?.assignedClientIdentifier, 'string');
    assert.ok(connack.properties!.assignedClientIdentifier!.length > 0);
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

  test('a second CONNECT on one connection is a protocol error [MQTT-3.1.0-2]', async () => {
    const { client } = await RawClient.connect(b.port, { clientId: 'twice' });
    client.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'twice' });
    assert.ok(await client.closedWithin(2000));
    const disconnect = client.all('disconnect')[0];
    if (disconnect) assert.equal(disconnect.reasonCode, 0x82);
  });
});
