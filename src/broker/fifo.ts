/**
 * A first-in first-out queue with O(1) `shift` however long it is. An array's own shift() is O(1) only while
 * V8 can trim its front in place; once the backing store is a large object (about 32,000 entries) every
 * shift() moves the whole array — 50 µs at 20,000 entries, 200 µs at 100,000 here — so a session whose
 * queue had grown could no longer drain it as fast as it filled.
 */
export class Fifo<T> implements Iterable<T> {
  private items: Array<T | undefined> = [];
  private head = 0;

  /** Entries queued. */
  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The oldest entry, without removing it. */
  peek(): T | undefined {
    return this.items[this.head];
  }

  /** Removes and returns the oldest entry. */
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    // Drop the consumed front once it is most of the array: each entry is copied at most once more.
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Puts entries ahead of the queued ones, in their order. */
  prepend(items: readonly T[]): void {
    this.items = [...items, ...this.items.slice(this.head)];
    this.head = 0;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
}
