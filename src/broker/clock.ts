/**
 * Where the broker core reads the time and sets its timers (Will Delay, Session Expiry, keep alive, message
 * expiry). The system clock by default; tests pass a clock they move forward themselves instead of sleeping.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Runs `run` after `ms` milliseconds (never keeping the process alive); returns a function that cancels it. */
  schedule(run: () => void, ms: number): () => void;
}

/** The real time and Node's timers, unref'ed so a broker alone does not hold the process open. */
export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(run, ms) {
    const timer = setTimeout(run, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};
