import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findNatsServer } from '../../src/util/index.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { collect, connectClient, end, sleep, waitUntil } from '../helpers/clients.js';
import { processesMentioning } from '../helpers/processes.js';

interface NodeView {
  node: string;
  url: string;
  clientsConnected: number;
}

/** The nodes as /api/stats shows them. */
async function nodeViews(base: string): Promise<NodeView[]> {
  const stats = (await (await fetch(`${base}api/stats`)).json()) as { nodes?: NodeView[] };
  return stats.nodes ?? [];
}

const DEVICES = 6;
const WORKERS = 3;

test('start --nodes 3: devices and ingest workers spread over the nodes, routed across them; Ctrl-C stops the nodes and NATS', {
  skip: findNatsServer() ? false : 'nats-server is not installed',
}, async () => {
  // TMPDIR of its own: the nats-server started by the run and its store dir are found (and must be gone) by it.
  const tmp = mkdtempSync(join(tmpdir(), 'mqttlab-start-nodes-'));
  const args = ['start', '--nodes', '3', '--port', '0', '--devices', String(DEVICES), '--workers', String(WORKERS)];
  const p = spawnCli([...args, '--interval', '500', '--db', ':memory:', '--no-status'], {
    env: { TMPDIR: tmp },
    timeoutMs: 90_000,
    detached: true,
  });
  try {
    await p.waitFor(/Ctrl-C stops everything/);
    const base = p.stdout.match(/dashboard\s+(http:\S+)/)![1]!;
    const nodeUrls = [...p.stdout.matchAll(/^\s+node(\d)\s+(mqtt:\/\/127\.0\.0\.1:\d+)/gm)].map((m) => m[2]!);
    assert.equal(nodeUrls.length, 3, p.stdout);
    assert.ok(
      processesMentioning(tmp).some((line) => line.includes('nats-server')),
      'the run started a nats-server',
    );

    // Every node has clients: two devices and one worker each (node1 also the presence watcher).
    const deadline = Date.now() + 20_000;
    let nodes = await nodeViews(base);
    while (nodes.reduce((n, v) => n + v.clientsConnected, 0) !== DEVICES + WORKERS + 1) {
      assert.ok(Date.now() < deadline, `every device and worker connected: ${JSON.stringify(nodes)}`);
      await sleep(200);
      nodes = await nodeViews(base);
    }
    assert.deepEqual(
      nodes.map((v) => [v.node, v.url]),
      nodeUrls.map((url, i) => [`node${i + 1}`, url]),
    );
    assert.deepEqual(
      nodes.map((v) => v.clientsConnected),
      [4, 3, 3],
    );
    const workers = (await (await fetch(`${base}api/workers`)).json()) as Array<{ worker: string; node: string }>;
    assert.deepEqual(
      workers.map((w) => [w.worker, w.node]),
      [
        ['w1', 'node1'],
        ['w2', 'node2'],
        ['w3', 'node3'],
      ],
    );

    // A client of node2 sees every device's readings, whichever node the device is connected to.
    const watcher = await connectClient(nodeUrls[1]!);
    const seen = collect(watcher);
    await watcher.subscribeAsync('telemetry/#');
    const devicesSeen = () => new Set(seen.map((m) => m.topic.split('/')[2]));
    await waitUntil(() => devicesSeen().size === DEVICES, 15_000, 'readings of every device on node2');
    await end(watcher);
    // The readings also reach the store through the workers on the three nodes.
    const stats = (await (await fetch(`${base}api/stats`)).json()) as { readings: number };
    assert.ok(stats.readings > 0, JSON.stringify(stats));
  } finally {
    // To the whole process group, as a terminal's Ctrl-C: the nats-server must not stop before the nodes.
    p.signal('SIGINT', true);
  }
  const startedStopping = Date.now();
  const r = await p.done;
  try {
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /stopping: fleet, ingestion, broker nodes, NATS …\nstopped\n$/);
    assert.equal(r.stderr, '');
    assert.ok(Date.now() - startedStopping < 15_000, `stopped in ${Date.now() - startedStopping} ms`);
    assert.deepEqual(processesMentioning(tmp), []);
    assert.deepEqual(readdirSync(tmp), [], 'the NATS store dir is removed');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('start --nodes without nats-server: one line, exit 1', async () => {
  const r = await runCli(['start', '--nodes', '2', '--port', '0', '--db', ':memory:', '--no-status'], {
    env: { MQTTLAB_NATS_SERVER: '/nonexistent/nats-server' },
    timeoutMs: 30_000,
  });
  assert.equal(r.status, 1);
  assert.equal(r.stderr, 'mqttlab: nats-server is not installed (apt-get install nats-server)\n');
  assert.equal(r.stdout, '');
});

test('start --nodes refuses --broker: the nodes are its own', async () => {
  const r = await runCli(['start', '--nodes', '2', '--broker', 'mqtt://127.0.0.1:1', '--no-status'], { timeoutMs: 30_000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^mqttlab: --nodes starts its own broker nodes on free ports: it does not go with --broker/);
});
