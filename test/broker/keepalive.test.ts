import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { describeEachBroker, startBroker, type BrokerKind, type TestBroker } from '../helpers/brokers.js';
import { sleep } from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';

// Keep Alive (MQTT 5.0 §3.1.2.10): a server that hears nothing from a client for one and a half
// times its Keep Alive MUST close the connection [MQTT-3.1.2-22]. Keep alive 1 s here: closed after
// about 1.5 s, so the tests check "still open at 1 s" and "closed by 4 s", never an exact time.
// The tests of a broker run concurrently (distinct client ids), so the waits overlap.

/**
 * Asserts the client is still open 1 s after CONNACK and closed within 4 s.
 *
 * Mosquitto 2.0.11 checks keep alive only every 5 s, in whole seconds (`now - last_msg_in > keepalive*3/2`
 * with integer division): with keep alive 1 it closes anywhere from just over 1 s to about 6.5 s after the
 * last packet, later than [MQTT-3.1.2-22] asks. So for Mosquitto: not closed within 0.9 s, closed within 9 s.
 */
async function assertClosedByKeepAlive(kind: BrokerKind, client: RawClient, connectedAt: number): Promise<void> {
  const [openFor, closedBy] = kind === 'mosquitto' ? [900, 9000] : [1000, 4000];
  assert.equal(await client.closedWithin(openFor - (Date.now() - connectedAt)), false, `not closed within ${openFor} ms`);
  assert.ok(await client.closedWithin(closedBy - (Date.now() - connectedAt)), `closed within ${closedBy} ms`);
}

/** Rounds of 500 ms for the "stays connected" tests: 3 s, or 7 s for Mosquitto's 5 s keep alive sweep. */
const rounds = (kind: BrokerKind) => (kind === 'mosquitto' ? 14 : 6);

describeEachBroker('Keep alive', (kind) => {
  let b: TestBroker;
  before(async () => (b = await startBroker(kind)));
  after(() => b.close());

  describe('timers', { concurrency: true }, () => {
    test('MQTT 5: a silent client with keep alive 1 gets DISCONNECT 0x8D after 1.5× keep alive [MQTT-3.1.2-22]', async () => {
      const { client, connack } = await RawClient.connect(b.port, { clientId: 'ka-silent-5', keepalive: 1 });
      const connectedAt = Date.now();
      try {
        assert.equal(connack.reasonCode, 0);
        assert.equal(connack.properties?.serverKeepAlive, undefined, 'the keep alive of 1 s is in force');
        await assertClosedByKeepAlive(kind, client, connectedAt);
        const disconnects = client.all('disconnect');
        if (kind === 'mosquitto') {
          // Mosquitto 2.0.11 closes without a DISCONNECT. Allowed: [MQTT-3.1.2-22] asks for a close "as if
          // the network had failed"; the DISCONNECT 0x8D before it is a MAY (§4.13.2).
          assert.equal(disconnects.length, 0);
        } else {
          assert.equal(disconnects.length, 1, 'a DISCONNECT comes before the close');
          assert.equal(disconnects[0]!.reasonCode, 0x8d, 'Keep Alive timeout');
        }
      } finally {
        client.destroy();
      }
    });

    test('3.1.1: a silent client with keep alive 1 is closed without any packet [MQTT-3.1.2-24 (3.1.1)]', async () => {
      const { client, connack } = await RawClient.connect(b.port, { clientId: 'ka-silent-4', keepalive: 1, protocolVersion: 4 });
      const connectedAt = Date.now();
      try {
        assert.equal(connack.returnCode, 0);
        await assertClosedByKeepAlive(kind, client, connectedAt);
        assert.deepEqual(
          client.received.map((p) => p.cmd),
          ['connack'],
          '3.1.1 has no DISCONNECT from the server',
        );
      } finally {
        client.destroy();
      }
    });

    test('a client sending PINGREQ within its keep alive stays connected and gets PINGRESP each time [MQTT-3.12.4-1]', async () => {
      const { client } = await RawClient.connect(b.port, { clientId: 'ka-pinging', keepalive: 1 });
      try {
        // PINGREQ every 500 ms for longer than a silent client lasts (see assertClosedByKeepAlive).
        for (let i = 0; i < rounds(kind); i++) {
          client.send({ cmd: 'pingreq' });
          await client.expect('pingresp', 1000);
          await sleep(500);
        }
        assert.ok(client.isOpen, 'still connected');
        assert.equal(client.all('pingresp').length, rounds(kind));
        assert.equal(client.all('disconnect').length, 0);
      } finally {
        client.destroy();
      }
    });

    test('any control packet resets the keep alive timer, not only PINGREQ (§3.1.2.10)', async () => {
      const { client } = await RawClient.connect(b.port, { clientId: 'ka-publishing', keepalive: 1 });
      try {
        for (let i = 0; i < rounds(kind); i++) {
          client.send({ cmd: 'publish', topic: 'ka/traffic', payload: Buffer.from(String(i)), qos: 0, retain: false, dup: false });
          await sleep(500);
        }
        assert.ok(client.isOpen, 'still connected after QoS 0 PUBLISH every 500 ms');
        assert.equal(client.all('disconnect').length, 0);
      } finally {
        client.destroy();
      }
    });

    test('keep alive 0 turns the mechanism off: a silent client stays connected (§3.1.2.10)', async () => {
      const { client } = await RawClient.connect(b.port, { clientId: 'ka-zero', keepalive: 0 });
      try {
        assert.equal(await client.closedWithin(rounds(kind) * 500), false);
        client.send({ cmd: 'pingreq' });
        await client.expect('pingresp');
      } finally {
        client.destroy();
      }
    });
  });
});

// Embedded only: Mosquitto 2.0.11 refuses a max_keepalive below 10 ("Invalid max_keepalive value"), and a
// 15 s wait does not fit this file. Its CONNACK Server Keep Alive is checked in connect.test.ts.
describe('Server Keep Alive [embedded]', () => {
  const kind = 'embedded';
  test('the Server Keep Alive replaces the client keep alive: 60 with server maximum 1 → closed after ~1.5 s [MQTT-3.2.2-21]', async () => {
    const b = await startBroker(kind, { embedded: { maxKeepalive: 1 } });
    try {
      const { client, connack } = await RawClient.connect(b.port, { clientId: 'ska-enforced', keepalive: 60 });
      const connectedAt = Date.now();
      try {
        assert.equal(connack.properties?.serverKeepAlive, 1);
        await assertClosedByKeepAlive(kind, client, connectedAt);
        const disconnects = client.all('disconnect');
        assert.equal(disconnects.length, 1);
        assert.equal(disconnects[0]!.reasonCode, 0x8d);
      } finally {
        client.destroy();
      }
    } finally {
      await b.close();
    }
  });
});
