/**
 * How the PostgreSQL store writes readings and indexes time: measured, not guessed.
 * Run: `npx tsc -p . && node dist/test/telemetry/pg-write-measure.js [rows]` (default 1,200,000).
 * Starts its own PostgreSQL (Debian's, temp dir, loopback, fsync on) and reports:
 *   1. batch methods: multi-row INSERT … VALUES, INSERT … SELECT unnest($arrays), COPY FROM STDIN, 2000 rows a batch;
 *   2. time layouts: btree (series, ts); BRIN (ts) alone; BRIN (ts) + btree (series, ts); daily range
 *      partitions with btree (series, ts): load rate, a 10-minute series query, the newest reading of a
 *      device's series, deleting (or dropping) the oldest day, and the index size.
 * Rows are 1000 series over 4 days, arriving in time order as live ingestion writes them.
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { startPostgresProcess } from '../../src/util/index.js';

const ROWS = Number(process.argv[2] ?? 1_200_000);
const SERIES = 1000;
const BATCH = 2000;
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);
const STEP = Math.max(1, Math.floor((4 * DAY) / (ROWS / SERIES)));

type Row = [series: number, ts: number, v: number, worker: number];
const rowAt = (i: number): Row => [(i % SERIES) + 1, T0 + Math.floor(i / SERIES) * STEP, 20 + (i % 97) / 10, (i % 3) + 1];

async function insertValues(db: pg.Client, table: string, rows: Row[]): Promise<void> {
  const params: number[] = [];
  const tuples = rows.map((r, i) => {
    params.push(...r);
    return `($${i * 4 + 1}, $${i * 4 + 2}, $${i * 4 + 3}, $${i * 4 + 4})`;
  });
  await db.query(`INSERT INTO ${table} (series, ts, v, worker) VALUES ${tuples.join(',')}`, params);
}

async function insertUnnest(db: pg.Client, table: string, rows: Row[]): Promise<void> {
  await db.query(`INSERT INTO ${table} (series, ts, v, worker) SELECT * FROM unnest($1::int[], $2::bigint[], $3::float8[], $4::int[])`, [
    rows.map((r) => r[0]),
    rows.map((r) => r[1]),
    rows.map((r) => r[2]),
    rows.map((r) => r[3]),
  ]);
}

async function insertCopy(db: pg.Client, table: string, rows: Row[]): Promise<void> {
  const text = `${rows.map((r) => r.join('\t')).join('\n')}\n`;
  await pipeline(Readable.from([text]), db.query(copyFrom(`COPY ${table} (series, ts, v, worker) FROM STDIN`)));
}

/** Loads `rows` rows in batches (one transaction each, as the store commits); rows per second. */
async function load(
  db: pg.Client,
  table: string,
  rows: number,
  write: (db: pg.Client, table: string, rows: Row[]) => Promise<void>,
): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < rows; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, rows - i) }, (_, k) => rowAt(i + k));
    await write(db, table, batch);
  }
  return rows / (Number(process.hrtime.bigint() - started) / 1e9);
}

async function timed(fn: () => Promise<unknown>, repeat = 20): Promise<number> {
  await fn();
  const started = process.hrtime.bigint();
  for (let i = 0; i < repeat; i++) await fn();
  return Number(process.hrtime.bigint() - started) / 1e6 / repeat;
}

const LAYOUTS: Record<string, string[]> = {
  'btree (series, ts)': [
    'CREATE TABLE r (series int NOT NULL, ts bigint NOT NULL, v float8 NOT NULL, worker int NOT NULL)',
    'CREATE INDEX ON r (series, ts)',
  ],
  'BRIN (ts) only': [
    'CREATE TABLE r (series int NOT NULL, ts bigint NOT NULL, v float8 NOT NULL, worker int NOT NULL)',
    'CREATE INDEX ON r USING brin (ts)',
  ],
  'BRIN (ts) + btree (series, ts)': [
    'CREATE TABLE r (series int NOT NULL, ts bigint NOT NULL, v float8 NOT NULL, worker int NOT NULL)',
    'CREATE INDEX ON r USING brin (ts)',
    'CREATE INDEX ON r (series, ts)',
  ],
  'daily partitions + btree (series, ts)': [
    'CREATE TABLE r (series int NOT NULL, ts bigint NOT NULL, v float8 NOT NULL, worker int NOT NULL) PARTITION BY RANGE (ts)',
    ...Array.from(
      { length: 5 },
      (_, d) => `CREATE TABLE r_d${d} PARTITION OF r FOR VALUES FROM (${T0 + d * DAY}) TO (${T0 + (d + 1) * DAY})`,
    ),
    'CREATE INDEX ON r (series, ts)',
  ],
};

async function main(): Promise<void> {
  const server = await startPostgresProcess();
  const db = new pg.Client(server.url);
  await db.connect();
  try {
    const methodRows = Math.min(ROWS, 200_000);
    console.log(
      `PostgreSQL ${(await db.query('SHOW server_version')).rows[0].server_version}, fsync on; ` +
        `${ROWS.toLocaleString('en-US')} rows, ${SERIES} series, batches of ${BATCH}\n`,
    );
    console.log(`1. batch methods (${methodRows.toLocaleString('en-US')} rows into a table with btree (series, ts))`);
    for (const [name, write] of [
      ['multi-row INSERT VALUES', insertValues],
      ['INSERT SELECT unnest(arrays)', insertUnnest],
      ['COPY FROM STDIN', insertCopy],
    ] as const) {
      await db.query(
        'DROP TABLE IF EXISTS m; CREATE TABLE m (series int NOT NULL, ts bigint NOT NULL, v float8 NOT NULL, worker int NOT NULL); ' +
          'CREATE INDEX ON m (series, ts)',
      );
      const rate = await load(db, 'm', methodRows, write);
      console.log(`   ${name.padEnd(32)} ${Math.round(rate).toLocaleString('en-US').padStart(9)} rows/s`);
    }
    await db.query('DROP TABLE IF EXISTS m');
    console.log('\n2. time layouts (loaded with COPY)');
    console.log('   layout                                 load rows/s   series 10 min   latest   drop oldest day   index MB');
    const lastTs = rowAt(ROWS - 1)[1];
    for (const [name, ddl] of Object.entries(LAYOUTS)) {
      await db.query('DROP TABLE IF EXISTS r CASCADE');
      for (const statement of ddl) await db.query(statement);
      const rate = await load(db, 'r', ROWS, insertCopy);
      await db.query('VACUUM ANALYZE r');
      const seriesMs = await timed(() =>
        db.query('SELECT count(*), avg(v), min(v), max(v) FROM r WHERE series = $1 AND ts BETWEEN $2 AND $3', [
          17,
          lastTs - 600_000,
          lastTs,
        ]),
      );
      const latestMs = await timed(() => db.query('SELECT v, ts FROM r WHERE series = $1 ORDER BY ts DESC LIMIT 1', [17]));
      const indexMb =
        Number(
          (
            await db.query(
              "SELECT COALESCE(SUM(pg_indexes_size(c.oid)), 0) AS b FROM pg_class c WHERE c.relname LIKE 'r%' AND c.relkind IN ('r', 'p')",
            )
          ).rows[0].b,
        ) / 1048576;
      const started = process.hrtime.bigint();
      if (name.startsWith('daily')) await db.query('DROP TABLE r_d0');
      else await db.query('DELETE FROM r WHERE ts < $1', [T0 + DAY]);
      const dropMs = Number(process.hrtime.bigint() - started) / 1e6;
      console.log(
        `   ${name.padEnd(38)} ${Math.round(rate).toLocaleString('en-US').padStart(11)}   ${seriesMs.toFixed(2).padStart(10)} ms ` +
          `${latestMs.toFixed(2).padStart(6)} ms ${dropMs.toFixed(0).padStart(12)} ms ${indexMb.toFixed(1).padStart(10)}`,
      );
    }
  } finally {
    await db.end();
    await server.close();
  }
}

await main();
