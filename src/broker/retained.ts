import { isExpired, type Message } from './message.js';
import { topicMatchesFilter } from './topics.js';

/** The last retained message per topic (MQTT 5.0 §3.3.1.3). */
export class RetainedStore {
  private readonly messages = new Map<string, Message>();

  get size(): number {
    return this.messages.size;
  }

  /**
   * Stores a retained message, or clears the topic when the payload is empty [MQTT-3.3.1-6], [MQTT-3.3.1-7].
   * Returns true when the store changed.
   */
  set(message: Message): boolean {
    if (message.payload.length === 0) return this.messages.delete(message.topic);
    this.messages.set(message.topic, message);
    return true;
  }

  /** Loads a message as-is (used when restoring from persistence). */
  restore(message: Message): void {
    this.messages.set(message.topic, message);
  }

  /** Retained messages matching a filter, dropping any whose expiry passed [MQTT-3.3.2-5]. */
  match(filter: string, now: number): Message[] {
    const out: Message[] = [];
    const exact = !filter.includes('+') && !filter.includes('#');
    if (exact) {
      const m = this.messages.get(filter);
      if (m) this.keepIfLive(m, now, out);
      return out;
    }
    for (const m of this.messages.values()) {
      if (topicMatchesFilter(filter, m.topic)) this.keepIfLive(m, now, out);
    }
    return out;
  }

  /** Every retained message (for persistence snapshots). */
  all(): Message[] {
    return [...this.messages.values()];
  }

  private keepIfLive(m: Message, now: number, out: Message[]): void {
    if (isExpired(m, now)) this.messages.delete(m.topic);
    else out.push(m);
  }
}
