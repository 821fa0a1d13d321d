import { systemClock, type Clock } from './clock.js';

/** The longest delay a Node timer takes as given (2^31-1 ms, about 24.8 days). */
const MAX_TIMER_DELAY_MS = 2_147_483_647;

/**
 * One timer for all of the broker's timed features (Will Delay, Session Expiry): each adds, checks
 * and removes deadlines by key, and only the earliest deadline holds a Node timer — not one per client.
 */
export class Deadlines {
  private readonly entries = new Map<string, { at: number; run: () => void }>();
  private cancelTimer: (() => void) | undefined;
  private armedFor = Infinity;

  /** `onError` hears of a callback that threw; the other due callbacks still run. */
  constructor(
    private readonly clock: Clock = systemClock,
    private readonly onError: (error: Error) => void = () => {},
  ) {}

  /** Schedules `run` at epoch milliseconds `at`, replacing any deadline with the same key. */
  add(key: string, at: number, run: () => void): void {
    this.entries.set(key, { at, run });
    if (at < this.armedFor) this.arm(at);
  }

  /** True when a deadline with this key is pending. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Cancels a deadline; returns its callback so a caller may run it early (e.g. a will on session end). */
  remove(key: string): (() => void) | undefined {
    const entry = this.entries.get(key);
    this.entries.delete(key);
    return entry?.run;
  }

  /** Cancels everything (on broker close). */
  clear(): void {
    this.entries.clear();
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.armedFor = Infinity;
  }

  private arm(at: number): void {
    this.cancelTimer?.();
    this.armedFor = at;
    // Node fires a timer longer than 2^31-1 ms after 1 ms (TimeoutOverflowWarning), which would spin here for
    // long intervals (e.g. a Session Expiry Interval of weeks): wait at most that long, then re-arm in fire().
    this.cancelTimer = this.clock.schedule(() => this.fire(), Math.min(MAX_TIMER_DELAY_MS, Math.max(0, at - this.clock.now())));
  }

  private fire(): void {
    this.cancelTimer = undefined;
    this.armedFor = Infinity;
    const now = this.clock.now();
    const due: Array<() => void> = [];
    let next = Infinity;
    for (const [key, entry] of this.entries) {
      if (entry.at <= now) {
        due.push(entry.run);
        this.entries.delete(key);
      } else if (entry.at < next) {
        next = entry.at;
      }
    }
    for (const run of due) {
      try {
        run();
      } catch (error) {
        this.onError(error as Error);
      }
    }
    // A callback may have added deadlines; re-arm for whatever is earliest now.
    for (const entry of this.entries.values()) if (entry.at < next) next = entry.at;
    if (next !== Infinity && next < this.armedFor) this.arm(next);
  }
}
