import type { StoredReading, StoreObserver } from './store.js';

/** Rows in one transaction at most, so a backlog after an outage is written in steps. */
const MAX_ROWS_PER_WRITE = 50_000;
/** How long close() keeps trying to write the last readings to a database that is down. */
const CLOSE_RETRY_MS = 10_000;

/** How a reading queue writes and how much it holds. */
export interface ReadingQueueOptions {
  flushMs: number;
  batchSize: number;
  maxPending: number;
  observer?: StoreObserver;
  /**
   * False for an error that writing again cannot fix (a batch the database refuses): the batch is dropped
   * and counted. Default: every error is retried.
   */
  retryable?: (error: unknown) => boolean;
}

/**
 * The readings waiting for a batch, for any store: written every `flushMs` or at `batchSize`, one
 * write at a time. A failed write puts its rows back at the front and is retried with a growing pause
 * (up to 2 s), so a database that is briefly down loses nothing held here; past `maxPending` new
 * readings are dropped and counted rather than exhausting memory. A batch the database refuses for
 * good is dropped and counted too, so it cannot block the readings behind it.
 */
export class ReadingQueue {
  readingsWritten = 0;
  readingsDropped = 0;
  largestBatch = 0;
  /** The last write's error while writes fail. */
  unavailable: string | undefined;
  private pending: StoredReading[] = [];
  private inFlight = 0;
  private writing: Promise<void> | undefined;
  private failures = 0;
  private retryAt = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly write: (rows: StoredReading[]) => Promise<void> | void,
    private readonly options: ReadingQueueOptions,
  ) {
    this.timer = setInterval(() => {
      if (!this.writing && this.pending.length > 0 && Date.now() >= this.retryAt) this.flush().catch(() => {});
    }, options.flushMs);
  }

  /** Readings received and not yet committed. */
  get backlog(): number {
    return this.pending.length + this.inFlight;
  }

  add(reading: StoredReading): void {
    if (this.pending.length >= this.options.maxPending) {
      this.readingsDropped++;
      return;
    }
    this.pending.push(reading);
    if (this.pending.length >= this.options.batchSize && !this.writing && Date.now() >= this.retryAt) this.flush().catch(() => {});
  }

  /** Writes everything pending now; rejects (rows kept for the next try) when a write fails. */
  async flush(): Promise<void> {
    for (;;) {
      // One write at a time, also when flush() is called again while a write is under way.
      while (this.writing) await this.writing.catch(() => {});
      if (this.pending.length === 0) return;
      this.writing = this.writeRows(this.pending.splice(0, MAX_ROWS_PER_WRITE));
      try {
        await this.writing;
      } finally {
        this.writing = undefined;
      }
    }
  }

  /** Stops the timer and writes what is left, retrying for a while if the database is down. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    const deadline = Date.now() + CLOSE_RETRY_MS;
    for (;;) {
      try {
        await this.flush();
        return;
      } catch (error) {
        if (Date.now() >= deadline) {
          const lost = this.pending.length;
          this.readingsDropped += lost;
          this.pending = [];
          throw new Error(`${lost} readings could not be written before closing: ${(error as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  private async writeRows(rows: StoredReading[]): Promise<void> {
    this.inFlight = rows.length;
    const started = process.hrtime.bigint();
    try {
      await this.write(rows);
    } catch (error) {
      if (this.options.retryable && !this.options.retryable(error)) {
        this.readingsDropped += rows.length;
        this.unavailable = undefined;
        throw error;
      }
      this.pending = rows.concat(this.pending);
      this.failures++;
      this.retryAt = Date.now() + Math.min(2000, 50 * 2 ** Math.min(this.failures, 6));
      this.unavailable = (error as Error).message;
      throw error;
    } finally {
      this.inFlight = 0;
    }
    this.failures = 0;
    this.unavailable = undefined;
    this.readingsWritten += rows.length;
    if (rows.length > this.largestBatch) this.largestBatch = rows.length;
    const observer = this.options.observer;
    if (observer?.batchWritten) {
      const byWorker = new Map<string, number>();
      for (const row of rows) byWorker.set(row.worker, (byWorker.get(row.worker) ?? 0) + 1);
      observer.batchWritten(rows.length, byWorker, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }
}
