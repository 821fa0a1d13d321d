import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { collect, connectClient, end, waitUntil } from '../helpers/clients.js';
import { CLI, spawnBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { RawClient } from '../helpers/raw-client.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mqttlab-durable-'));
  dirs.push(dir);
  return dir;
}

/** `mqttlab broker --data-dir <dir>` in a child process on a free loopback port. */
const spawnBroker = (dataDir: string): Promise<BrokerProcess> => spawnBrokerProcess(['--sys-interval', '0', '--data-dir', dataDir]);

const sigkill = (broker: BrokerProcess): Promise<void> => broker.stop('SIGKILL');

describe('Durable persistence across SIGKILL (mqttlab broker --data-dir, child process)', () => {
  test('every PUBACKed QoS 1 message reaches the persistent subscriber after kill -9 and restart; so does a retained one', async () => {
    const N = 200;
    const dataDir = tempDir();
    const session = { clientId: 'durable-sub', clean: false, properties: { sessionExpiryInterval: 3600 } };
    const first = await spawnBroker(dataDir);
    try {
      const sub = await connectClient(`mqtt://127.0.0.1:${first.port}`, session);
      await sub.subscribeAsync('durable/#', { qos: 1 });
      await end(sub);

      const pub = await connectClient(`mqtt://127.0.0.1:${first.port}`, { clientId: 'durable-pub' });
      await pub.publishAsync('retained/durable', 'kept across kill -9', { qos: 1, retain: true });
      for (let i = 0; i < N; i++) await pub.publishAsync(`durable/${i % 10}`, `m${i}`, { qos: 1 });
      end(pub, true);
    } finally {
      // Right after the last PUBACK: no graceful shutdown, nothing flushed on the way out.
      await sigkill(first);
    }
    assert.equal(first.child.signalCode, 'SIGKILL');

    const second = await spawnBroker(dataDir);
    try {
      const url = `mqtt://127.0.0.1:${second.port}`;
      // Listen before CONNACK: the queued messages follow it at once.
      const sub = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, ...session });
      const received = collect(sub);
      const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
        sub.once('connect', resolve);
        sub.once('error', reject);
      });
      assert.equal(connack.sessionPresent, true, 'the session came back');
      await waitUntil(() => received.length >= N, 10_000, `${N} queued messages (got ${received.length})`);
      const expected = Array.from({ length: N }, (_, i) => `m${i}`).sort();
      assert.deepEqual(received.map((m) => m.payload).sort(), expected);
      assert.ok(received.every((m) => m.packet.qos === 1));
      await end(sub);

      const reader = await connectClient(url, { clientId: 'durable-reader' });
      const retained = collect(reader);
      await reader.subscribeAsync('retained/durable', { qos: 1 });
      await waitUntil(() => retained.length >= 1, 5000, 'the retained message');
      assert.deepEqual(
        retained.map((m) => [m.payload, m.packet.retain]),
        [['kept across kill -9', true]],
      );
      await end(reader);
    } finally {
      await sigkill(second);
    }
  });

  test('QoS 2 exactly once over kill -9: the inbound packet id is kept, a resent PUBLISH is not redelivered [MQTT-4.3.3-10]', async () => {
    const dataDir = tempDir();
    const publisher = { clientId: 'durable-q2-pub', clean: false, properties: { sessionExpiryInterval: 3600 } };
    const subscriber = { clientId: 'durable-q2-sub', clean: false, properties: { sessionExpiryInterval: 3600 } };
    const publish = {
      cmd: 'publish' as const,
      topic: 'durable-q2/t',
      payload: Buffer.from('once'),
      qos: 2 as const,
      retain: false,
      messageId: 9,
    };
    const first = await spawnBroker(dataDir);
    try {
      const { client: sub } = await RawClient.connect(first.port, subscriber);
      sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'durable-q2/t', qos: 2 }] });
      await sub.expect('suback');
      await sub.disconnect();
      const { client: pub } = await RawClient.connect(first.port, publisher);
      pub.send({ ...publish, dup: false });
      assert.equal((await pub.expect('pubrec')).reasonCode ?? 0, 0);
    } finally {
      await sigkill(first);
    }

    const second = await spawnBroker(dataDir);
    try {
      const { client: pub, connack } = await RawClient.connect(second.port, publisher);
      assert.equal(connack.sessionPresent, true);
      pub.send({ ...publish, dup: true });
      await pub.expect('pubrec');
      pub.send({ cmd: 'pubrel', messageId: 9, reasonCode: 0 });
      assert.equal((await pub.expect('pubcomp')).reasonCode ?? 0, 0, 'the broker still knew packet id 9');
      await pub.disconnect();

      const { client: sub } = await RawClient.connect(second.port, subscriber);
      assert.equal((await sub.expect('publish')).payload.toString(), 'once');
      sub.send({ cmd: 'pingreq' });
      await sub.expect('pingresp');
      assert.equal(sub.all('publish').length, 1, 'delivered once, not again for the resend');
      await sub.disconnect();
    } finally {
      await sigkill(second);
    }
  });

  test('--data-dir that is not a usable directory: exit code 1 and a one-line error', () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, '');
    const r = spawnSync(process.execPath, [CLI, 'broker', '-p', '0', '-w', '0', '--data-dir', file], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /data directory ".*a-file" is not a directory/);
  });
});
