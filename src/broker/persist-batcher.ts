import type { Clock } from './clock.js';
import type { Message } from './message.js';
import type { Persistence } from './persistence/index.js';
import { snapshotSession } from './restore.js';
import type { Session } from './session.js';

/**
 * The broker's writes to its persistence. With a crash-safe persistence every session change is
 * stored: changed sessions are collected for one tick, written in one commit, and the acknowledgements
 * waiting for them are released after it. Otherwise writes go straight through, sessions are saved
 * only when they go offline or the broker stops, and acknowledgements go out at once.
 */
export class PersistBatcher {
  private readonly dirty = new Set<Session>();
  private waiting: Array<(stored: boolean) => void> = [];
  private scheduled: NodeJS.Immediate | undefined;
  private commits: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly persistence: Persistence | undefined,
    /** False once a session was ended or replaced, so a stale object is not written. */
    private readonly isLive: (session: Session) => boolean,
    private readonly onError: (error: Error) => void,
    private readonly clock: Clock,
  ) {}

  private get crashSafe(): boolean {
    return this.persistence?.crashSafe === true;
  }

  /** True when acknowledgements wait for a commit; otherwise `afterStored` runs its callback at once. */
  get acksWait(): boolean {
    return this.crashSafe && !this.closed;
  }

  /** A session's state changed; a crash-safe persistence gets it at the next commit. */
  sessionChanged(session: Session): void {
    // A session with expiry 0 ends with its connection, so it is never stored [MQTT-3.1.2-23].
    if (!this.crashSafe || session.expiryInterval === 0) return;
    this.dirty.add(session);
    this.schedule();
  }

  /** A session went offline: stored now, or at the next commit. */
  saveSession(session: Session, now: number): void {
    if (!this.persistence || session.expiryInterval === 0) return;
    if (this.crashSafe) this.sessionChanged(session);
    else this.persistence.saveSession(snapshotSession(session, now));
  }

  /** A session ended: its stored state goes. */
  deleteSession(session: Session): void {
    if (!this.persistence) return;
    this.dirty.delete(session);
    this.persistence.deleteSession(session.clientId);
    if (this.crashSafe) this.schedule();
  }

  /** Stores (or, with `undefined`, deletes) the retained message of a topic. */
  saveRetained(topic: string, message: Message | undefined): void {
    if (!this.persistence) return;
    this.persistence.saveRetained(topic, message);
    if (this.crashSafe) this.schedule();
  }

  /**
   * Runs `then(true)` once every change made so far is stored, or `then(false)` if storing it failed;
   * without a crash-safe persistence, at once. Callbacks run in the order they were registered.
   */
  afterStored(then: (stored: boolean) => void): void {
    if (!this.acksWait) {
      then(true);
      return;
    }
    this.waiting.push(then);
    this.schedule();
  }

  /** Writes what is pending and releases the waiting callbacks; later changes are not scheduled. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    if (this.crashSafe) await this.commit();
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined;
      void this.commit();
    });
  }

  /** One commit: the changed sessions' snapshots, then the persistence's flush, then the waiters. */
  private commit(): Promise<void> {
    this.commits = this.commits
      .then(async () => {
        const waiting = this.waiting;
        this.waiting = [];
        const sessions = [...this.dirty];
        this.dirty.clear();
        let stored = true;
        try {
          const now = this.clock.now();
          for (const session of sessions) {
            if (this.isLive(session) && session.expiryInterval !== 0) this.persistence!.saveSession(snapshotSession(session, now));
          }
          await this.persistence!.flush();
        } catch (error) {
          stored = false;
          this.onError(error as Error);
        }
        for (const then of waiting) then(stored);
      })
      .catch((error: Error) => this.onError(error));
    return this.commits;
  }
}
