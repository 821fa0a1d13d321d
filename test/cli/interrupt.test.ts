import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findRabbitMq } from '../../src/comparison/servers.js';
import { findMosquitto } from '../../src/util/index.js';
import { waitUntil } from '../helpers/clients.js';
import { spawnCli } from '../helpers/cli.js';
import { processesMentioning } from '../helpers/processes.js';

const skip = !findRabbitMq() ? 'rabbitmq-server is not installed' : !findMosquitto() ? 'mosquitto is not installed' : false;

test('Ctrl-C while compare starts its RabbitMQ node: beam.smp, epmd and Mosquitto stop, their temp dirs go, and it says so', {
  skip,
}, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'mqttlab-interrupt-'));
  try {
    // Its own process group, signalled as a whole: what a terminal's Ctrl-C does.
    const p = spawnCli(['compare', '--mosquitto', '--messages', '200'], { env: { TMPDIR: tmp }, detached: true, timeoutMs: 90_000 });
    await p.waitFor(/starting a private RabbitMQ node/, 'stderr', 30_000);
    await waitUntil(() => processesMentioning(tmp).some((line) => line.includes('beam.smp')), 30_000, 'the Erlang VM of the RabbitMQ node');
    p.signal('SIGINT', true);
    const r = await p.done;
    assert.equal(r.status, 130, r.stderr);
    assert.match(r.stderr, /\nmqttlab: interrupted; stopping .*RabbitMQ node mqttlab-\d+-\d+@localhost/);
    assert.match(r.stderr, /mqttlab: stopped .*RabbitMQ node mqttlab-\d+-\d+@localhost/);
    assert.match(r.stderr, /Mosquitto on port \d+/);
    assert.deepEqual(processesMentioning(tmp), []);
    assert.deepEqual(readdirSync(tmp), [], 'no mqttlab-cmp-* or mqttlab-mosquitto-* dir left');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('Ctrl-C to capacity alone (not to its children) stops broker, ingest and fleet at once and removes its temp dir', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'mqttlab-interrupt-'));
  try {
    const p = spawnCli(['capacity', '--devices', '5', '--seconds', '30', '--interval', '1000', '--workers', '1'], {
      env: { TMPDIR: tmp },
      timeoutMs: 60_000,
    });
    await waitUntil(
      () =>
        processesMentioning(tmp).some(
          (line) => /node/.test(line) && readFileSync(`/proc/${line.split(' ')[0]}/cmdline`, 'latin1').includes('\0fleet\0'),
        ),
      30_000,
      'the fleet child',
    );
    const before = processesMentioning(tmp);
    assert.ok(before.length >= 3, before.join('\n'));
    p.signal('SIGINT');
    const r = await p.done;
    assert.equal(r.status, 130, r.stderr);
    assert.match(r.stderr, /mqttlab: interrupted; stopping .*mqttlab fleet \(pid \d+\)/);
    assert.deepEqual(processesMentioning(tmp), []);
    assert.deepEqual(readdirSync(tmp), []);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
