import type { Subscription } from './subscription.js';

/**
 * The members of one shared subscription `$share/<group>/<filter>` [MQTT-4.8.2]. Each message goes
 * to one member, chosen round robin among the connected ones.
 */
export class SharedGroup {
  private readonly members: Subscription[] = [];
  private cursor = 0;

  constructor(
    readonly group: string,
    readonly filter: string,
  ) {}

  /** Adds a member, or replaces that client's existing membership in place. */
  upsert(subscription: Subscription): void {
    const i = this.members.findIndex((m) => m.clientId === subscription.clientId);
    if (i >= 0) this.members[i] = subscription;
    else this.members.push(subscription);
  }

  /** Removes a client's membership; returns true when it was a member. */
  remove(clientId: string): boolean {
    const i = this.members.findIndex((m) => m.clientId === clientId);
    if (i < 0) return false;
    this.members.splice(i, 1);
    if (this.cursor > i) this.cursor--;
    return true;
  }

  get size(): number {
    return this.members.length;
  }

  /**
   * Picks the member for the next message: the next connected member in round-robin order, so
   * offline members are skipped; when none is connected, the next member at all (its session queues it).
   */
  pick(isConnected: (clientId: string) => boolean): Subscription | undefined {
    const n = this.members.length;
    if (n === 0) return undefined;
    for (let step = 0; step < n; step++) {
      const i = (this.cursor + step) % n;
      const member = this.members[i]!;
      if (isConnected(member.clientId)) {
        this.cursor = (i + 1) % n;
        return member;
      }
    }
    const fallback = this.members[this.cursor % n]!;
    this.cursor = (this.cursor + 1) % n;
    return fallback;
  }
}
