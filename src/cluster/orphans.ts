import { serialize } from 'node:v8';
import type { KV } from '@nats-io/kv';
import { scheduleWill, willMessage, type Broker, type SessionSnapshot } from '../broker/index.js';
import type { SessionHandover } from './handover.js';
import { NODE_DEAD_MS, type Presence } from './presence.js';
import { decodeStoredSession, type ClusterStore, type StoredSession } from './store.js';

/** The longest one look through the sessions bucket may take. */
const SCAN_BOUND_MS = 30_000;

/** A session whose owner is dead, as read from the bucket. */
interface Orphan {
  readonly key: string;
  readonly revision: number;
  readonly stored: StoredSession;
}

/**
 * Sessions left by a dead node (killed, or stopped while no node took its clients). Their Session Expiry
 * and wills must still be honoured once, cluster-wide [MQTT-3.1.2-23], [MQTT-3.1.3-9]: when a node has
 * been silent for NODE_DEAD_MS, the first live node by name takes over every session whose owner has been
 * silent that long. It claims each one by compare-and-set on its key (so a client reconnecting at that moment, or
 * another node with a different view of who is alive, wins or loses it as a whole), installs it offline
 * here (its expiry timer runs, it keeps receiving its QoS 1/2 messages, caught up from the stream) and
 * schedules its will: from the owner's last heartbeat for a client that was connected, from its
 * disconnection for one waiting for its Will Delay.
 */
export class OrphanSessions {
  private scanning: Promise<void> | undefined;
  private again = false;
  private firstLook: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly sessions: KV,
    private readonly node: string,
    private readonly presence: Presence,
    private readonly handover: SessionHandover,
    private readonly store: ClusterStore,
    private readonly broker: () => Broker,
  ) {}

  /** Watches for dead nodes; also looks once, NODE_DEAD_MS after start, for owners that died while no node watched. */
  start(): void {
    this.presence.onDead = () => this.takeOverIfFirst();
    this.firstLook = setTimeout(() => this.takeOverIfFirst(), NODE_DEAD_MS);
    this.firstLook.unref();
  }

  /** Takes over nothing more (the node is closing). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.firstLook);
  }

  /** Takes over the orphaned sessions when this node is the first live one by name; one look at a time. */
  takeOverIfFirst(): void {
    if (this.stopped || this.presence.alive()[0] !== this.node) return;
    if (this.scanning) {
      this.again = true;
      return;
    }
    this.scanning = this.scan()
      .catch((error: Error) => this.broker().events.emit('persistenceError', error))
      .finally(() => {
        this.scanning = undefined;
        if (this.again) {
          this.again = false;
          this.takeOverIfFirst();
        }
      });
  }

  /** One look through the bucket (its current values, then stop), taking over each orphan found. */
  private async scan(): Promise<void> {
    const status = await this.sessions.status();
    if (status.values === 0) return;
    const found: Orphan[] = [];
    const watch = await this.sessions.watch({ ignoreDeletes: true });
    const bound = setTimeout(() => watch.stop(), SCAN_BOUND_MS);
    try {
      for await (const entry of watch) {
        const stored = entry.operation === 'PUT' ? decodeStoredSession(entry.value) : undefined;
        if (stored && this.presence.isDead(stored.owner)) found.push({ key: entry.key, revision: entry.revision, stored });
        if (!entry.delta) break;
      }
    } finally {
      clearTimeout(bound);
      watch.stop();
    }
    for (const orphan of found) if (!this.stopped) await this.takeOver(orphan);
  }

  /** Claims one orphan (compare-and-set) and honours its expiry and will here. */
  private async takeOver({ key, revision, stored }: Orphan): Promise<void> {
    const broker = this.broker();
    const diedAt = this.presence.lastHeardAt(stored.owner);
    let snapshot: SessionSnapshot | undefined = stored.snapshot;
    if (snapshot && stored.connected && diedAt !== undefined) {
      // Connected when its node died: offline since that node was last heard from [MQTT-3.1.2-23].
      snapshot = { ...snapshot, disconnectedAt: Math.max(snapshot.disconnectedAt, diedAt) };
    }
    const claim: StoredSession = { owner: this.node, snapshot, streamSeq: stored.streamSeq, connected: false, will: stored.will };
    try {
      await this.sessions.update(key, serialize(claim), revision);
    } catch {
      // Changed since it was read (its client reconnected somewhere, or another node took it): not ours.
      return;
    }
    if (!snapshot) {
      // Session Expiry 0: the session ended with the connection, so a will goes out now [MQTT-3.1.2-8].
      if (stored.will && stored.connected) {
        const message = willMessage(clientIdOf(key, stored), stored.will, broker.clock.now());
        broker.publish(message);
        broker.events.emit('willPublished', message.origin!, message);
      }
      await this.sessions.delete(key).catch(() => undefined);
      return;
    }
    if (broker.sessions.has(snapshot.clientId)) return;
    const session = await this.handover.resume(snapshot, stored.streamSeq);
    if (stored.will) {
      this.store.rememberWill(snapshot.clientId, stored.will);
      scheduleWill(broker, session, stored.will, snapshot.disconnectedAt);
    }
    broker.store.sessionChanged(session);
  }
}

/** The client id of a stored session: its snapshot's, else the key (a client id as a KV token). */
function clientIdOf(key: string, stored: StoredSession): string {
  return stored.clientId ?? stored.snapshot?.clientId ?? key;
}
