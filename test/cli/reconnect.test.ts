import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort } from '../../src/util/index.js';
import { spawnCli, type Spawned } from '../helpers/cli.js';

// fleet and ingest with stdout not a terminal (a pipe here, as under systemd or `> log`): no status line,
// so they log when the broker goes away and when each comes back.

test('fleet and ingest log a lost broker and the reconnects when stdout is not a terminal', async () => {
  const port = await freePort();
  const url = `mqtt://127.0.0.1:${port}`;
  const startBroker = async () => {
    const b = spawnCli(['broker', '-p', String(port), '-w', '0', '--sys-interval', '0']);
    await b.waitFor(/listening on/);
    return b;
  };
  let broker: Spawned = await startBroker();
  const fleet = spawnCli(['fleet', '-b', url, '--devices', '2', '--interval', '1000']);
  const ingest = spawnCli(['ingest', '-b', url, '--workers', '2', '--port', '0', '--db', ':memory:']);
  try {
    await fleet.waitFor(/all 2 online/);
    await ingest.waitFor(/Ctrl-C stops/);
    broker.signal('SIGKILL');
    await broker.done;
    const lost = /^\S+Z lost the broker connection \(.+\): (.+); reconnecting$/m;
    assert.deepEqual((await fleet.waitFor(lost))[1]!.split(', ').sort(), ['dev-001', 'dev-002']);
    assert.deepEqual((await ingest.waitFor(lost))[1]!.split(', ').sort(), ['presence', 'w1', 'w2']);
    broker = await startBroker();
    const back = /^\S+Z reconnected to the broker: (.+)$/m;
    assert.deepEqual((await fleet.waitFor(back))[1]!.split(', ').sort(), ['dev-001', 'dev-002']);
    assert.deepEqual((await ingest.waitFor(back))[1]!.split(', ').sort(), ['presence', 'w1', 'w2']);
  } finally {
    for (const p of [fleet, ingest]) p.signal('SIGINT');
    const [f, i] = [await fleet.done, await ingest.done];
    broker.signal('SIGINT');
    await broker.done;
    assert.equal(f.status, 0, f.stderr);
    assert.equal(i.status, 0, i.stderr);
  }
});
