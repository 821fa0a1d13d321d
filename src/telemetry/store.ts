/** One reading as ingestion stores it. */
export interface StoredReading {
  device: string;
  site: string;
  metric: string;
  ts: number;
  v: number;
  unit: string;
  worker: string;
  /** The device's sequence number of this reading within its run (QoS 0 gaps are counted from these). */
  seq?: number;
  /** Which run of the device numbered it (sequence numbers start again in each run). */
  run?: string;
}

/** What got lost or doubled on the way from one device to the store. */
export interface DeviceDelivery {
  device: string;
  /** Readings missing between the first and the last sequence number stored, per run (QoS 0 loss). */
  readingsLost: number;
  /** Alerts that arrived again with an id already stored (QoS 1 duplicates, stored once). */
  alertsDuplicated: number;
}

/** One device run's sequence numbers in a batch of readings: lowest, highest, how many, newest time. */
export interface SequenceSpan {
  device: string;
  run: string;
  first: number;
  last: number;
  received: number;
  lastTs: number;
}

/** The sequence spans of a batch, one per device run (readings without a sequence number are left out). */
export function sequenceSpans(rows: StoredReading[]): SequenceSpan[] {
  const spans = new Map<string, SequenceSpan>();
  for (const r of rows) {
    if (r.seq === undefined || r.run === undefined) continue;
    const key = `${r.device}\u0000${r.run}`;
    const span = spans.get(key);
    if (!span) spans.set(key, { device: r.device, run: r.run, first: r.seq, last: r.seq, received: 1, lastTs: r.ts });
    else {
      span.first = Math.min(span.first, r.seq);
      span.last = Math.max(span.last, r.seq);
      span.received++;
      span.lastTs = Math.max(span.lastTs, r.ts);
    }
  }
  return [...spans.values()];
}

/** Readings lost and alerts duplicated per device, merged and sorted by device. */
export function mergeDelivery(
  lost: Array<{ device: string; n: number }>,
  duplicated: Array<{ device: string; n: number }>,
): DeviceDelivery[] {
  const out = new Map<string, DeviceDelivery>();
  for (const l of lost) out.set(l.device, { device: l.device, readingsLost: l.n, alertsDuplicated: 0 });
  for (const d of duplicated) out.set(d.device, { ...(out.get(d.device) ?? { device: d.device, readingsLost: 0 }), alertsDuplicated: d.n });
  return [...out.values()].sort((a, b) => a.device.localeCompare(b.device));
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

/** The newest reading of each metric of a device. */
export type LatestReadings = Record<string, { v: number; unit: string; ts: number }>;

/** Told what the store wrote, for metrics; called after the commit. */
export interface StoreObserver {
  /** A batch of readings was committed: its size, rows per worker and how long the write took. */
  batchWritten?(rows: number, byWorker: ReadonlyMap<string, number>, seconds: number): void;
  /** An alert was committed, or found already stored (a redelivery absorbed by its unique id). */
  alertStored?(worker: string, duplicate: boolean): void;
}

/** Options every store takes. */
export interface StoreOptions {
  /** Pending readings are written at least this often (ms). Default 100. */
  flushMs?: number;
  /** …or as soon as this many are pending. Default 2000. */
  batchSize?: number;
  /** Readings kept in memory while the database cannot be written; beyond it new ones are dropped and counted. Default 500,000. */
  maxPending?: number;
  /** Readings and alerts older than this are deleted (at open and every 10 min); 0 keeps all. Default 24. */
  retentionHours?: number;
  observer?: StoreObserver;
}

/**
 * Where ingestion keeps telemetry. Readings arrive at QoS 0 in volume and are queued for batches;
 * an alert (QoS 1) and a presence change are written at once and their promise settles after the
 * commit, so the worker acknowledges them only once they are stored. Two implementations pass the
 * same contract suite (test/telemetry/store-contract.test.ts): SQLite (the embedded default) and
 * PostgreSQL (for several ingest processes).
 */
export interface TelemetryStore {
  /** The SQLite file, or the PostgreSQL URL without its password. */
  readonly location: string;
  /** Readings written by this process so far. */
  readonly readingsWritten: number;
  /** Alerts written by this process so far (duplicates excluded). */
  readonly alertsWritten: number;
  /** Alerts that arrived again with an id already stored (a QoS 1 redelivery). */
  readonly alertDuplicates: number;
  /** Readings not stored because the database was unavailable longer than `maxPending` allows. */
  readonly readingsDropped: number;
  /** Readings in the largest batch written so far. */
  readonly largestBatch: number;
  /** Readings received but not yet written: the ingest backlog. */
  readonly backlog: number;
  /** Why the last write failed while it still fails (the database is down); undefined when writes succeed. */
  readonly unavailable: string | undefined;
  /** Queues a reading for the next batch. */
  addReading(reading: StoredReading): void;
  /** Writes an alert; resolves true once committed, false when an alert with this id was already stored. */
  addAlert(alert: StoredAlert): Promise<boolean>;
  /** Records a presence change; resolves once committed. */
  addPresence(device: string, status: string, ts: number): Promise<void>;
  /** Writes the pending readings. */
  flush(): Promise<void>;
  latest(device: string): Promise<LatestReadings>;
  /** Readings of one device and metric in [from, to], downsampled to at most `points` buckets of `bucketMs`. */
  series(device: string, metric: string, from: number, to: number, points: number): Promise<{ bucketMs: number; points: SeriesPoint[] }>;
  /** The newest alerts, optionally of one device. */
  alerts(limit: number, device?: string): Promise<StoredAlert[]>;
  /** Presence changes of a device, oldest first. */
  presenceHistory(device: string): Promise<Array<{ status: string; ts: number }>>;
  /** Row counts of the whole store (all runs, all processes); other processes' writes show within about a second. */
  totals(): { readings: number; alerts: number };
  /** Rows per worker, from the store itself (all runs, all processes). */
  countsByWorker(): Promise<Array<{ worker: string; readings: number; alerts: number }>>;
  /**
   * Per device (all runs, all processes): readings lost, from the gaps in each run's sequence numbers, and
   * alerts duplicated. Readings are counted when their batch commits, alerts when redelivered.
   */
  deliveryByDevice(): Promise<DeviceDelivery[]>;
  /** Flushes and closes. */
  close(): Promise<void>;
}

/** Reading and alert counts per worker, merged and sorted by worker. */
export function mergeWorkerCounts(
  readings: Array<{ worker: string; n: number }>,
  alerts: Array<{ worker: string; n: number }>,
): Array<{ worker: string; readings: number; alerts: number }> {
  const out = new Map<string, { worker: string; readings: number; alerts: number }>();
  for (const r of readings) out.set(r.worker, { worker: r.worker, readings: r.n, alerts: 0 });
  for (const a of alerts) out.set(a.worker, { ...(out.get(a.worker) ?? { worker: a.worker, readings: 0 }), alerts: a.n });
  return [...out.values()].sort((a, b) => a.worker.localeCompare(b.worker));
}

/** True for `postgres://` and `postgresql://` URLs. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** Opens the store `location` names: a `postgresql://` URL, else a SQLite file (`:memory:` keeps nothing). */
export async function openStore(location: string, options: StoreOptions = {}): Promise<TelemetryStore> {
  if (isPostgresUrl(location)) {
    const { PostgresStore } = await import('./store-postgres.js');
    return PostgresStore.open(location, options);
  }
  const { SqliteStore } = await import('./store-sqlite.js');
  return new SqliteStore(location, options);
}
