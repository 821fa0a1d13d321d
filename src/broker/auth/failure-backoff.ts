/** How long failures from one address are remembered. */
const FORGET_AFTER_MS = 10 * 60 * 1000;
/** The longest a refusal is held back. */
const MAX_DELAY_MS = 30_000;
/** Addresses remembered at most; the oldest is forgotten first, so a flood of addresses costs bounded memory. */
const MAX_ADDRESSES = 10_000;

/**
 * Optional back-off for repeated bad credentials from one address: the n-th failure within 10 minutes is
 * answered after base × 2^(n-1) ms (at most 30 s), so guessing passwords gets slow while one typo costs little.
 */
export class AuthFailureBackoff {
  private readonly failures = new Map<string, { count: number; last: number }>();

  constructor(private readonly baseDelayMs: number) {}

  /** Records a failure from `address` and returns how long to wait before answering it. */
  failed(address: string | undefined, now: number): number {
    if (this.baseDelayMs <= 0 || address === undefined) return 0;
    const previous = this.failures.get(address);
    const count = previous && now - previous.last < FORGET_AFTER_MS ? previous.count + 1 : 1;
    // Re-inserted so the Map's order is least recently failed first.
    this.failures.delete(address);
    this.failures.set(address, { count, last: now });
    if (this.failures.size > MAX_ADDRESSES) this.failures.delete(this.failures.keys().next().value!);
    return Math.min(MAX_DELAY_MS, this.baseDelayMs * 2 ** Math.min(count - 1, 20));
  }
}
