/** Counts per second over a sliding window (whole seconds), for "messages per second by QoS". */
export class RateWindow {
  private readonly buckets: number[];
  private readonly seconds: number[];

  constructor(private readonly windowSeconds = 10) {
    this.buckets = Array(windowSeconds + 1).fill(0);
    this.seconds = Array(windowSeconds + 1).fill(-1);
  }

  /** Counts `n` events at `now` (epoch ms). */
  add(n = 1, now = Date.now()): void {
    const second = Math.floor(now / 1000);
    const i = second % this.buckets.length;
    if (this.seconds[i] !== second) {
      this.seconds[i] = second;
      this.buckets[i] = 0;
    }
    this.buckets[i]! += n;
  }

  /** Events per second over the last `windowSeconds` whole seconds (the current one excluded). */
  perSecond(now = Date.now()): number {
    const current = Math.floor(now / 1000);
    let sum = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      const s = this.seconds[i]!;
      if (s < current && s >= current - this.windowSeconds) sum += this.buckets[i]!;
    }
    return sum / this.windowSeconds;
  }
}

/**
 * Ingest lag (receive time minus the reading's own timestamp) over a sliding window of whole seconds:
 * mean and max. A lag that keeps growing means ingestion does not keep up.
 */
export class LagWindow {
  private readonly sums: number[];
  private readonly counts: number[];
  private readonly maxes: number[];
  private readonly seconds: number[];

  constructor(private readonly windowSeconds = 10) {
    const n = windowSeconds + 1;
    this.sums = Array(n).fill(0);
    this.counts = Array(n).fill(0);
    this.maxes = Array(n).fill(0);
    this.seconds = Array(n).fill(-1);
  }

  add(lagMs: number, now = Date.now()): void {
    const second = Math.floor(now / 1000);
    const i = second % this.seconds.length;
    if (this.seconds[i] !== second) {
      this.seconds[i] = second;
      this.sums[i] = 0;
      this.counts[i] = 0;
      this.maxes[i] = 0;
    }
    this.sums[i]! += lagMs;
    this.counts[i]!++;
    if (lagMs > this.maxes[i]!) this.maxes[i] = lagMs;
  }

  /** Mean and max lag over the last `windowSeconds` whole seconds; null without samples. */
  summary(now = Date.now()): { meanMs: number; maxMs: number } | null {
    const current = Math.floor(now / 1000);
    let sum = 0;
    let count = 0;
    let max = 0;
    for (let i = 0; i < this.seconds.length; i++) {
      const s = this.seconds[i]!;
      if (s < current && s >= current - this.windowSeconds) {
        sum += this.sums[i]!;
        count += this.counts[i]!;
        max = Math.max(max, this.maxes[i]!);
      }
    }
    return count === 0 ? null : { meanMs: Math.round((sum / count) * 10) / 10, maxMs: max };
  }
}
