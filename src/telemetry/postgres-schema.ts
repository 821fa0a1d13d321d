import type pg from 'pg';

/** One step of the schema; applied once, in order, and recorded in `mqttlab_schema`. */
interface Migration {
  version: number;
  description: string;
  sql: string;
}

/**
 * The PostgreSQL schema, as migrations. Readings are normalised as in SQLite (four numbers a row, the
 * text once per series) and partitioned by day on `ts` with a btree (series, ts) in each partition:
 * measured against BRIN (test/telemetry/pg-write-measure.ts, docs/telemetry.md), partitions answer a
 * series range and the newest reading as fast as a plain btree and turn retention into DROP TABLE
 * (19 ms against 721 ms for DELETE of a day of 300,000 rows); BRIN alone took 110 ms for the newest
 * reading of a series. A default partition takes readings whose day has no partition yet.
 */
const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'series, workers, readings partitioned by day, alerts unique by id, presence',
    sql: `
      CREATE TABLE series (id serial PRIMARY KEY, device text NOT NULL, site text NOT NULL, metric text NOT NULL, unit text NOT NULL,
        UNIQUE (device, metric));
      CREATE TABLE workers (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
      CREATE TABLE readings (series int NOT NULL, ts bigint NOT NULL, v double precision NOT NULL, worker int NOT NULL)
        PARTITION BY RANGE (ts);
      CREATE TABLE readings_default PARTITION OF readings DEFAULT;
      CREATE INDEX readings_series_ts ON readings (series, ts);
      CREATE TABLE alerts (id text PRIMARY KEY, device text NOT NULL, site text NOT NULL, ts bigint NOT NULL, type text NOT NULL,
        message text NOT NULL, v double precision, worker text NOT NULL);
      CREATE INDEX alerts_ts ON alerts (ts);
      CREATE INDEX alerts_device_ts ON alerts (device, ts);
      CREATE TABLE presence (id bigserial PRIMARY KEY, device text NOT NULL, status text NOT NULL, ts bigint NOT NULL);
      CREATE INDEX presence_device_ts ON presence (device, ts);
    `,
  },
  {
    version: 2,
    description: 'row counts per ingest run, so /api/stats needs no COUNT(*) over the readings',
    sql: `
      CREATE TABLE ingest_counts (run text PRIMARY KEY, readings bigint NOT NULL DEFAULT 0, alerts bigint NOT NULL DEFAULT 0);
      INSERT INTO ingest_counts (run, readings, alerts)
        VALUES ('before-counts', (SELECT count(*) FROM readings), (SELECT count(*) FROM alerts));
    `,
  },
  {
    version: 3,
    description: 'sequence spans of each device run (QoS 0 readings lost) and alert duplicates per device',
    sql: `
      CREATE TABLE reading_runs (device text NOT NULL, run text NOT NULL, first_seq bigint NOT NULL, last_seq bigint NOT NULL,
        received bigint NOT NULL, last_ts bigint NOT NULL, PRIMARY KEY (device, run));
      CREATE TABLE alert_duplicates (device text PRIMARY KEY, n bigint NOT NULL, last_ts bigint NOT NULL);
    `,
  },
];

/** The schema version this program writes. */
export const POSTGRES_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Advisory lock key held while migrating or managing partitions, so concurrent ingest processes take turns. */
const SCHEMA_LOCK = 0x6d71_7474;
const DAY_MS = 86_400_000;

/**
 * Brings the database to this program's schema: applies the missing migrations in one transaction
 * (under an advisory lock, so two processes starting together do not both migrate) and refuses a
 * database whose schema is newer than this program. Returns the versions applied.
 */
export async function migrate(db: pg.ClientBase, location: string): Promise<number[]> {
  await db.query('BEGIN');
  try {
    await db.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    await db.query(
      'CREATE TABLE IF NOT EXISTS mqttlab_schema ' +
        '(version int PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const current = Number((await db.query('SELECT COALESCE(MAX(version), 0) AS v FROM mqttlab_schema')).rows[0].v);
    if (current > POSTGRES_SCHEMA_VERSION) {
      throw new Error(
        `${location} has schema version ${current}, newer than this mqttlab (${POSTGRES_SCHEMA_VERSION}): ` +
          'upgrade mqttlab or use another database',
      );
    }
    const applied: number[] = [];
    for (const m of MIGRATIONS.filter((x) => x.version > current)) {
      await db.query(m.sql);
      await db.query('INSERT INTO mqttlab_schema (version, description) VALUES ($1, $2)', [m.version, m.description]);
      applied.push(m.version);
    }
    await db.query('COMMIT');
    return applied;
  } catch (error) {
    await db.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/** `readings_YYYYMMDD` for the UTC day holding `ts`, with its bounds. */
function dayPartition(ts: number): { name: string; from: number; to: number } {
  const from = Math.floor(ts / DAY_MS) * DAY_MS;
  return { name: `readings_${new Date(from).toISOString().slice(0, 10).replaceAll('-', '')}`, from, to: from + DAY_MS };
}

/**
 * Makes sure yesterday, today and tomorrow have partitions. Readings of a day that had none sit in
 * the default partition; they are moved into the new partition in the same transaction (PostgreSQL
 * refuses a partition whose range the default partition already holds rows of).
 */
export async function ensurePartitions(db: pg.ClientBase, now: number): Promise<void> {
  const wanted = [-1, 0, 1].map((d) => dayPartition(now + d * DAY_MS));
  const existing = new Set(
    (
      await db.query(
        "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'readings'::regclass",
      )
    ).rows.map((r: { name: string }) => r.name),
  );
  const missing = wanted.filter((p) => !existing.has(p.name));
  if (missing.length === 0) return;
  await db.query('BEGIN');
  try {
    await db.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    for (const p of missing) {
      // CREATE TABLE AS takes no bind parameters; the bounds are numbers computed here.
      await db.query(
        `CREATE TEMP TABLE moved ON COMMIT DROP AS
           WITH d AS (DELETE FROM readings_default WHERE ts >= ${p.from} AND ts < ${p.to} RETURNING *) SELECT * FROM d`,
      );
      await db.query(`CREATE TABLE IF NOT EXISTS ${p.name} PARTITION OF readings FOR VALUES FROM (${p.from}) TO (${p.to})`);
      await db.query('INSERT INTO readings SELECT * FROM moved');
      await db.query('DROP TABLE moved');
    }
    await db.query('COMMIT');
  } catch (error) {
    await db.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/**
 * Deletes what is older than `cutoff`: whole day partitions that end before it (DROP TABLE, no row
 * by row delete), older rows of the default partition, alerts and presence. Readings of the day that
 * straddles the cutoff stay until their whole day is past it. Returns the rows removed.
 */
export async function deleteOlderThan(db: pg.ClientBase, cutoff: number): Promise<{ readings: number; alerts: number }> {
  const partitions = (
    await db.query(
      'SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid ' +
        "WHERE i.inhparent = 'readings'::regclass AND c.relname ~ '^readings_[0-9]{8}$'",
    )
  ).rows as Array<{ name: string }>;
  let readings = 0;
  await db.query('BEGIN');
  try {
    await db.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    for (const { name } of partitions) {
      const day = Date.UTC(Number(name.slice(9, 13)), Number(name.slice(13, 15)) - 1, Number(name.slice(15, 17)));
      if (day + DAY_MS > cutoff) continue;
      readings += Number((await db.query(`SELECT count(*) AS n FROM ${name}`)).rows[0].n);
      await db.query(`DROP TABLE IF EXISTS ${name}`);
    }
    readings += (await db.query('DELETE FROM readings_default WHERE ts < $1', [cutoff])).rowCount ?? 0;
    const alerts = (await db.query('DELETE FROM alerts WHERE ts < $1', [cutoff])).rowCount ?? 0;
    await db.query('DELETE FROM presence WHERE ts < $1', [cutoff]);
    await db.query('DELETE FROM reading_runs WHERE last_ts < $1', [cutoff]);
    await db.query('DELETE FROM alert_duplicates WHERE last_ts < $1', [cutoff]);
    await db.query(
      "INSERT INTO ingest_counts (run, readings, alerts) VALUES ('retention', $1, $2) ON CONFLICT (run) " +
        'DO UPDATE SET readings = ingest_counts.readings + EXCLUDED.readings, alerts = ingest_counts.alerts + EXCLUDED.alerts',
      [-readings, -alerts],
    );
    await db.query('COMMIT');
    return { readings, alerts };
  } catch (error) {
    await db.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
