import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { describeConnectError, isTransient, redactUrl } from './postgres-errors.js';
import { deleteOlderThan, ensurePartitions, migrate } from './postgres-schema.js';
import { ReadingQueue } from './reading-queue.js';
import {
  mergeDelivery,
  mergeWorkerCounts,
  sequenceSpans,
  type DeviceDelivery,
  type LatestReadings,
  type SeriesPoint,
  type StoredAlert,
  type StoredReading,
  type StoreOptions,
  type TelemetryStore,
} from './store.js';

const seriesKey = (device: string, metric: string) => `${device}\u0000${metric}`;
/** int8 (COUNT, bigint columns) as a JS number: our values stay far below 2^53. */
const INT8_OID = 20;
const types = {
  getTypeParser: (oid: number, format?: string) =>
    oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text'),
} as pg.CustomTypesConfig;
const MAINTENANCE_MS = 600_000;
const TOTALS_MS = 1000;

/** COPY text format: a tab between fields, a newline per row; our fields are numbers. */
const copyText = (rows: Array<[number, number, number, number]>) => `${rows.map((r) => r.join('\t')).join('\n')}\n`;

/**
 * The server store: PostgreSQL through a small pool, so several ingest processes can write one
 * database. Readings are written per batch with COPY (2× multi-row INSERT … unnest, 5× INSERT …
 * VALUES, measured); an alert is one INSERT … ON CONFLICT (id) DO NOTHING, so a redelivered alert is
 * absorbed whichever process receives it. While the database is down, batches stay queued and an
 * alert's write is retried until it commits, so its PUBACK waits and nothing acknowledged is lost.
 */
export class PostgresStore implements TelemetryStore {
  readonly location: string;
  alertsWritten = 0;
  alertDuplicates = 0;
  private readonly queue: ReadingQueue;
  private readonly seriesIds = new Map<string, { id: number; site: string; unit: string }>();
  private readonly workerIds = new Map<string, number>();
  /** This process's row in ingest_counts. */
  private readonly run = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private readonly timers: NodeJS.Timeout[] = [];
  private base = { readings: 0, alerts: 0, ownReadings: 0, ownAlerts: 0 };
  private writeError: string | undefined;
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    url: string,
    private readonly options: StoreOptions,
  ) {
    this.location = redactUrl(url);
    this.queue = new ReadingQueue((rows) => this.writeBatch(rows), {
      flushMs: options.flushMs ?? 100,
      batchSize: options.batchSize ?? 2000,
      maxPending: options.maxPending ?? 500_000,
      observer: options.observer,
      retryable: isTransient,
    });
  }

  /** Connects, migrates the schema and prepares partitions; rejects with one line saying what is wrong. */
  static async open(url: string, options: StoreOptions = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({
      connectionString: url,
      max: 4,
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30_000,
      types,
      application_name: 'mqttlab-ingest',
    });
    // A connection the server closes (restart, failover) must not end the process: the query on it fails
    // (and is retried), an idle one is dropped by the pool, and the next query connects anew.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      await pool.end().catch(() => {});
      throw new Error(describeConnectError(error, url));
    }
    const store = new PostgresStore(pool, url, options);
    try {
      await migrate(client, store.location);
      await ensurePartitions(client, Date.now());
      const retentionHours = options.retentionHours ?? 24;
      if (retentionHours > 0) await deleteOlderThan(client, Date.now() - retentionHours * 3_600_000);
      client.release();
    } catch (error) {
      client.release();
      await store.queue.close().catch(() => {});
      await pool.end().catch(() => {});
      throw new Error(
        /newer than this mqttlab/.test((error as Error).message)
          ? (error as Error).message
          : `${store.location}: ${(error as Error).message}`,
      );
    }
    await store.refreshTotals();
    store.startTimers(options.retentionHours ?? 24);
    return store;
  }

  get readingsWritten(): number {
    return this.queue.readingsWritten;
  }
  get readingsDropped(): number {
    return this.queue.readingsDropped;
  }
  get largestBatch(): number {
    return this.queue.largestBatch;
  }
  get backlog(): number {
    return this.queue.backlog;
  }
  get unavailable(): string | undefined {
    return this.queue.unavailable ?? this.writeError;
  }

  private startTimers(retentionHours: number): void {
    this.timers.push(setInterval(() => void this.refreshTotals().catch(() => {}), TOTALS_MS));
    this.timers.push(
      setInterval(() => {
        void this.pool
          .connect()
          .then(async (client) => {
            try {
              await ensurePartitions(client, Date.now());
              if (retentionHours > 0) await deleteOlderThan(client, Date.now() - retentionHours * 3_600_000);
            } finally {
              client.release();
            }
          })
          .catch(() => {});
      }, MAINTENANCE_MS),
    );
    for (const t of this.timers) t.unref();
  }

  /** Totals of every process from ingest_counts; this process's own later writes are added in totals(). */
  private async refreshTotals(): Promise<void> {
    const own = { ownReadings: this.readingsWritten, ownAlerts: this.alertsWritten };
    const row = (
      await this.pool.query(
        'SELECT COALESCE(SUM(readings), 0)::bigint AS readings, COALESCE(SUM(alerts), 0)::bigint AS alerts FROM ingest_counts',
      )
    ).rows[0] as { readings: number; alerts: number };
    this.base = { readings: row.readings, alerts: row.alerts, ...own };
  }

  /** Runs `write` until it commits, pausing while the database is unreachable; gives up only when the store closes. */
  private async untilCommitted<T>(write: () => Promise<T>): Promise<T> {
    for (let failures = 0; ; failures++) {
      if (this.closed) throw new Error('store is closed');
      try {
        const result = await write();
        this.writeError = undefined;
        return result;
      } catch (error) {
        if (!isTransient(error)) throw error;
        this.writeError = (error as Error).message;
        await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** Math.min(failures, 6))));
      }
    }
  }

  /** Ids of the batch's series and workers: from the cache, new ones upserted (another process may have made them). */
  private async resolveIds(db: pg.ClientBase, rows: StoredReading[]): Promise<void> {
    const newSeries = new Map<string, StoredReading>();
    for (const r of rows) {
      const known = this.seriesIds.get(seriesKey(r.device, r.metric));
      if (!known || known.site !== r.site || known.unit !== r.unit) newSeries.set(seriesKey(r.device, r.metric), r);
    }
    if (newSeries.size > 0) {
      const list = [...newSeries.values()];
      const result = await db.query(
        `INSERT INTO series (device, site, metric, unit) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
         ON CONFLICT (device, metric) DO UPDATE SET site = EXCLUDED.site, unit = EXCLUDED.unit RETURNING id, device, site, metric, unit`,
        [list.map((r) => r.device), list.map((r) => r.site), list.map((r) => r.metric), list.map((r) => r.unit)],
      );
      for (const s of result.rows as Array<{ id: number; device: string; site: string; metric: string; unit: string }>)
        this.seriesIds.set(seriesKey(s.device, s.metric), { id: s.id, site: s.site, unit: s.unit });
    }
    const newWorkers = [...new Set(rows.map((r) => r.worker))].filter((w) => !this.workerIds.has(w));
    if (newWorkers.length > 0) {
      const result = await db.query(
        'INSERT INTO workers (name) SELECT unnest($1::text[]) ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id, name',
        [newWorkers],
      );
      for (const w of result.rows as Array<{ id: number; name: string }>) this.workerIds.set(w.name, w.id);
    }
  }

  /** One transaction: COPY the rows, add them to this run's count. */
  private async writeBatch(rows: StoredReading[]): Promise<void> {
    const db = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await this.resolveIds(db, rows);
      const tuples = rows.map((r): [number, number, number, number] => [
        this.seriesIds.get(seriesKey(r.device, r.metric))!.id,
        r.ts,
        r.v,
        this.workerIds.get(r.worker)!,
      ]);
      await db.query('BEGIN');
      await pipeline(Readable.from([copyText(tuples)]), db.query(copyFrom('COPY readings (series, ts, v, worker) FROM STDIN')));
      await db.query(
        'INSERT INTO ingest_counts (run, readings) VALUES ($1, $2) ' +
          'ON CONFLICT (run) DO UPDATE SET readings = ingest_counts.readings + EXCLUDED.readings',
        [this.run, rows.length],
      );
      await this.countSequences(db, rows);
      await db.query('COMMIT');
    } catch (error) {
      broken = error as Error;
      await db.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      // A connection that failed mid-transaction is not put back in the pool.
      db.release(broken && isTransient(broken) ? broken : undefined);
    }
  }

  /** In the batch's transaction: each device run's received sequence numbers, merged into reading_runs. */
  private async countSequences(db: pg.ClientBase, rows: StoredReading[]): Promise<void> {
    const spans = sequenceSpans(rows);
    if (spans.length === 0) return;
    // Sorted by key, so two processes upserting the same runs lock the rows in the same order (no deadlock).
    spans.sort((a, b) => (a.device === b.device ? (a.run < b.run ? -1 : 1) : a.device < b.device ? -1 : 1));
    await db.query(
      `INSERT INTO reading_runs AS r (device, run, first_seq, last_seq, received, last_ts)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[])
       ON CONFLICT (device, run) DO UPDATE SET first_seq = LEAST(r.first_seq, EXCLUDED.first_seq),
         last_seq = GREATEST(r.last_seq, EXCLUDED.last_seq), received = r.received + EXCLUDED.received,
         last_ts = GREATEST(r.last_ts, EXCLUDED.last_ts)`,
      [
        spans.map((s) => s.device),
        spans.map((s) => s.run),
        spans.map((s) => s.first),
        spans.map((s) => s.last),
        spans.map((s) => s.received),
        spans.map((s) => s.lastTs),
      ],
    );
  }

  addReading(reading: StoredReading): void {
    if (this.closed) throw new Error('store is closed');
    this.queue.add(reading);
  }

  async addAlert(alert: StoredAlert): Promise<boolean> {
    if (this.closed) throw new Error('store is closed');
    const stored = await this.untilCommitted(async () => {
      const result = await this.pool.query(
        `WITH inserted AS (
           INSERT INTO alerts (id, device, site, ts, type, message, v, worker) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (id) DO NOTHING RETURNING id),
         counted AS (
           INSERT INTO ingest_counts (run, alerts) SELECT $9, 1 FROM inserted
            ON CONFLICT (run) DO UPDATE SET alerts = ingest_counts.alerts + 1),
         duplicated AS (
           INSERT INTO alert_duplicates AS d (device, n, last_ts) SELECT $2, 1, $4 WHERE NOT EXISTS (SELECT 1 FROM inserted)
            ON CONFLICT (device) DO UPDATE SET n = d.n + 1, last_ts = GREATEST(d.last_ts, EXCLUDED.last_ts))
         SELECT count(*)::int AS n FROM inserted`,
        [alert.id, alert.device, alert.site, alert.ts, alert.type, alert.message, alert.v, alert.worker, this.run],
      );
      return (result.rows[0] as { n: number }).n === 1;
    });
    if (stored) this.alertsWritten++;
    else this.alertDuplicates++;
    this.options.observer?.alertStored?.(alert.worker, !stored);
    return stored;
  }

  async addPresence(device: string, status: string, ts: number): Promise<void> {
    if (this.closed) throw new Error('store is closed');
    await this.untilCommitted(() => this.pool.query('INSERT INTO presence (device, status, ts) VALUES ($1, $2, $3)', [device, status, ts]));
  }

  flush(): Promise<void> {
    return this.queue.flush();
  }

  async latest(device: string): Promise<LatestReadings> {
    const result = await this.pool.query(
      `SELECT s.metric, s.unit, r.v, r.ts FROM series s
       CROSS JOIN LATERAL (SELECT v, ts FROM readings WHERE series = s.id ORDER BY ts DESC LIMIT 1) r
       WHERE s.device = $1 ORDER BY s.metric`,
      [device],
    );
    const out: LatestReadings = {};
    for (const row of result.rows as Array<{ metric: string; unit: string; v: number; ts: number }>)
      out[row.metric] = { v: row.v, unit: row.unit, ts: row.ts };
    return out;
  }

  async series(
    device: string,
    metric: string,
    from: number,
    to: number,
    points: number,
  ): Promise<{ bucketMs: number; points: SeriesPoint[] }> {
    const bucketMs = Math.max(1, Math.ceil((to - from + 1) / points));
    const result = await this.pool.query(
      `SELECT (ts - $3::bigint) / $5::bigint AS bucket, floor(avg(ts))::bigint AS ts,
              avg(v) AS v, min(v) AS min, max(v) AS max, count(*)::int AS n
       FROM readings WHERE series = (SELECT id FROM series WHERE device = $1 AND metric = $2) AND ts BETWEEN $3 AND $4
       GROUP BY bucket ORDER BY bucket`,
      [device, metric, from, to, bucketMs],
    );
    return {
      bucketMs,
      points: (result.rows as Array<SeriesPoint & { bucket: number }>).map(({ ts, v, min, max, n }) => ({ ts, v, min, max, n })),
    };
  }

  async alerts(limit: number, device?: string): Promise<StoredAlert[]> {
    const columns = 'id, device, site, ts, type, message, v, worker';
    // COLLATE "C": the same tie order as SQLite's byte comparison, whatever the database's locale.
    const result = device
      ? await this.pool.query(`SELECT ${columns} FROM alerts WHERE device = $1 ORDER BY ts DESC, id COLLATE "C" DESC LIMIT $2`, [
          device,
          limit,
        ])
      : await this.pool.query(`SELECT ${columns} FROM alerts ORDER BY ts DESC, id COLLATE "C" DESC LIMIT $1`, [limit]);
    return result.rows as StoredAlert[];
  }

  async presenceHistory(device: string): Promise<Array<{ status: string; ts: number }>> {
    return (await this.pool.query('SELECT status, ts FROM presence WHERE device = $1 ORDER BY ts, id', [device])).rows as Array<{
      status: string;
      ts: number;
    }>;
  }

  totals(): { readings: number; alerts: number } {
    const b = this.base;
    return { readings: b.readings + this.readingsWritten - b.ownReadings, alerts: b.alerts + this.alertsWritten - b.ownAlerts };
  }

  async countsByWorker(): Promise<Array<{ worker: string; readings: number; alerts: number }>> {
    const readings = (
      await this.pool.query('SELECT w.name AS worker, count(*)::int AS n FROM readings r JOIN workers w ON w.id = r.worker GROUP BY w.name')
    ).rows as Array<{ worker: string; n: number }>;
    const alerts = (await this.pool.query('SELECT worker, count(*)::int AS n FROM alerts GROUP BY worker')).rows as Array<{
      worker: string;
      n: number;
    }>;
    return mergeWorkerCounts(readings, alerts);
  }

  async deliveryByDevice(): Promise<DeviceDelivery[]> {
    const lost = (
      await this.pool.query('SELECT device, SUM(last_seq - first_seq + 1 - received)::bigint AS n FROM reading_runs GROUP BY device')
    ).rows as Array<{ device: string; n: number }>;
    const duplicated = (await this.pool.query('SELECT device, n FROM alert_duplicates')).rows as Array<{ device: string; n: number }>;
    return mergeDelivery(lost, duplicated);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const t of this.timers) clearInterval(t);
    try {
      await this.queue.close();
    } finally {
      this.closed = true;
      await this.pool.end().catch(() => {});
    }
  }
}
