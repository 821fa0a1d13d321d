import type { NatsConnection, Subscription as NatsSubscription } from '@nats-io/transport-node';
import { filterSubjects } from './subjects.js';

/**
 * Core NATS subscriptions for what this node's clients subscribe to, counted per subject: the first
 * MQTT subscription to a filter subscribes its subjects, the last one gone unsubscribes them. NATS then
 * sends a node only the QoS 0 messages it has subscribers for. With `queue`, the subscriptions join
 * a NATS queue group, which hands each message to one member of the group cluster-wide.
 */
export class SubjectInterest {
  private readonly subjects = new Map<string, { count: number; sub: NatsSubscription }>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly prefix: string,
    private readonly onMessage: (data: Uint8Array) => void,
    private readonly queue?: string,
  ) {}

  /** Number of distinct NATS subjects subscribed. */
  get size(): number {
    return this.subjects.size;
  }

  /** One more subscription to `filter` on this node. */
  add(filter: string): void {
    for (const subject of filterSubjects(this.prefix, filter)) {
      const known = this.subjects.get(subject);
      if (known) {
        known.count++;
        continue;
      }
      const sub = this.nc.subscribe(subject, {
        queue: this.queue,
        callback: (error, msg) => {
          if (!error) this.onMessage(msg.data);
        },
      });
      this.subjects.set(subject, { count: 1, sub });
    }
  }

  /** One subscription to `filter` fewer on this node. */
  remove(filter: string): void {
    for (const subject of filterSubjects(this.prefix, filter)) {
      const known = this.subjects.get(subject);
      if (!known) continue;
      if (--known.count === 0) {
        known.sub.unsubscribe();
        this.subjects.delete(subject);
      }
    }
  }

  /** Unsubscribes everything. */
  clear(): void {
    for (const { sub } of this.subjects.values()) sub.unsubscribe();
    this.subjects.clear();
  }
}
