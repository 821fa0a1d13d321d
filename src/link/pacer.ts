import type { Random } from '../util/index.js';
import type { LinkFaults } from './faults.js';

interface InTransit<T> {
  due: number;
  bytes: number;
  item: T;
}

/**
 * One direction of an emulated link: hands items over in order once their serialization time
 * (`rate`), propagation delay and jitter have passed. An item that is due at once and finds nothing
 * ahead of it is handed over synchronously, so a perfect link adds no timer hop.
 */
export class LinkPacer<T> {
  private readonly queue: InTransit<T>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastDue = 0;
  private linkFreeAt = 0;
  /** Bytes scheduled but not yet handed over (the caller pauses its source above a bound). */
  queuedBytes = 0;

  constructor(
    private readonly faults: () => LinkFaults,
    private readonly random: Random,
    private readonly deliver: (item: T) => void,
    private readonly onEmpty: () => void = () => {},
  ) {}

  /** Puts an item of `bytes` on the link. */
  schedule(item: T, bytes: number): void {
    const { delayMs = 0, jitterMs = 0, rateBytesPerSecond } = this.faults();
    const now = performance.now();
    let due = now;
    if (rateBytesPerSecond) {
      // Serialization: the link sends one thing at a time, so bytes wait for the ones before them.
      this.linkFreeAt = Math.max(now, this.linkFreeAt) + (bytes * 1000) / rateBytesPerSecond;
      due = this.linkFreeAt;
    }
    due += delayMs + (jitterMs > 0 ? this.random.next() * jitterMs : 0);
    // TCP delivers in order: jitter may delay a packet but never lets a later one overtake it.
    due = Math.max(due, this.lastDue);
    this.lastDue = due;
    if (this.queue.length === 0 && due <= now) {
      this.deliver(item);
      return;
    }
    this.queue.push({ due, bytes, item });
    this.queuedBytes += bytes;
    this.arm();
  }

  /** Empties the link (it broke): returns what was in transit, oldest first, without handing it over. */
  clear(): T[] {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queuedBytes = 0;
    return this.queue.splice(0).map((entry) => entry.item);
  }

  private arm(): void {
    if (this.timer || this.queue.length === 0) return;
    this.timer = setTimeout(() => this.flush(), Math.max(0, this.queue[0]!.due - performance.now()));
  }

  private flush(): void {
    this.timer = undefined;
    const now = performance.now();
    // Timers fire up to a millisecond early or late: release what is due within that slack.
    while (this.queue.length > 0 && this.queue[0]!.due <= now + 1) {
      const { item, bytes } = this.queue.shift()!;
      this.queuedBytes -= bytes;
      this.deliver(item);
    }
    if (this.queue.length === 0) this.onEmpty();
    else this.arm();
  }
}
