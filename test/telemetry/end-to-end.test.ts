import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { startFleet, startIngest, type Fleet, type Ingest } from '../../src/telemetry/index.js';
import { mosquittoPath, startBroker, type BrokerKind, type TestBroker } from '../helpers/brokers.js';
import { connectClient, end, waitUntil } from '../helpers/clients.js';
import { postgresSkip, queryRows, startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

const DEVICES = 8;
const WORKERS = 3;
const ALERTS_PER_DEVICE = 5;

async function getJson<T = unknown>(url: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: response.status, body: (await response.json()) as T };
}

/** Where the run stores: SQLite with one ingest process, or PostgreSQL shared by two. */
interface Setup {
  store: 'sqlite' | 'postgresql';
  processes: number;
  skip: string | false;
}

const SETUPS: Setup[] = [
  { store: 'sqlite', processes: 1, skip: false },
  { store: 'postgresql', processes: 2, skip: postgresSkip },
];

for (const setup of SETUPS) {
  for (const kind of ['embedded', 'mosquitto'] as BrokerKind[]) {
    const skip = setup.skip || (kind === 'mosquitto' && !mosquittoPath ? 'mosquitto is not installed' : false);
    describe(
      `telemetry end to end: fleet → broker → $share/ingest → ${setup.store} ` +
        `(${setup.processes} ingest process${setup.processes > 1 ? 'es' : ''}) → API [${kind}]`,
      { skip },
      () => endToEnd(kind, setup),
    );
  }
}

function endToEnd(kind: BrokerKind, setup: Setup): void {
  let broker: TestBroker;
  let ingests: Ingest[] = [];
  let fleet: Fleet;
  let work: string;
  let postgres: TestPostgres | undefined;
  /** Runs SQL (with ? placeholders) on the store the ingest processes write. */
  let inspect: <T>(sql: string, ...params: unknown[]) => Promise<T[]>;
  /** All ingest processes together, as /api/stats of each adds up. */
  const total = (key: 'readings' | 'alerts' | 'alertDuplicates' | 'rejected' | 'backlog') =>
    ingests.reduce((s, i) => s + i.stats()[key], 0);
  const allWorkers = () => ingests.flatMap((i) => i.workers());
  const api = () => ingests[0]!.apiUrl;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'mqttlab-e2e-'));
    let store = join(work, 'telemetry.db');
    if (setup.store === 'postgresql') {
      postgres = await startTestPostgres();
      store = await postgres.freshDatabase();
      inspect = async (sql, ...params) => {
        let n = 0;
        return queryRows(
          store,
          sql.replace(/\?/g, () => `$${++n}`),
          params,
        );
      };
    } else {
      inspect = async (sql, ...params) => {
        const db = new Database(store, { readonly: true });
        try {
          return db.prepare(sql).all(...params) as never[];
        } finally {
          db.close();
        }
      };
    }
    broker = await startBroker(kind);
    for (let p = 1; p <= setup.processes; p++) {
      const instance = setup.processes > 1 ? `p${p}` : undefined;
      ingests.push(
        await startIngest({
          url: broker.url,
          workers: WORKERS,
          store,
          instance,
          httpPort: 0,
          httpHost: '127.0.0.1',
          flushMs: 50,
          clientIdPrefix: `e2e-${kind}`,
        }),
      );
    }
    // No random heat events: the alerts in this test are the ones it raises, so it can count them.
    fleet = await startFleet({ url: broker.url, devices: DEVICES, intervalMs: 100, heatEventProbability: 0 });
  });

  after(async () => {
    await fleet?.stop().catch(() => {});
    for (const ingest of ingests) await ingest.stop().catch(() => {});
    ingests = [];
    await broker?.close().catch(() => {});
    await postgres?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test('the API of every ingest process lists every device online, from the retained statuses', async () => {
    for (const ingest of ingests) {
      await waitUntil(() => ingest.stats().online === DEVICES, 5000, `${DEVICES} devices online`);
      const { status, body } = await getJson<Array<{ id: string; status: string; site: string }>>(`${ingest.apiUrl}/devices`);
      assert.equal(status, 200);
      assert.deepEqual(
        body.map((d) => d.id),
        fleet.devices,
      );
      assert.ok(
        body.every((d) => d.status === 'online' && d.site === 'site-1'),
        JSON.stringify(body),
      );
    }
  });

  test('a device killed without DISCONNECT turns offline through its will, online again when it returns; history stored once', async () => {
    const victim = fleet.devices[3]!;
    const killedAt = Date.now();
    await fleet.kill(victim);
    for (const ingest of ingests) await waitUntil(() => ingest.presence.get(victim)?.status === 'offline', 5000, `${victim} offline`);
    const offline = await getJson<{ status: string; statusChangedAt: number | null }>(`${api()}/devices/${victim}`);
    assert.equal(offline.body.status, 'offline');
    assert.ok(offline.body.statusChangedAt, 'a live change has a time');
    assert.equal(ingests[0]!.stats().offline, 1);
    await fleet.revive(victim);
    for (const ingest of ingests) await waitUntil(() => ingest.presence.get(victim)?.status === 'online', 5000, `${victim} online again`);
    // The store's presence history: it came up after ingestion started, dropped, and came back; each
    // change stored once, by the one worker of the group that received it, whatever the number of
    // processes. The order is the workers' receive times: MQTT orders messages per subscription, not
    // across the members of a shared group (§4.6), so two changes milliseconds apart on a loaded
    // machine may be stamped the other way round; the count and the kinds are exact.
    await waitUntil(() => allWorkers().reduce((s, w) => s + w.statuses, 0) >= DEVICES + 2, 5000, 'status changes stored');
    const rows = await inspect<{ status: string; ts: number }>('SELECT status, ts FROM presence WHERE device = ? ORDER BY ts', victim);
    assert.deepEqual(rows.map((r) => r.status).sort(), ['offline', 'online', 'online']);
    assert.ok(Number(rows.find((r) => r.status === 'offline')!.ts) >= killedAt, 'the offline change is stamped after the kill');
  });

  test('every QoS 1 alert acknowledged to a device is stored exactly once in the worker group', async () => {
    const raised = fleet.devices.flatMap((id) => Array.from({ length: ALERTS_PER_DEVICE }, (_, i) => fleet.alert(id, `e2e alert ${i}`)));
    await Promise.all(raised);
    const expected = DEVICES * ALERTS_PER_DEVICE;
    assert.equal(fleet.sent.alerts, expected, 'PUBACKs the fleet received');
    await waitUntil(() => total('alerts') === expected, 5000, `${expected} alerts stored`);
    assert.equal(
      allWorkers().reduce((s, w) => s + w.alerts, 0),
      expected,
      'alerts received by all workers together: none twice',
    );
    assert.equal(total('alertDuplicates'), 0);
    const [row] = await inspect<{ n: number; ids: number }>(
      "SELECT CAST(COUNT(*) AS INTEGER) AS n, CAST(COUNT(DISTINCT id) AS INTEGER) AS ids FROM alerts WHERE message LIKE 'e2e alert %'",
    );
    assert.deepEqual(row, { n: expected, ids: expected });
    // Each process answers from the shared store, so each sees every alert.
    for (const ingest of ingests) {
      const listed = await getJson<Array<{ id: string; device: string }>>(`${ingest.apiUrl}/alerts?limit=1000`);
      assert.equal(listed.body.length, expected);
    }
  });

  test('readings are split over the workers and every one sent is stored once', async () => {
    await waitUntil(() => total('readings') > 200, 10_000, 'some readings stored');
    await fleet.stop();
    // Once the fleet is quiet and the last batch flushed, what the devices wrote equals what was stored.
    // QoS 0 is at most once; on loopback with this small load neither broker drops any.
    await waitUntil(
      () => total('readings') === fleet.sent.telemetry && total('backlog') === 0,
      5000,
      `stored readings = ${fleet.sent.telemetry} sent`,
    );
    const workers = allWorkers();
    assert.equal(workers.length, WORKERS * setup.processes);
    assert.equal(
      workers.reduce((s, w) => s + w.readings, 0),
      fleet.sent.telemetry,
    );
    // A shared subscription spreads the messages [§4.8.2]: each worker got a real part of the work.
    for (const w of workers)
      assert.ok(w.readings > fleet.sent.telemetry / (workers.length * 4), `${w.worker} got ${w.readings} of ${fleet.sent.telemetry}`);
    const byWorker = await inspect<{ worker: string; n: number }>(
      'SELECT w.name AS worker, CAST(COUNT(*) AS INTEGER) AS n FROM readings r JOIN workers w ON w.id = r.worker GROUP BY w.name',
    );
    const sorted = (rows: Array<{ worker: string; n: number }>) => [...rows].sort((a, b) => a.worker.localeCompare(b.worker));
    assert.deepEqual(sorted(byWorker), sorted(workers.map((w) => ({ worker: w.worker, n: w.readings }))));
    const [stored] = await inspect<{ n: number }>('SELECT CAST(COUNT(*) AS INTEGER) AS n FROM readings');
    assert.equal(stored!.n, fleet.sent.telemetry, 'the store holds each reading once');
    const listed = await getJson<Array<{ worker: string; readings: number; share: number }>>(`${api()}/workers`);
    assert.equal(listed.body.length, WORKERS);
    assert.ok(Math.abs(listed.body.reduce((s, w) => s + w.share, 0) - 1) < 1e-9);
  });

  test('the series API downsamples: bucket counts add up to the stored readings, from every process', async () => {
    const device = fleet.devices[0]!;
    const to = Date.now();
    const from = to - 5 * 60_000;
    const [row] = await inspect<{ n: number; min: number; max: number }>(
      'SELECT CAST(COUNT(*) AS INTEGER) AS n, MIN(r.v) AS min, MAX(r.v) AS max FROM readings r JOIN series s ON s.id = r.series ' +
        "WHERE s.device = ? AND s.metric = 'temperature' AND r.ts BETWEEN ? AND ?",
      device,
      from,
      to,
    );
    assert.ok(row!.n > 0);
    for (const ingest of ingests) {
      const { body } = await getJson<{ bucketMs: number; points: Array<{ ts: number; v: number; min: number; max: number; n: number }> }>(
        `${ingest.apiUrl}/series?device=${device}&metric=temperature&from=${from}&to=${to}&points=5`,
      );
      assert.ok(body.points.length >= 1 && body.points.length <= 5, `${body.points.length} points`);
      assert.equal(
        body.points.reduce((s, p) => s + p.n, 0),
        row!.n,
      );
      assert.equal(Math.min(...body.points.map((p) => p.min)), row!.min);
      assert.equal(Math.max(...body.points.map((p) => p.max)), row!.max);
      for (const p of body.points) assert.ok(p.min <= p.v && p.v <= p.max && p.ts >= from && p.ts <= to);
      const latest = await getJson<Record<string, { v: number; unit: string }>>(`${ingest.apiUrl}/devices/${device}/latest`);
      assert.deepEqual(Object.keys(latest.body).sort(), ['battery', 'humidity', 'temperature']);
      assert.equal(latest.body.temperature!.unit, '°C');
    }
  });

  test('bad input: malformed telemetry is rejected without losing what was stored; bad API queries get 400', async () => {
    // The store's totals are counted from the database now and then (both processes write to it): compare
    // once they have caught up with what the processes wrote, so a late refresh is not taken for a change.
    const written = () => ingests.reduce((sum, i) => sum + i.stats().readings, 0);
    await waitUntil(() => ingests.every((i) => i.stats().store.readings === written()), 5000, 'store totals caught up');
    const before = ingests.map((i) => i.stats());
    const rejectedBefore = total('rejected');
    const client = await connectClient(broker.url, { clientId: `e2e-bad-${kind}` });
    try {
      await client.publishAsync('telemetry/site-1/dev-bad/temperature', 'not json', { qos: 0 });
      await client.publishAsync('alerts/site-1/dev-bad', JSON.stringify({ message: 'no id' }), { qos: 1 });
      await waitUntil(() => total('rejected') === rejectedBefore + 2, 5000, 'two rejected messages');
    } finally {
      await end(client);
    }
    ingests.forEach((ingest, i) => {
      const after = ingest.stats();
      assert.equal(after.readings, before[i]!.readings);
      assert.equal(after.alerts, before[i]!.alerts);
      assert.equal(after.store.readings, before[i]!.store.readings);
    });
    for (const query of [
      'series?metric=temperature',
      'series?device=dev-001',
      'series?device=dev-001&metric=temperature&points=0',
      'series?device=dev-001&metric=temperature&from=10&to=5',
      'alerts?limit=abc',
    ]) {
      const { status, body } = await getJson<{ error: string }>(`${api()}/${query}`);
      assert.equal(status, 400, query);
      assert.match(body.error, /\w/);
    }
    assert.equal((await getJson(`${api()}/devices/nope`)).status, 404);
    assert.equal((await fetch(`${api()}/stats`, { method: 'POST' })).status, 405);
  });
}
