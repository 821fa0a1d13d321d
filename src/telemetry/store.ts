import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/** Bumped when the tables change; a file of another version is refused with a clear message. */
const SCHEMA_VERSION = 2;

const seriesKey = (device: string, metric: string) => `${device}\u0000${metric}`;

/** One reading as ingestion stores it. */
export interface StoredReading {
  device: string;
  site: string;
  metric: string;
  ts: number;
  v: number;
  unit: string;
  worker: string;
}

/** One alert as ingestion stores it; `id` is the device's, unique per alert. */
export interface StoredAlert {
  id: string;
  device: string;
  site: string;
  ts: number;
  type: string;
  message: string;
  v: number | null;
  worker: string;
}

/** A downsampled point: the mean time and value, min and max of the readings in one bucket. */
export interface SeriesPoint {
  ts: number;
  v: number;
  min: number;
  max: number;
  n: number;
}

export interface TelemetryStoreOptions {
  /** SQLite file; `:memory:` for a store that lives as long as the process. */
  path: string;
  /** Pending readings are written at least this often (ms). Default 100. */
  flushMs?: number;
  /** …or as soon as this many are pending. Default 2000. */
  batchSize?: number;
  /** Readings and alerts older than this are deleted (at open and every 10 min); 0 keeps all. Default 24. */
  retentionHours?: number;
}

/**
 * The ingest store: SQLite in WAL mode (better-sqlite3). Readings arrive at QoS 0 in volume, so they
 * are batched into one transaction per flush; alerts arrive at QoS 1 and are written at once, so the
 * worker can acknowledge them only after they are stored.
 */
export class TelemetryStore {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly pending: StoredReading[] = [];
  private readonly batchSize: number;
  private readonly flushTimer: NodeJS.Timeout;
  private readonly retentionTimer: NodeJS.Timeout | undefined;
  private readonly insertReading: Database.Statement;
  private readonly insertAlert: Database.Statement;
  private readonly insertPresence: Database.Statement;
  private readonly writeBatch: (rows: StoredReading[]) => void;
  private closed = false;
  private readonly seriesIds = new Map<string, { id: number; site: string; unit: string }>();
  private readonly workerIds = new Map<string, number>();
  /** Rows not written by this run: counted at open and again after each retention pass. */
  private initialTotals = { readings: 0, alerts: 0 };
  /** Readings written by this process so far. */
  readingsWritten = 0;
  /** Alerts written by this process so far (duplicates excluded). */
  alertsWritten = 0;
  /** Alerts that arrived again with an id already stored (a QoS 1 redelivery). */
  alertDuplicates = 0;
  /** Readings in the largest batch written so far. */
  largestBatch = 0;

  constructor(options: TelemetryStoreOptions) {
    this.path = options.path;
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path);
    // WAL: readers (the API) never block the writer; NORMAL is durable at checkpoints and fast [sqlite.org/wal.html].
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    const tables = (this.db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number }).n;
    if (tables > 0 && version !== SCHEMA_VERSION) {
      this.db.close();
      throw new Error(
        `${options.path} was written by another version of mqttlab (schema ${version}, this one is ${SCHEMA_VERSION}): ` +
          'move it away or pass another --db',
      );
    }
    // Readings are normalised: a row is (series, ts, v, worker), four numbers, and the text of device,
    // site, metric and unit lives once per series. That made batches ~3× faster than rows carrying the
    // strings (measured with 300,000 rows, indexed by series and time).
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, device TEXT NOT NULL, site TEXT NOT NULL, metric TEXT NOT NULL,
        unit TEXT NOT NULL, UNIQUE (device, metric));
      CREATE TABLE IF NOT EXISTS workers (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
      CREATE TABLE IF NOT EXISTS readings (series INTEGER NOT NULL, ts INTEGER NOT NULL, v REAL NOT NULL, worker INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS readings_series_ts ON readings (series, ts);
      CREATE TABLE IF NOT EXISTS alerts (id TEXT PRIMARY KEY, device TEXT NOT NULL, site TEXT NOT NULL, ts INTEGER NOT NULL,
        type TEXT NOT NULL, message TEXT NOT NULL, v REAL, worker TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS alerts_ts ON alerts (ts);
      CREATE TABLE IF NOT EXISTS presence (device TEXT NOT NULL, status TEXT NOT NULL, ts INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS presence_device ON presence (device, ts);
      PRAGMA user_version = ${SCHEMA_VERSION};
    `);
    for (const row of this.db.prepare('SELECT id, device, site, metric, unit FROM series').all() as Array<{ id: number; device: string; site: string; metric: string; unit: string }>) {
      this.seriesIds.set(seriesKey(row.device, row.metric), { id: row.id, site: row.site, unit: row.unit });
    }
    for (const row of this.db.prepare('SELECT id, name FROM workers').all() as Array<{ id: number; name: string }>) this.workerIds.set(row.name, row.id);
    const insertSeries = this.db.prepare('INSERT INTO series (device, site, metric, unit) VALUES (?, ?, ?, ?)');
    const updateSeries = this.db.prepare('UPDATE series SET site = ?, unit = ? WHERE id = ?');
    const insertWorker = this.db.prepare('INSERT INTO workers (name) VALUES (?)');
    this.insertReading = this.db.prepare('INSERT INTO readings (series, ts, v, worker) VALUES (?, ?, ?, ?)');
    this.insertAlert = this.db.prepare(
      'INSERT OR IGNORE INTO alerts (id, device, site, ts, type, message, v, worker) ' +
        'VALUES (@id, @device, @site, @ts, @type, @message, @v, @worker)',
    );
    this.insertPresence = this.db.prepare('INSERT INTO presence (device, status, ts) VALUES (?, ?, ?)');
    this.writeBatch = this.db.transaction((rows: StoredReading[]) => {
      for (const row of rows) {
        const key = seriesKey(row.device, row.metric);
        let series = this.seriesIds.get(key);
        if (!series) {
          series = { id: Number(insertSeries.run(row.device, row.site, row.metric, row.unit).lastInsertRowid), site: row.site, unit: row.unit };
          this.seriesIds.set(key, series);
        } else if (series.site !== row.site || series.unit !== row.unit) {
          updateSeries.run(row.site, row.unit, series.id);
          series.site = row.site;
          series.unit = row.unit;
        }
        let worker = this.workerIds.get(row.worker);
        if (worker === undefined) {
          worker = Number(insertWorker.run(row.worker).lastInsertRowid);
          this.workerIds.set(row.worker, worker);
        }
        this.insertReading.run(series.id, row.ts, row.v, worker);
      }
    });
    this.batchSize = options.batchSize ?? 2000;
    this.flushTimer = setInterval(() => this.flush(), options.flushMs ?? 100);
    const retentionHours = options.retentionHours ?? 24;
    if (retentionHours > 0) {
      this.deleteOlderThan(Date.now() - retentionHours * 3_600_000);
      this.retentionTimer = setInterval(() => {
        this.flush();
        this.deleteOlderThan(Date.now() - retentionHours * 3_600_000);
        this.recount();
      }, 600_000);
      this.retentionTimer.unref();
    }
    this.recount();
  }

  private recount(): void {
    const count = (table: string) => (this.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    this.initialTotals = { readings: count('readings') - this.readingsWritten, alerts: count('alerts') - this.alertsWritten };
  }

  /** Readings received but not yet written: the ingest backlog. */
  get backlog(): number {
    return this.pending.length;
  }

  /** Queues a reading for the next batch. */
  addReading(reading: StoredReading): void {
    if (this.closed) throw new Error('store is closed');
    this.pending.push(reading);
    if (this.pending.length >= this.batchSize) this.flush();
  }

  /** Writes an alert now; false when an alert with this id was already stored. */
  addAlert(alert: StoredAlert): boolean {
    if (this.closed) throw new Error('store is closed');
    const stored = this.insertAlert.run(alert).changes === 1;
    if (stored) this.alertsWritten++;
    else this.alertDuplicates++;
    return stored;
  }

  /** Records a presence change. */
  addPresence(device: string, status: string, ts: number): void {
    if (!this.closed) this.insertPresence.run(device, status, ts);
  }

  /** Writes the pending readings in one transaction. */
  flush(): void {
    if (this.pending.length === 0 || this.closed) return;
    const rows = this.pending.splice(0, this.pending.length);
    this.writeBatch(rows);
    this.readingsWritten += rows.length;
    if (rows.length > this.largestBatch) this.largestBatch = rows.length;
  }

  /** The newest reading of each metric of a device. */
  latest(device: string): Record<string, { v: number; unit: string; ts: number }> {
    const series = this.db.prepare('SELECT id, metric, unit FROM series WHERE device = ? ORDER BY metric').all(device) as Array<{ id: number; metric: string; unit: string }>;
    const newest = this.db.prepare('SELECT v, ts FROM readings WHERE series = ? ORDER BY ts DESC LIMIT 1');
    const out: Record<string, { v: number; unit: string; ts: number }> = {};
    for (const s of series) {
      const row = newest.get(s.id) as { v: number; ts: number } | undefined;
      if (row) out[s.metric] = { v: row.v, unit: s.unit, ts: row.ts };
    }
    return out;
  }

  /** Readings of one device and metric in [from, to], downsampled to at most `points` buckets. */
  series(device: string, metric: string, from: number, to: number, points: number): { bucketMs: number; points: SeriesPoint[] } {
    const bucketMs = Math.max(1, Math.ceil((to - from + 1) / points));
    const series = this.seriesIds.get(seriesKey(device, metric));
    if (!series) return { bucketMs, points: [] };
    const rows = this.db
      .prepare(
        `SELECT CAST((ts - @from) / @bucketMs AS INTEGER) AS bucket, CAST(AVG(ts) AS INTEGER) AS meanTs,
                AVG(v) AS v, MIN(v) AS min, MAX(v) AS max, COUNT(*) AS n
         FROM readings WHERE series = @series AND ts BETWEEN @from AND @to
         GROUP BY bucket ORDER BY bucket`,
      )
      .all({ series: series.id, from, to, bucketMs }) as Array<{ bucket: number; meanTs: number; v: number; min: number; max: number; n: number }>;
    return {
      bucketMs,
      points: rows.map((r) => ({ ts: r.meanTs, v: r.v, min: r.min, max: r.max, n: r.n })),
    };
  }

  /** The newest alerts, optionally of one device. */
  alerts(limit: number, device?: string): StoredAlert[] {
    return (device
      ? this.db.prepare('SELECT * FROM alerts WHERE device = ? ORDER BY ts DESC, id DESC LIMIT ?').all(device, limit)
      : this.db.prepare('SELECT * FROM alerts ORDER BY ts DESC, id DESC LIMIT ?').all(limit)) as StoredAlert[];
  }

  /** Row counts of the whole store (all runs), without a COUNT(*) scan per call. */
  totals(): { readings: number; alerts: number } {
    return { readings: this.initialTotals.readings + this.readingsWritten, alerts: this.initialTotals.alerts + this.alertsWritten };
  }

  /** Rows written per worker, from the store itself (all runs). */
  countsByWorker(): Array<{ worker: string; readings: number; alerts: number }> {
    const readings = this.db.prepare('SELECT w.name AS worker, COUNT(*) AS n FROM readings r JOIN workers w ON w.id = r.worker GROUP BY w.name').all() as Array<{ worker: string; n: number }>;
    const alerts = this.db.prepare('SELECT worker, COUNT(*) AS n FROM alerts GROUP BY worker').all() as Array<{ worker: string; n: number }>;
    const out = new Map<string, { worker: string; readings: number; alerts: number }>();
    for (const r of readings) out.set(r.worker, { worker: r.worker, readings: r.n, alerts: 0 });
    for (const a of alerts) out.set(a.worker, { ...(out.get(a.worker) ?? { worker: a.worker, readings: 0 }), alerts: a.n });
    return [...out.values()].sort((a, b) => a.worker.localeCompare(b.worker));
  }

  /** Flushes and closes the database. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    clearInterval(this.flushTimer);
    clearInterval(this.retentionTimer);
    this.db.close();
  }

  private deleteOlderThan(ts: number): void {
    this.db.prepare('DELETE FROM readings WHERE ts < ?').run(ts);
    this.db.prepare('DELETE FROM alerts WHERE ts < ?').run(ts);
    this.db.prepare('DELETE FROM presence WHERE ts < ?').run(ts);
  }
}
