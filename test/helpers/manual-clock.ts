import type { Clock } from '../../src/broker/clock.js';

/**
 * A clock a test moves forward itself: `advance(ms)` runs every timer that falls due, in order of its time
 * (timers set by those callbacks included), so timed behaviour is checked without sleeping.
 */
export class ManualClock implements Clock {
  private time: number;
  private timers: Array<{ at: number; seq: number; run: () => void }> = [];
  private seq = 0;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  schedule(run: () => void, ms: number): () => void {
    const timer = { at: this.time + Math.max(0, ms), seq: this.seq++, run };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /** Moves time forward by `ms`, running the timers due on the way. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (let fired = 0; fired < 100_000; fired++) {
      const next = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.time = Math.max(this.time, next.at);
      next.run();
    }
    this.time = end;
  }
}
