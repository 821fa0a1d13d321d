import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { startFleet, startIngest, type Fleet, type Ingest } from '../../src/telemetry/index.js';
import { describeEachBroker, startBroker, type TestBroker } from '../helpers/brokers.js';
import { connectClient, end, waitUntil } from '../helpers/clients.js';

const DEVICES = 8;
const WORKERS = 3;
const ALERTS_PER_DEVICE = 5;

async function getJson<T = unknown>(url: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: response.status, body: (await response.json()) as T };
}

describeEachBroker('telemetry end to end: fleet → broker → $share/ingest → SQLite → API', (kind) => {
  let broker: TestBroker;
  let ingest: Ingest;
  let fleet: Fleet;
  let work: string;
  let dbPath: string;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'mqttlab-e2e-'));
    dbPath = join(work, 'telemetry.db');
    broker = await startBroker(kind);
    ingest = await startIngest({ url: broker.url, workers: WORKERS, store: dbPath, httpPort: 0, httpHost: '127.0.0.1', flushMs: 50, clientIdPrefix: `e2e-${kind}` });
    // No random heat events: the alerts in this test are the ones it raises, so it can count them.
    fleet = await startFleet({ url: broker.url, devices: DEVICES, intervalMs: 100, heatEventProbability: 0 });
  });

  after(async () => {
    await fleet?.stop().catch(() => {});
    await ingest?.stop().catch(() => {});
    await broker?.close().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  });

  test('the API lists every device online, from the retained statuses', async () => {
    await waitUntil(() => ingest.stats().online === DEVICES, 5000, `${DEVICES} devices online`);
    const { status, body } = await getJson<Array<{ id: string; status: string; site: string }>>(`${ingest.apiUrl}/devices`);
    assert.equal(status, 200);
    assert.deepEqual(body.map((d) => d.id), fleet.devices);
    assert.ok(body.every((d) => d.status === 'online' && d.site === 'site-1'), JSON.stringify(body));
  });

  test('a device killed without DISCONNECT turns offline through its will, and online again when it returns', async () => {
    const victim = fleet.devices[3]!;
    await fleet.kill(victim);
    await waitUntil(() => ingest.presence.get(victim)?.status === 'offline', 5000, `${victim} offline`);
    const offline = await getJson<{ status: string; statusChangedAt: number | null }>(`${ingest.apiUrl}/devices/${victim}`);
    assert.equal(offline.body.status, 'offline');
    assert.ok(offline.body.statusChangedAt, 'a live change has a time');
    assert.equal(ingest.stats().offline, 1);
    await fleet.revive(victim);
    await waitUntil(() => ingest.presence.get(victim)?.status === 'online', 5000, `${victim} online again`);
    // The store's presence history: it came up after ingestion started, dropped, and came back.
    const db = new Database(dbPath, { readonly: true });
    try {
      const rows = db.prepare('SELECT status FROM presence WHERE device = ? ORDER BY ts').all(victim) as Array<{ status: string }>;
      assert.deepEqual(rows.map((r) => r.status), ['online', 'offline', 'online']);
    } finally {
      db.close();
    }
  });

  test('every QoS 1 alert acknowledged to a device is stored exactly once in the worker group', async () => {
    const raised = fleet.devices.flatMap((id) => Array.from({ length: ALERTS_PER_DEVICE }, (_, i) => fleet.alert(id, `e2e alert ${i}`)));
    await Promise.all(raised);
    const expected = DEVICES * ALERTS_PER_DEVICE;
    assert.equal(fleet.sent.alerts, expected, 'PUBACKs the fleet received');
    await waitUntil(() => ingest.stats().alerts === expected, 5000, `${expected} alerts stored`);
    const workers = ingest.workers();
    assert.equal(workers.reduce((s, w) => s + w.alerts, 0), expected, 'alerts received by all workers together: none twice');
    assert.equal(ingest.stats().alertDuplicates, 0);
    const db = new Database(dbPath, { readonly: true });
    try {
      const row = db.prepare("SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS ids FROM alerts WHERE message LIKE 'e2e alert %'").get() as { n: number; ids: number };
      assert.deepEqual(row, { n: expected, ids: expected });
    } finally {
      db.close();
    }
    const api = await getJson<Array<{ id: string; device: string }>>(`${ingest.apiUrl}/alerts?limit=1000`);
    assert.equal(api.body.length, expected);
  });

  test('readings are split over the workers and every one sent is stored once', async () => {
    await waitUntil(() => ingest.stats().readings > 200, 10_000, 'some readings stored');
    await fleet.stop();
    // Once the fleet is quiet and the last batch flushed, what the devices wrote equals what was stored.
    // QoS 0 is at most once; on loopback with this small load neither broker drops any.
    await waitUntil(() => ingest.stats().readings === fleet.sent.telemetry && ingest.stats().backlog === 0, 5000, `stored readings = ${fleet.sent.telemetry} sent`);
    const workers = ingest.workers();
    assert.equal(workers.reduce((s, w) => s + w.readings, 0), fleet.sent.telemetry);
    // A shared subscription spreads the messages [§4.8.2]: each worker got a real part of the work.
    for (const w of workers) assert.ok(w.readings > fleet.sent.telemetry / (WORKERS * 4), `${w.worker} got ${w.readings} of ${fleet.sent.telemetry}`);
    const db = new Database(dbPath, { readonly: true });
    try {
      const byWorker = db.prepare('SELECT w.name AS worker, COUNT(*) AS n FROM readings r JOIN workers w ON w.id = r.worker GROUP BY w.name ORDER BY w.name').all() as Array<{ worker: string; n: number }>;
      assert.deepEqual(byWorker, workers.map((w) => ({ worker: w.worker, n: w.readings })));
    } finally {
      db.close();
    }
    const api = await getJson<Array<{ worker: string; readings: number; share: number }>>(`${ingest.apiUrl}/workers`);
    assert.equal(api.body.length, WORKERS);
    assert.ok(Math.abs(api.body.reduce((s, w) => s + w.share, 0) - 1) < 1e-9);
  });

  test('the series API downsamples: bucket counts add up to the stored readings', async () => {
    const device = fleet.devices[0]!;
    const to = Date.now();
    const from = to - 5 * 60_000;
    const { body } = await getJson<{ bucketMs: number; points: Array<{ ts: number; v: number; min: number; max: number; n: number }> }>(
      `${ingest.apiUrl}/series?device=${device}&metric=temperature&from=${from}&to=${to}&points=5`,
    );
    assert.ok(body.points.length >= 1 && body.points.length <= 5, `${body.points.length} points`);
    const db = new Database(dbPath, { readonly: true });
    try {
      const row = db
        .prepare(
          'SELECT COUNT(*) AS n, MIN(r.v) AS min, MAX(r.v) AS max FROM readings r JOIN series s ON s.id = r.series ' +
            "WHERE s.device = ? AND s.metric = 'temperature' AND r.ts BETWEEN ? AND ?",
        )
        .get(device, from, to) as { n: number; min: number; max: number };
      assert.equal(body.points.reduce((s, p) => s + p.n, 0), row.n);
      assert.equal(Math.min(...body.points.map((p) => p.min)), row.min);
      assert.equal(Math.max(...body.points.map((p) => p.max)), row.max);
    } finally {
      db.close();
    }
    for (const p of body.points) assert.ok(p.min <= p.v && p.v <= p.max && p.ts >= from && p.ts <= to);
    const latest = await getJson<Record<string, { v: number; unit: string }>>(`${ingest.apiUrl}/devices/${device}/latest`);
    assert.deepEqual(Object.keys(latest.body).sort(), ['battery', 'humidity', 'temperature']);
    assert.equal(latest.body.temperature!.unit, '°C');
  });

  test('bad input: malformed telemetry is rejected without losing what was stored; bad API queries get 400', async () => {
    const before = ingest.stats();
    const client = await connectClient(broker.url, { clientId: `e2e-bad-${kind}` });
    try {
      await client.publishAsync('telemetry/site-1/dev-bad/temperature', 'not json', { qos: 0 });
      await client.publishAsync('alerts/site-1/dev-bad', JSON.stringify({ message: 'no id' }), { qos: 1 });
      await waitUntil(() => ingest.stats().rejected === before.rejected + 2, 5000, 'two rejected messages');
    } finally {
      await end(client);
    }
    const after = ingest.stats();
    assert.equal(after.readings, before.readings);
    assert.equal(after.alerts, before.alerts);
    assert.equal(after.store.readings, before.store.readings);
    for (const query of ['series?metric=temperature', 'series?device=dev-001', 'series?device=dev-001&metric=temperature&points=0', 'series?device=dev-001&metric=temperature&from=10&to=5', 'alerts?limit=abc']) {
      const { status, body } = await getJson<{ error: string }>(`${ingest.apiUrl}/${query}`);
      assert.equal(status, 400, query);
      assert.match(body.error, /\w/);
    }
    assert.equal((await getJson(`${ingest.apiUrl}/devices/nope`)).status, 404);
    assert.equal((await fetch(`${ingest.apiUrl}/stats`, { method: 'POST' })).status, 405);
  });
});
