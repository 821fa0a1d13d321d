import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
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

/** Bumped when the tables change; a file of another version is refused with a clear message. */
const SCHEMA_VERSION = 3;
/** Versions this one upgrades in place: 3 only added tables (reading_runs, alert_duplicates). */
const UPGRADABLE_FROM = [2];

const seriesKey = (device: string, metric: string) => `${device}\u0000${metric}`;

/**
 * The embedded store: SQLite in WAL mode (better-sqlite3), one file, one writing process. Readings are
 * written one transaction per batch; an alert is written at once.
 */
export class SqliteStore implements TelemetryStore {
  readonly location: string;
  alertsWritten = 0;
  alertDuplicates = 0;
  private readonly db: Database.Database;
  private readonly queue: ReadingQueue;
  private readonly retentionTimer: NodeJS.Timeout | undefined;
  private readonly insertAlert: Database.Statement;
  private readonly insertPresence: Database.Statement;
  private readonly countDuplicate: Database.Statement;
  private readonly seriesIds = new Map<string, { id: number; site: string; unit: string }>();
  private readonly workerIds = new Map<string, number>();
  /** Rows not written by this run: counted at open and again after each retention pass. */
  private initialTotals = { readings: 0, alerts: 0 };
  private closed = false;
  /** The API's and retention's statements, prepared once each (a fixed set of SQL texts). */
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    path: string,
    private readonly options: StoreOptions = {},
  ) {
    this.location = path;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    // WAL: readers (the API) never block the writer; NORMAL is durable at checkpoints and fast [sqlite.org/wal.html].
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    const tables = (this.db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number }).n;
    if (tables > 0 && version !== SCHEMA_VERSION && !UPGRADABLE_FROM.includes(version)) {
      this.db.close();
      throw new Error(
        `${path} was written by another version of mqttlab (schema ${version}, this one is ${SCHEMA_VERSION}): ` +
          'move it away or pass another --store',
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
      CREATE TABLE IF NOT EXISTS reading_runs (device TEXT NOT NULL, run TEXT NOT NULL, first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL, received INTEGER NOT NULL, last_ts INTEGER NOT NULL, PRIMARY KEY (device, run));
      CREATE TABLE IF NOT EXISTS alert_duplicates (device TEXT PRIMARY KEY, n INTEGER NOT NULL, last_ts INTEGER NOT NULL);
      PRAGMA user_version = ${SCHEMA_VERSION};
    `);
    for (const row of this.db.prepare('SELECT id, device, site, metric, unit FROM series').all() as Array<{
      id: number;
      device: string;
      site: string;
      metric: string;
      unit: string;
    }>) {
      this.seriesIds.set(seriesKey(row.device, row.metric), { id: row.id, site: row.site, unit: row.unit });
    }
    for (const row of this.db.prepare('SELECT id, name FROM workers').all() as Array<{ id: number; name: string }>)
      this.workerIds.set(row.name, row.id);
    this.insertAlert = this.db.prepare(
      'INSERT OR IGNORE INTO alerts (id, device, site, ts, type, message, v, worker) ' +
        'VALUES (@id, @device, @site, @ts, @type, @message, @v, @worker)',
    );
    this.insertPresence = this.db.prepare('INSERT INTO presence (device, status, ts) VALUES (?, ?, ?)');
    this.countDuplicate = this.db.prepare(
      'INSERT INTO alert_duplicates (device, n, last_ts) VALUES (?, 1, ?) ' +
        'ON CONFLICT (device) DO UPDATE SET n = n + 1, last_ts = MAX(last_ts, excluded.last_ts)',
    );
    this.queue = new ReadingQueue(this.batchWriter(), {
      flushMs: options.flushMs ?? 100,
      batchSize: options.batchSize ?? 2000,
      maxPending: options.maxPending ?? 500_000,
      observer: options.observer,
    });
    const retentionHours = options.retentionHours ?? 24;
    if (retentionHours > 0) {
      this.deleteOlderThan(Date.now() - retentionHours * 3_600_000);
      this.retentionTimer = setInterval(() => {
        void this.queue
          .flush()
          .catch(() => {})
          .then(() => {
            if (this.closed) return;
            this.deleteOlderThan(Date.now() - retentionHours * 3_600_000);
            this.recount();
          });
      }, 600_000);
      this.retentionTimer.unref();
    }
    this.recount();
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
    return this.queue.unavailable;
  }

  /** One transaction per batch; series and worker ids are cached, new ones inserted on the way. */
  private batchWriter(): (rows: StoredReading[]) => void {
    // Upserts: another store on the same file (a second process) may have made the series or worker.
    const upsertSeries = this.db.prepare(
      'INSERT INTO series (device, site, metric, unit) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (device, metric) DO UPDATE SET site = excluded.site, unit = excluded.unit RETURNING id',
    );
    const upsertWorker = this.db.prepare(
      'INSERT INTO workers (name) VALUES (?) ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id',
    );
    const insertReading = this.db.prepare('INSERT INTO readings (series, ts, v, worker) VALUES (?, ?, ?, ?)');
    // In the batch's transaction: the counts of received sequence numbers commit with the rows they count.
    const upsertRun = this.db.prepare(
      'INSERT INTO reading_runs (device, run, first_seq, last_seq, received, last_ts) ' +
        'VALUES (@device, @run, @first, @last, @received, @lastTs) ON CONFLICT (device, run) DO UPDATE SET ' +
        'first_seq = MIN(first_seq, excluded.first_seq), last_seq = MAX(last_seq, excluded.last_seq), ' +
        'received = received + excluded.received, last_ts = MAX(last_ts, excluded.last_ts)',
    );
    return this.db.transaction((rows: StoredReading[]) => {
      for (const row of rows) {
        const key = seriesKey(row.device, row.metric);
        let series = this.seriesIds.get(key);
        if (!series || series.site !== row.site || series.unit !== row.unit) {
          series = {
            id: (upsertSeries.get(row.device, row.site, row.metric, row.unit) as { id: number }).id,
            site: row.site,
            unit: row.unit,
          };
          this.seriesIds.set(key, series);
        }
        let worker = this.workerIds.get(row.worker);
        if (worker === undefined) {
          worker = (upsertWorker.get(row.worker) as { id: number }).id;
          this.workerIds.set(row.worker, worker);
        }
        insertReading.run(series.id, row.ts, row.v, worker);
      }
      for (const span of sequenceSpans(rows)) upsertRun.run(span);
    });
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private recount(): void {
    const count = (table: string) => (this.statement(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    this.initialTotals = { readings: count('readings') - this.readingsWritten, alerts: count('alerts') - this.alertsWritten };
  }

  addReading(reading: StoredReading): void {
    if (this.closed) throw new Error('store is closed');
    this.queue.add(reading);
  }

  async addAlert(alert: StoredAlert): Promise<boolean> {
    if (this.closed) throw new Error('store is closed');
    const stored = this.db.transaction(() => {
      if (this.insertAlert.run(alert).changes === 1) return true;
      this.countDuplicate.run(alert.device, alert.ts);
      return false;
    })();
    if (stored) this.alertsWritten++;
    else this.alertDuplicates++;
    this.options.observer?.alertStored?.(alert.worker, !stored);
    return stored;
  }

  async addPresence(device: string, status: string, ts: number): Promise<void> {
    if (this.closed) throw new Error('store is closed');
    this.insertPresence.run(device, status, ts);
  }

  flush(): Promise<void> {
    return this.queue.flush();
  }

  async latest(device: string): Promise<LatestReadings> {
    const series = this.statement('SELECT id, metric, unit FROM series WHERE device = ? ORDER BY metric').all(device) as Array<{
      id: number;
      metric: string;
      unit: string;
    }>;
    const newest = this.statement('SELECT v, ts FROM readings WHERE series = ? ORDER BY ts DESC LIMIT 1');
    const out: LatestReadings = {};
    for (const s of series) {
      const row = newest.get(s.id) as { v: number; ts: number } | undefined;
      if (row) out[s.metric] = { v: row.v, unit: s.unit, ts: row.ts };
    }
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
    const rows = this.statement(
      `SELECT CAST((ts - @from) / @bucketMs AS INTEGER) AS bucket, CAST(AVG(ts) AS INTEGER) AS ts,
                AVG(v) AS v, MIN(v) AS min, MAX(v) AS max, COUNT(*) AS n
         FROM readings WHERE series = (SELECT id FROM series WHERE device = @device AND metric = @metric) AND ts BETWEEN @from AND @to
         GROUP BY bucket ORDER BY bucket`,
    ).all({ device, metric, from, to, bucketMs }) as Array<SeriesPoint & { bucket: number }>;
    return { bucketMs, points: rows.map(({ ts, v, min, max, n }) => ({ ts, v, min, max, n })) };
  }

  async alerts(limit: number, device?: string): Promise<StoredAlert[]> {
    return (
      device
        ? this.statement('SELECT * FROM alerts WHERE device = ? ORDER BY ts DESC, id DESC LIMIT ?').all(device, limit)
        : this.statement('SELECT * FROM alerts ORDER BY ts DESC, id DESC LIMIT ?').all(limit)
    ) as StoredAlert[];
  }

  async presenceHistory(device: string): Promise<Array<{ status: string; ts: number }>> {
    return this.statement('SELECT status, ts FROM presence WHERE device = ? ORDER BY ts, rowid').all(device) as Array<{
      status: string;
      ts: number;
    }>;
  }

  totals(): { readings: number; alerts: number } {
    return { readings: this.initialTotals.readings + this.readingsWritten, alerts: this.initialTotals.alerts + this.alertsWritten };
  }

  async countsByWorker(): Promise<Array<{ worker: string; readings: number; alerts: number }>> {
    const readings = this.statement(
      'SELECT w.name AS worker, COUNT(*) AS n FROM readings r JOIN workers w ON w.id = r.worker GROUP BY w.name',
    ).all() as Array<{ worker: string; n: number }>;
    const alerts = this.statement('SELECT worker, COUNT(*) AS n FROM alerts GROUP BY worker').all() as Array<{
      worker: string;
      n: number;
    }>;
    return mergeWorkerCounts(readings, alerts);
  }

  async deliveryByDevice(): Promise<DeviceDelivery[]> {
    const lost = this.statement(
      'SELECT device, SUM(last_seq - first_seq + 1 - received) AS n FROM reading_runs GROUP BY device',
    ).all() as Array<{ device: string; n: number }>;
    const duplicated = this.statement('SELECT device, n FROM alert_duplicates').all() as Array<{ device: string; n: number }>;
    return mergeDelivery(lost, duplicated);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.retentionTimer);
    try {
      await this.queue.close();
    } finally {
      this.db.close();
    }
  }

  private deleteOlderThan(ts: number): void {
    this.statement('DELETE FROM readings WHERE ts < ?').run(ts);
    this.statement('DELETE FROM alerts WHERE ts < ?').run(ts);
    this.statement('DELETE FROM presence WHERE ts < ?').run(ts);
    this.statement('DELETE FROM reading_runs WHERE last_ts < ?').run(ts);
    this.statement('DELETE FROM alert_duplicates WHERE last_ts < ?').run(ts);
  }
}
