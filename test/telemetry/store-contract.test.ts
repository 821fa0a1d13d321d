/**
 * The telemetry store contract: every store (SQLite, PostgreSQL) must pass these, so ingestion and the
 * API behave the same whichever one holds the rows.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openStore, type StoredAlert, type StoreOptions, type TelemetryStore } from '../../src/telemetry/index.js';
import { postgresSkip, startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

/** A store implementation under test: where a fresh, empty store lives. */
interface Backend {
  name: string;
  skip: string | false;
  start(): Promise<void>;
  stop(): Promise<void>;
  freshLocation(): Promise<string>;
}

function sqliteBackend(): Backend {
  let dir = '';
  let n = 0;
  return {
    name: 'sqlite',
    skip: false,
    start: async () => {
      dir = mkdtempSync(join(tmpdir(), 'mqttlab-store-'));
    },
    stop: async () => rmSync(dir, { recursive: true, force: true }),
    freshLocation: async () => join(dir, `s${++n}.db`),
  };
}

function postgresBackend(): Backend {
  let pg: TestPostgres | undefined;
  return {
    name: 'postgresql',
    skip: postgresSkip,
    start: async () => {
      pg = await startTestPostgres();
    },
    stop: async () => pg?.close(),
    freshLocation: () => pg!.freshDatabase(),
  };
}

const reading = (device: string, ts: number, v: number, worker = 'w1', metric = 'temperature') => ({
  device,
  site: 's',
  metric,
  ts,
  v,
  unit: '°C',
  worker,
});
const alertOf = (id: string, ts: number, device = 'dev-001'): StoredAlert => ({
  id,
  device,
  site: 'site-1',
  ts,
  type: 'low-battery',
  message: `battery ${id}`,
  v: 14,
  worker: 'w1',
});

for (const backend of [sqliteBackend(), postgresBackend()]) {
  describe(`telemetry store contract [${backend.name}]`, { skip: backend.skip }, () => {
    const open: TelemetryStore[] = [];
    const openAt = async (location: string, options: StoreOptions = {}) => {
      const store = await openStore(location, { retentionHours: 0, ...options });
      open.push(store);
      return store;
    };

    before(() => backend.start());
    after(async () => {
      for (const store of open) await store.close().catch(() => {});
      await backend.stop();
    });

    test('series buckets hold mean, min and max of the readings in them; latest is the newest per metric', async () => {
      const store = await openAt(await backend.freshLocation());
      const base = 1_000_000;
      // 0..99 at ts base+0..base+99 → 4 buckets of 25 ms.
      for (let i = 0; i < 100; i++) store.addReading(reading('d1', base + i, i, i % 2 ? 'w1' : 'w2'));
      store.addReading(reading('d2', base, 1000));
      store.addReading({ ...reading('d1', base + 50, 55), metric: 'humidity', unit: '%' });
      assert.equal(store.backlog, 102);
      await store.flush();
      assert.equal(store.backlog, 0);
      assert.equal(store.readingsWritten, 102);
      const { bucketMs, points } = await store.series('d1', 'temperature', base, base + 99, 4);
      assert.equal(bucketMs, 25);
      assert.deepEqual(
        points.map((p) => [p.n, p.min, p.max, p.v, p.ts]),
        [
          [25, 0, 24, 12, base + 12],
          [25, 25, 49, 37, base + 37],
          [25, 50, 74, 62, base + 62],
          [25, 75, 99, 87, base + 87],
        ],
      );
      assert.deepEqual((await store.series('d1', 'temperature', base + 200, base + 300, 10)).points, []);
      assert.deepEqual((await store.series('nobody', 'temperature', base, base + 99, 10)).points, []);
      assert.deepEqual(await store.latest('d1'), {
        humidity: { v: 55, unit: '%', ts: base + 50 },
        temperature: { v: 99, unit: '°C', ts: base + 99 },
      });
      assert.deepEqual(await store.latest('nobody'), {});
      assert.deepEqual(await store.countsByWorker(), [
        { worker: 'w1', readings: 52, alerts: 0 },
        { worker: 'w2', readings: 50, alerts: 0 },
      ]);
      assert.deepEqual(store.totals(), { readings: 102, alerts: 0 });
    });

    test('readings are written in batches of batchSize without waiting for the timer', async () => {
      const store = await openAt(await backend.freshLocation(), { batchSize: 10, flushMs: 60_000 });
      for (let i = 0; i < 25; i++) store.addReading(reading('d1', i, i));
      const deadline = Date.now() + 5000;
      while (store.readingsWritten < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.ok(store.readingsWritten >= 20, `${store.readingsWritten} written before the 60 s timer`);
      assert.ok(store.largestBatch >= 10);
      await store.flush();
      assert.equal(store.readingsWritten, 25);
      assert.equal(store.backlog, 0);
    });

    test('an alert redelivered with the same id is stored once and counted as a duplicate', async () => {
      const store = await openAt(await backend.freshLocation());
      const alert = alertOf('run-dev-001-1', 5);
      assert.equal(await store.addAlert(alert), true);
      assert.equal(await store.addAlert({ ...alert, worker: 'w2' }), false);
      assert.equal(store.alertsWritten, 1);
      assert.equal(store.alertDuplicates, 1);
      assert.deepEqual(await store.alerts(10), [alert]);
      assert.deepEqual(store.totals(), { readings: 0, alerts: 1 });
      assert.deepEqual(await store.countsByWorker(), [{ worker: 'w1', readings: 0, alerts: 1 }]);
    });

    test('readings lost are the gaps in each device run’s sequence numbers; alert duplicates are counted per device', async () => {
      const location = await backend.freshLocation();
      const store = await openAt(location, { batchSize: 4 });
      // dev-1 run a: 1..10 without 4 and 7 (2 lost), spread over several batches and out of order;
      // dev-1 run b starts again at 1: 1..3 all there; dev-2: 5..9 without 6 (the gap before 5 is not seen).
      const seqs: Array<[string, string, number]> = [
        ...[3, 1, 2, 5, 6, 10, 8, 9].map((n): [string, string, number] => ['dev-1', 'a', n]),
        ...[1, 2, 3].map((n): [string, string, number] => ['dev-1', 'b', n]),
        ...[5, 7, 8, 9].map((n): [string, string, number] => ['dev-2', 'z', n]),
      ];
      for (const [device, run, seq] of seqs) store.addReading({ ...reading(device, 1000 + seq, seq), seq, run });
      store.addReading(reading('dev-3', 1000, 1));
      await store.flush();
      await store.addAlert(alertOf('x-1', 5, 'dev-2'));
      for (let i = 0; i < 3; i++) assert.equal(await store.addAlert(alertOf('x-1', 5, 'dev-2')), false);
      assert.deepEqual(await store.deliveryByDevice(), [
        { device: 'dev-1', readingsLost: 2, alertsDuplicated: 0 },
        { device: 'dev-2', readingsLost: 1, alertsDuplicated: 3 },
      ]);
      const second = await openAt(location);
      second.addReading({ ...reading('dev-2', 1006, 6), seq: 6, run: 'z' });
      await second.flush();
      assert.deepEqual(
        await store.deliveryByDevice(),
        [
          { device: 'dev-1', readingsLost: 2, alertsDuplicated: 0 },
          { device: 'dev-2', readingsLost: 0, alertsDuplicated: 3 },
        ],
        'a late reading from another process closes the gap',
      );
    });

    test('alerts come newest first, limited, optionally of one device', async () => {
      const store = await openAt(await backend.freshLocation());
      for (const [id, ts, device] of [
        ['a', 1, 'dev-1'],
        ['b', 3, 'dev-2'],
        ['c', 2, 'dev-1'],
        ['d', 3, 'dev-1'],
      ] as const)
        await store.addAlert(alertOf(id, ts, device));
      assert.deepEqual(
        (await store.alerts(10)).map((a) => a.id),
        ['d', 'b', 'c', 'a'],
        'ts descending, then id descending',
      );
      assert.deepEqual(
        (await store.alerts(2)).map((a) => a.id),
        ['d', 'b'],
      );
      assert.deepEqual(
        (await store.alerts(10, 'dev-1')).map((a) => a.id),
        ['d', 'c', 'a'],
      );
      assert.deepEqual(await store.alerts(10, 'nobody'), []);
    });

    test('two stores on one database (two ingest processes): the same alert from both is stored once', async () => {
      const location = await backend.freshLocation();
      const a = await openAt(location);
      const b = await openAt(location);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).addAlert(alertOf(`dup-${i >> 1}`, i))));
      assert.equal(results.filter(Boolean).length, 10, 'each of the 10 ids stored by exactly one of the two');
      assert.equal(a.alertsWritten + b.alertsWritten, 10);
      assert.equal(a.alertDuplicates + b.alertDuplicates, 10);
      assert.equal((await a.alerts(100)).length, 10);
      a.addReading(reading('d1', 1, 1, 'a/w1'));
      b.addReading(reading('d1', 2, 2, 'b/w1'));
      await Promise.all([a.flush(), b.flush()]);
      assert.deepEqual(
        (await b.series('d1', 'temperature', 0, 10, 1)).points.map((p) => p.n),
        [2],
        'both processes see all readings',
      );
    });

    test('presence history comes back in order', async () => {
      const store = await openAt(await backend.freshLocation());
      await store.addPresence('dev-1', 'online', 10);
      await store.addPresence('dev-2', 'online', 11);
      await store.addPresence('dev-1', 'offline', 20);
      await store.addPresence('dev-1', 'online', 30);
      assert.deepEqual(await store.presenceHistory('dev-1'), [
        { status: 'online', ts: 10 },
        { status: 'offline', ts: 20 },
        { status: 'online', ts: 30 },
      ]);
    });

    test('a store reopened keeps its rows and counts them; a closed store refuses writes', async () => {
      const location = await backend.freshLocation();
      const first = await openAt(location);
      first.addReading({ device: 'd', site: 's', metric: 'm', ts: 1, v: 2, unit: 'u', worker: 'w1' });
      await first.addAlert(alertOf('x', 1));
      await first.close();
      assert.throws(() => first.addReading(reading('d', 2, 2)), /closed/);
      await assert.rejects(first.addAlert(alertOf('y', 2)), /closed/);
      const second = await openAt(location);
      assert.deepEqual(second.totals(), { readings: 1, alerts: 1 });
      assert.deepEqual(await second.latest('d'), { m: { v: 2, unit: 'u', ts: 1 } });
      assert.equal(second.readingsWritten, 0, 'counters are per run');
    });

    test('retention: readings and alerts older than retentionHours are gone after open, newer ones stay', async () => {
      const location = await backend.freshLocation();
      const now = Date.now();
      const first = await openAt(location);
      first.addReading(reading('d1', now - 3 * 86_400_000, 1));
      first.addReading(reading('d1', now - 60_000, 2));
      await first.addAlert(alertOf('old', now - 3 * 3_600_000));
      await first.addAlert(alertOf('new', now - 60_000));
      await first.addPresence('d1', 'online', now - 3 * 86_400_000);
      await first.close();
      const second = await openAt(location, { retentionHours: 1 });
      assert.deepEqual(
        (await second.series('d1', 'temperature', 0, now, 1)).points.map((p) => [p.n, p.v]),
        [[1, 2]],
      );
      assert.deepEqual(
        (await second.alerts(10)).map((a) => a.id),
        ['new'],
      );
      assert.deepEqual(await second.presenceHistory('d1'), []);
      assert.deepEqual(second.totals(), { readings: 1, alerts: 1 });
    });
  });
}
