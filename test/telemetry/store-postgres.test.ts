/**
 * What only the PostgreSQL store has: one-line errors when connecting fails, versioned migrations,
 * day partitions, and a database that goes away and comes back while ingestion runs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { startFleet, startIngest, openStore } from '../../src/telemetry/index.js';
import { deleteOlderThan, ensurePartitions, POSTGRES_SCHEMA_VERSION } from '../../src/telemetry/postgres-schema.js';
import { freePort } from '../../src/util/index.js';
import { startEmbedded, type TestBroker } from '../helpers/brokers.js';
import { connectClient, end, waitUntil } from '../helpers/clients.js';
import { postgresSkip, queryRows, startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

const DAY = 86_400_000;

describe('PostgreSQL store', { skip: postgresSkip }, () => {
  let pgServer: TestPostgres;

  before(async () => {
    pgServer = await startTestPostgres();
  });
  after(async () => {
    await pgServer?.close();
  });

  test('connection failures are one line saying what is wrong, without the password', async () => {
    const url = await pgServer.freshDatabase();
    const port = await freePort();
    const cases: Array<[string, RegExp]> = [
      [
        `postgresql://postgres:secret@127.0.0.1:${port}/x`,
        new RegExp(`^cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port} \\(connection refused\\): is it running, on this port\\?$`),
      ],
      [
        url.replace(':mqttlab@', ':wrong-password@'),
        /^PostgreSQL at 127\.0\.0\.1:\d+ refused the credentials of user "postgres": check user and password in the --store URL$/,
      ],
      [
        url.replace(/\/t\d+$/, '/nosuchdb'),
        /^PostgreSQL at 127\.0\.0\.1:\d+ has no database "nosuchdb": create it \(createdb nosuchdb\) or name another in the --store URL$/,
      ],
    ];
    for (const [location, expected] of cases) {
      const error = await openStore(location).then(
        () => assert.fail(`opened ${location}`),
        (e: Error) => e,
      );
      assert.match(error.message, expected);
      assert.doesNotMatch(error.message, /secret|wrong-password|mqttlab@/);
      assert.ok(!error.message.includes('\n'));
    }
  });

  test('migrations are applied once, in order, and recorded; a schema newer than the program is refused', async () => {
    const url = await pgServer.freshDatabase();
    const first = await openStore(url);
    await first.close();
    // Two processes starting at once: the advisory lock lets one migrate, the other finds it done.
    const [a, b] = await Promise.all([openStore(url), openStore(url)]);
    await Promise.all([a.close(), b.close()]);
    const applied = await queryRows<{ version: number; description: string }>(
      url,
      'SELECT version, description FROM mqttlab_schema ORDER BY version',
    );
    assert.deepEqual(
      applied.map((r) => r.version),
      Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1),
    );
    await queryRows(url, "INSERT INTO mqttlab_schema (version, description) VALUES (99, 'from the future')");
    await assert.rejects(openStore(url), (e: Error) => {
      assert.equal(
        e.message,
        `postgresql://postgres@127.0.0.1:${pgServer.server.port}/${url.split('/').pop()} has schema version 99, ` +
          `newer than this mqttlab (${POSTGRES_SCHEMA_VERSION}): upgrade mqttlab or use another database`,
      );
      return true;
    });
  });

  test('readings go to day partitions; a day without one waits in the default partition and moves; retention drops days', async () => {
    const url = await pgServer.freshDatabase();
    const now = Date.UTC(2026, 5, 15, 12);
    const store = await openStore(url, { retentionHours: 0 });
    for (const ts of [now, now - 5 * DAY, now + 0.5 * DAY])
      store.addReading({ device: 'd', site: 's', metric: 'm', ts, v: 1, unit: '', worker: 'w1' });
    await store.flush();
    await store.close();
    const where = () =>
      queryRows<{ part: string; n: number }>(
        url,
        'SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM readings GROUP BY 1 ORDER BY 1',
      );
    // The store made partitions around the real today; these three days of 2026 have none yet.
    assert.deepEqual(await where(), [{ part: 'readings_default', n: 3 }]);
    const db = new pg.Client(url);
    await db.connect();
    try {
      // Yesterday, today and tomorrow of 15 June: two of the three readings move out of the default partition.
      await ensurePartitions(db, now);
      assert.deepEqual(await where(), [
        { part: 'readings_20260615', n: 1 },
        { part: 'readings_20260616', n: 1 },
        { part: 'readings_default', n: 1 },
      ]);
      await ensurePartitions(db, now - 5 * DAY);
      assert.deepEqual(await where(), [
        { part: 'readings_20260610', n: 1 },
        { part: 'readings_20260615', n: 1 },
        { part: 'readings_20260616', n: 1 },
      ]);
      // Cutoff inside 15 June: days that ended before it are dropped whole, 15 June stays until its day is past.
      assert.deepEqual(await deleteOlderThan(db, now + 3_600_000), { readings: 1, alerts: 0 });
      assert.deepEqual(await where(), [
        { part: 'readings_20260615', n: 1 },
        { part: 'readings_20260616', n: 1 },
      ]);
      const tables = await db.query("SELECT relname FROM pg_class WHERE relname = 'readings_20260610'");
      assert.equal(tables.rowCount, 0, 'dropped, not emptied');
    } finally {
      await db.end();
    }
  });
});

describe('ingestion while PostgreSQL goes away and comes back', { skip: postgresSkip }, () => {
  let pgServer: TestPostgres;
  let broker: TestBroker;

  before(async () => {
    pgServer = await startTestPostgres();
    broker = await startEmbedded();
  });
  after(async () => {
    await broker?.close();
    await pgServer?.close();
  });

  test('nothing acknowledged is lost: alerts wait for their commit, readings wait in memory, all stored once after restart', async () => {
    const url = await pgServer.freshDatabase();
    const ingest = await startIngest({ url: broker.url, workers: 2, store: url, httpPort: 0, flushMs: 50, clientIdPrefix: 'pg-outage' });
    const fleet = await startFleet({ url: broker.url, devices: 4, intervalMs: 100, heatEventProbability: 0 });
    try {
      await waitUntil(() => ingest.stats().readings > 50, 10_000, 'readings stored before the outage');
      await pgServer.server.stop();
      const acked: string[] = [];
      const raised = fleet.devices.flatMap((id) =>
        [0, 1, 2].map((i) => fleet.alert(id, `outage ${i}`).then(() => acked.push(`${id}/${i}`))),
      );
      for (const p of raised) p.catch(() => {});
      await waitUntil(() => ingest.stats().store.unavailable !== null, 5000, 'the store notices the database is gone');
      const during = ingest.stats();
      assert.ok(during.backlog > 0, 'readings wait in memory');
      assert.equal(acked.length, 0, 'no alert is acknowledged while it cannot be committed');
      const api = await fetch(`${ingest.apiUrl}/alerts`);
      assert.equal(api.status, 503);
      assert.match(((await api.json()) as { error: string }).error, /^store unavailable: /);
      await pgServer.server.start();
      await Promise.all(raised);
      assert.equal(acked.length, 12);
      await fleet.stop();
      await waitUntil(
        () => ingest.stats().readings === fleet.sent.telemetry && ingest.stats().backlog === 0,
        15_000,
        `all ${fleet.sent.telemetry} readings stored`,
      );
      assert.equal(ingest.stats().store.unavailable, null);
      assert.equal(ingest.stats().readingsDropped, 0);
      const [alerts] = await queryRows<{ n: number; ids: number }>(
        url,
        "SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM alerts WHERE message LIKE 'outage %'",
      );
      assert.deepEqual(alerts, { n: 12, ids: 12 });
      const [readings] = await queryRows<{ n: number }>(url, 'SELECT count(*)::int AS n FROM readings');
      assert.equal(readings!.n, fleet.sent.telemetry);
    } finally {
      await fleet.stop().catch(() => {});
      await ingest.stop();
    }
  });

  test('input the database cannot hold is refused (ts out of range) or cleaned (NUL in text); what follows is stored', async () => {
    const url = await pgServer.freshDatabase();
    const rejected: string[] = [];
    const ingest = await startIngest({
      url: broker.url,
      workers: 1,
      store: url,
      httpPort: false,
      flushMs: 20,
      clientIdPrefix: 'pg-input',
      onRejected: (_t, why) => rejected.push(why),
    });
    const client = await connectClient(broker.url, { clientId: 'pg-input-pub' });
    try {
      await client.publishAsync('telemetry/s/dev-x/temperature', JSON.stringify({ v: 1, ts: 1e300 }), { qos: 0 });
      await client.publishAsync('telemetry/s/dev-x/temperature', JSON.stringify({ v: 2, ts: -5 }), { qos: 0 });
      await client.publishAsync('telemetry/s/dev-x/temperature', JSON.stringify({ v: 3, unit: 'a\u0000b' }), { qos: 0 });
      await client.publishAsync('alerts/s/dev-x', JSON.stringify({ id: 'nul\u0000id', message: 'x\u0000y' }), { qos: 1 });
      await client.publishAsync('telemetry/s/dev-x/temperature', JSON.stringify({ v: 4, unit: 'ab' }), { qos: 0 });
      await waitUntil(
        () => ingest.stats().readings === 2 && ingest.stats().alerts === 1,
        5000,
        'the good reading, the cleaned one and the alert stored',
      );
      assert.deepEqual(rejected, ['"ts" is not milliseconds since 1970', '"ts" is not milliseconds since 1970']);
      assert.deepEqual(await queryRows(url, "SELECT unit FROM series WHERE device = 'dev-x'"), [{ unit: 'ab' }]);
      assert.deepEqual(await queryRows(url, 'SELECT id, message FROM alerts'), [{ id: 'nulid', message: 'xy' }]);
      assert.equal(ingest.stats().readingsDropped, 0);
    } finally {
      await end(client);
      await ingest.stop();
    }
  });
});
