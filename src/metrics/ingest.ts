import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { registerProcessMetrics } from './process.js';
import type { StoreObserver } from '../telemetry/store.js';

/** What ingestion reports when scraped. */
export interface IngestSnapshot {
  backlog: number;
  readingsDropped: number;
  storeUp: boolean;
  workers: Array<{ worker: string; connected: boolean; rejected: number; statuses: number }>;
}

/**
 * Ingestion's Prometheus metrics, per worker where the work is per worker. Lag and stored rows are
 * counted as they happen (one cached child per worker, no label lookup per reading); backlog, drops
 * and connection state are read when Prometheus scrapes.
 */
export class IngestMetrics implements StoreObserver {
  readonly registry = new Registry();
  private readonly lag: Histogram<'worker'>;
  private readonly lagByWorker = new Map<string, Histogram.Internal<'worker'>>();
  private readonly batchRows: Histogram;
  private readonly batchSeconds: Histogram;
  private readonly readingsStored: Counter<'worker'>;
  private readonly alertsStored: Counter<'worker'>;
  private readonly duplicates: Counter<'worker'>;
  private snapshot: () => IngestSnapshot = () => ({ backlog: 0, readingsDropped: 0, storeUp: true, workers: [] });

  /** `processMetrics`: also CPU, memory and event loop of this process (once per process). */
  constructor(options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.processMetrics) registerProcessMetrics(this.registry);
    this.lag = new Histogram({
      name: 'mqttlab_ingest_lag_seconds',
      help: 'Receive time minus reading time of each reading, per worker',
      labelNames: ['worker'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.batchRows = new Histogram({
      name: 'mqttlab_ingest_batch_rows',
      help: 'Readings per batch written to the store',
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 20000, 50000],
      registers,
    });
    this.batchSeconds = new Histogram({
      name: 'mqttlab_ingest_batch_write_seconds',
      help: 'Time to write and commit one batch of readings',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    });
    this.readingsStored = new Counter({
      name: 'mqttlab_ingest_readings_stored_total',
      help: 'Readings committed to the store, per worker that received them',
      labelNames: ['worker'],
      registers,
    });
    this.alertsStored = new Counter({
      name: 'mqttlab_ingest_alerts_stored_total',
      help: 'Alerts committed to the store (first delivery), per worker',
      labelNames: ['worker'],
      registers,
    });
    this.duplicates = new Counter({
      name: 'mqttlab_ingest_alert_duplicates_total',
      help: 'Alerts delivered again with an id already stored, absorbed by the unique key, per worker',
      labelNames: ['worker'],
      registers,
    });
    const read = () => this.snapshot();
    new Gauge({
      name: 'mqttlab_ingest_backlog_readings',
      help: 'Readings received and not yet committed',
      registers,
      collect() {
        this.set(read().backlog);
      },
    });
    new Counter({
      name: 'mqttlab_ingest_readings_dropped_total',
      help: 'Readings not stored because the store stayed unavailable past the in-memory bound',
      registers,
      collect() {
        this.reset();
        this.inc(read().readingsDropped);
      },
    });
    new Gauge({
      name: 'mqttlab_ingest_store_up',
      help: '1 while writes to the store succeed, 0 while they fail',
      registers,
      collect() {
        this.set(read().storeUp ? 1 : 0);
      },
    });
    new Gauge({
      name: 'mqttlab_ingest_worker_connected',
      help: '1 while the worker is connected to the broker',
      labelNames: ['worker'],
      registers,
      collect() {
        this.reset();
        for (const w of read().workers) this.set({ worker: w.worker }, w.connected ? 1 : 0);
      },
    });
    new Counter({
      name: 'mqttlab_ingest_messages_rejected_total',
      help: 'Messages outside the topic scheme or payload format, not stored, per worker',
      labelNames: ['worker'],
      registers,
      collect() {
        this.reset();
        for (const w of read().workers) this.inc({ worker: w.worker }, w.rejected);
      },
    });
    new Counter({
      name: 'mqttlab_ingest_presence_stored_total',
      help: 'Presence changes committed to the store, per worker',
      labelNames: ['worker'],
      registers,
      collect() {
        this.reset();
        for (const w of read().workers) this.inc({ worker: w.worker }, w.statuses);
      },
    });
  }

  /** Where the scrape-time values come from; per-worker series start at 0 for `workers`. */
  attach(workers: string[], snapshot: () => IngestSnapshot): void {
    this.snapshot = snapshot;
    for (const worker of workers) {
      this.lagByWorker.set(worker, this.lag.labels(worker));
      this.readingsStored.inc({ worker }, 0);
      this.alertsStored.inc({ worker }, 0);
      this.duplicates.inc({ worker }, 0);
    }
  }

  /** One reading's lag. */
  observeLag(worker: string, lagMs: number): void {
    let child = this.lagByWorker.get(worker);
    if (!child) this.lagByWorker.set(worker, (child = this.lag.labels(worker)));
    child.observe(lagMs / 1000);
  }

  batchWritten(rows: number, byWorker: ReadonlyMap<string, number>, seconds: number): void {
    this.batchRows.observe(rows);
    this.batchSeconds.observe(seconds);
    for (const [worker, n] of byWorker) this.readingsStored.inc({ worker }, n);
  }

  alertStored(worker: string, duplicate: boolean): void {
    (duplicate ? this.duplicates : this.alertsStored).inc({ worker });
  }
}
