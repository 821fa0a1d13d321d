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
