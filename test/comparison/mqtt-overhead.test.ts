import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { expectedPublishSize, measureMqttOverhead, type MqttOverhead } from '../../src/comparison/mqtt-overhead.js';
import { splitMqtt } from '../../src/comparison/wire-counter.js';
import { describeEachBroker, startBroker, type TestBroker } from '../helpers/brokers.js';

// Topic sensors/temperature/room1 is 25 bytes; client ids room1-sensor (12) and room1-display (13).
describeEachBroker('comparison: MQTT bytes counted on the socket', (kind) => {
  let b: TestBroker;
  let r: MqttOverhead;
  before(async () => {
    b = await startBroker(kind);
    r = await measureMqttOverhead(b.port, kind);
  });
  after(() => b.close());

  const find = (version: '3.1.1' | '5.0', qos: 0 | 1 | 2, size: number) =>
    r.publishes.find((p) => p.version === version && p.qos === qos && p.payloadBytes === size && !p.topicAlias)!;
  const sizes = (rows: Array<{ type: string; bytes: number }>) => rows.map((x) => `${x.type.replace(/ \(.*\)/, '')} ${x.bytes}`);

  test('MQTT 3.1.1 QoS 0 PUBLISH, 16-byte payload: 2 + 2 + 25 + 16 = 45 bytes on both connections', () => {
    const p = find('3.1.1', 0, 16);
    assert.deepEqual(sizes(p.publisher.packets), ['PUBLISH 45']);
    assert.deepEqual(sizes(p.subscriber.packets), ['PUBLISH 45']);
  });

  test('a 256-byte payload needs a 2-byte Remaining Length (283 > 127): 1 + 2 + 2 + 25 + 256 = 286', () => {
    assert.deepEqual(sizes(find('3.1.1', 0, 256).publisher.packets), ['PUBLISH 286']);
    assert.deepEqual(sizes(find('5.0', 0, 256).publisher.packets), ['PUBLISH 287']);
  });

  test('QoS 1 adds a 2-byte packet id and a 4-byte PUBACK each side: 47 + 4', () => {
    const p = find('3.1.1', 1, 16);
    assert.deepEqual(sizes(p.publisher.packets), ['PUBLISH 47', 'PUBACK 4']);
    assert.deepEqual(sizes(p.subscriber.packets), ['PUBLISH 47', 'PUBACK 4']);
    assert.equal(p.total, 102);
  });

  test('QoS 2 is PUBLISH + PUBREC + PUBREL + PUBCOMP (4 bytes each ack) on each side: 47 + 12 = 59 [MQTT-4.3.3]', () => {
    const p = find('3.1.1', 2, 16);
    assert.deepEqual(sizes(p.publisher.packets), ['PUBLISH 47', 'PUBREC 4', 'PUBREL 4', 'PUBCOMP 4']);
    assert.deepEqual(sizes(p.subscriber.packets), ['PUBLISH 47', 'PUBREC 4', 'PUBREL 4', 'PUBCOMP 4']);
  });

  test('MQTT 5.0 adds a 1-byte Property Length: 46 / 48; success acks stay 4 bytes (reason code omitted, §3.4.2.1)', () => {
    assert.deepEqual(sizes(find('5.0', 0, 16).publisher.packets), ['PUBLISH 46']);
    assert.deepEqual(sizes(find('5.0', 1, 16).subscriber.packets), ['PUBLISH 48', 'PUBACK 4']);
    // The broker's PUBREL to the subscriber: 4 bytes when it omits Reason Code 0x00 and Property Length (§3.6.2.1).
    assert.deepEqual(sizes(find('5.0', 2, 16).subscriber.packets), ['PUBLISH 48', 'PUBREC 4', 'PUBREL 4', 'PUBCOMP 4']);
    assert.deepEqual(sizes(find('5.0', 2, 16).publisher.packets), ['PUBLISH 48', 'PUBREC 4', 'PUBREL 4', 'PUBCOMP 4']);
  });

  test('every counted PUBLISH matches the size the spec gives (expectedPublishSize)', () => {
    for (const p of r.publishes.filter((x) => !x.topicAlias)) {
      assert.equal(
        p.publisher.packets[0]!.bytes,
        expectedPublishSize(p.version, 25, p.payloadBytes, p.qos),
        `${p.version} QoS ${p.qos} ${p.payloadBytes}`,
      );
    }
  });

  test('Topic Alias: first use 46 + 3 (alias property) = 49, then empty topic + alias: 2 + 2 + 1 + 3 + 16 = 24', () => {
    const [first, reused] = r.publishes.filter((p) => p.topicAlias);
    assert.equal(first!.publisher.bytes, 49);
    assert.equal(reused!.publisher.bytes, 24);
    // Outbound, the broker decides whether to use aliases (§3.3.2.3.4: "the sender decides"): the embedded broker
    // assigns one to a subscriber that allows them; Mosquitto 2.0.11 sends the full topic (46 bytes), which the spec allows.
    assert.equal(reused!.subscriber.bytes, kind !== 'mosquitto' ? 24 : 46);
  });

  test('setup: CONNECT 3.1.1 = 2 + 10 + 2 + 12 = 26, CONNACK 4; SUBSCRIBE = 2 + 2 + 2 + 25 + 1 = 32, SUBACK 5; DISCONNECT 2', () => {
    const step = (version: string, name: string, side: string) =>
      r.setup.find((s) => s.version === version && s.step === name && s.side === side)!;
    assert.deepEqual(sizes(step('3.1.1', 'CONNECT/CONNACK', 'publisher').packets), ['CONNECT 26', 'CONNACK 4']);
    assert.deepEqual(sizes(step('3.1.1', 'CONNECT/CONNACK', 'subscriber').packets), ['CONNECT 27', 'CONNACK 4']);
    assert.deepEqual(sizes(step('3.1.1', 'SUBSCRIBE/SUBACK', 'subscriber').packets), ['SUBSCRIBE 32', 'SUBACK 5']);
    // MQTT 5: CONNECT + 1 (property length) = 27; SUBSCRIBE + 1 = 33; SUBACK + 1 = 6. CONNACK properties are the broker's choice.
    assert.equal(step('5.0', 'CONNECT/CONNACK', 'publisher').packets[0]!.bytes, 27);
    assert.deepEqual(sizes(step('5.0', 'SUBSCRIBE/SUBACK', 'subscriber').packets), ['SUBSCRIBE 33', 'SUBACK 6']);
    assert.ok(step('5.0', 'CONNECT/CONNACK', 'publisher').packets[1]!.bytes >= 5);
    assert.deepEqual(sizes(step('5.0', 'DISCONNECT', 'publisher').packets), ['DISCONNECT 2']);
  });
});

test('splitMqtt reads packet boundaries from the Remaining Length varint, and stops at a partial packet', () => {
  const stream = Buffer.from([0x30, 0x02, 0x00, 0x00, 0x40, 0x02, 0x00, 0x01, 0x30, 0xa0, 0x02, 0x00]);
  const units = splitMqtt(stream);
  assert.deepEqual(
    units.map((u) => [u.type, u.bytes]),
    [
      ['PUBLISH', 4],
      ['PUBACK', 4],
    ],
  );
});
