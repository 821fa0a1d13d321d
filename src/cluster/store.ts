import { deserialize, serialize } from 'node:v8';
import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { Broker, Message, Persistence, SessionSnapshot, Will } from '../broker/index.js';
import { idToken, tokensTopic, topicTokens } from './subjects.js';

/** The longest `close` waits for outstanding writes. */
const CLOSE_WAIT_MS = 5000;

/** A session as the sessions bucket holds it: the snapshot plus who holds it and how far it has read the stream. */
export interface StoredSession {
  readonly clientId?: string;
  /** The node that holds the session (its connection, or its timers while offline). */
  readonly owner: string;
  /** The session's state; absent while a client with Session Expiry 0 is connected (only the owner is recorded). */
  readonly snapshot?: SessionSnapshot;
  /** Every QoS 1/2 message of the stream up to this sequence is reflected in the snapshot. */
  readonly streamSeq: number;
  /** The client was connected to the owner when this was written. */
  readonly connected?: boolean;
  /**
   * The client's will while it may still be published: that of the live connection, or one waiting for
   * its Will Delay since the snapshot's `disconnectedAt`. A node taking over from a dead owner publishes it.
   */
  readonly will?: Will;
}

/** Reads a stored session value; undefined for a value that is not one. */
export function decodeStoredSession(bytes: Uint8Array): StoredSession | undefined {
  try {
    const value = deserialize(bytes) as StoredSession;
    return value && typeof value.owner === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The broker's Persistence seam backed by two JetStream key-value buckets: retained messages (one key
 * per topic) and sessions (one key per client id). Crash-safe: a write is acknowledged by JetStream
 * once it is stored (on a quorum of replicas), and `flush` waits for every write made before it, so the
 * broker's acknowledgements wait for them. Retained messages written by other nodes arrive through a
 * watch on the bucket; `flush` also waits until this node has applied every retained write acknowledged
 * anywhere before it, so a SUBSCRIBE answered after a PUBACK on another node sees that message.
 */
export class ClusterStore implements Persistence {
  readonly crashSafe = true;
  private readonly pending = new Set<Promise<unknown>>();
  private failure: Error | undefined;
  private broker: Broker | undefined;
  /** Revision of the retained bucket this node has applied up to. */
  private appliedRevision = 0;
  private readonly revisionWaiters: Array<{ revision: number; resolve: () => void }> = [];
  private watch: Awaited<ReturnType<KV['watch']>> | undefined;
  /** The will of each client's last connection here, kept while it may still be published (Will Delay). */
  private readonly wills = new Map<string, Will>();

  constructor(
    private readonly retained: KV,
    private readonly sessions: KV,
    private readonly node: string,
    /** The sequence of the messages stream this node has routed up to. */
    private readonly streamSeq: () => number,
  ) {}

  /** Starts following the retained bucket into the broker's retained store; resolves once the current content is in. */
  async follow(broker: Broker): Promise<void> {
    this.broker = broker;
    const status = await this.retained.status();
    const target = status.streamInfo.state.last_seq;
    this.watch = await this.retained.watch();
    const watch = this.watch;
    void (async () => {
      for await (const entry of watch) this.apply(entry);
    })();
    await this.reached(target);
  }

  /** Retained messages are followed from the bucket (see follow), not loaded once. */
  async loadRetained(): Promise<Message[]> {
    return [];
  }

  saveRetained(topic: string, message: Message | undefined): void {
    const key = topicTokens(topic);
    this.track(message ? this.retained.put(key, serialize(message)) : this.retained.delete(key));
  }

  /** Sessions are claimed one by one when their client connects (ClusterLink.claimSession), not loaded at start. */
  async loadSessions(): Promise<SessionSnapshot[]> {
    return [];
  }

  saveSession(snapshot: SessionSnapshot): void {
    const { clientId } = snapshot;
    const value: StoredSession = { clientId, owner: this.node, snapshot, streamSeq: this.streamSeq(), ...this.liveState(clientId) };
    this.track(this.sessions.put(idToken(snapshot.clientId), serialize(value)));
  }

  /** A will this node now holds back for a session it took over (see liveState). */
  rememberWill(clientId: string, will: Will): void {
    this.wills.set(clientId, will);
  }

  /**
   * Whether the client is connected here, and the will a node taking over after this one dies must
   * publish: the live connection's, or the one its Will Delay holds back [MQTT-3.1.3-9].
   */
  liveState(clientId: string): Pick<StoredSession, 'connected' | 'will'> {
    const broker = this.broker;
    const session = broker?.sessions.get(clientId);
    if (!broker || !session) {
      this.wills.delete(clientId);
      return {};
    }
    const link = session.link as { will?: Will } | undefined;
    if (session.connected && link) {
      if (link.will) this.wills.set(clientId, link.will);
      else this.wills.delete(clientId);
      return { connected: true, will: link.will };
    }
    const pending = broker.deadlines.has(`will:${clientId}`) ? this.wills.get(clientId) : undefined;
    if (!pending) this.wills.delete(clientId);
    return { connected: false, will: pending };
  }

  /**
   * The entry goes unless a new session of the same client took the old one's place on this node in the
   * same step (Clean Start): then the entry stays, as the record that this node has the client.
   */
  deleteSession(clientId: string): void {
    this.wills.delete(clientId);
    queueMicrotask(() => {
      if (!this.broker?.sessions.has(clientId)) this.track(this.sessions.delete(idToken(clientId)));
    });
  }

  /** Waits for every write made so far (including deletes decided at the end of this tick). */
  async flushWrites(): Promise<void> {
    await Promise.resolve();
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    if (this.failure) {
      const failure = this.failure;
      this.failure = undefined;
      throw failure;
    }
  }

  /** Waits for every write made so far, then until every retained write acknowledged anywhere is applied here. */
  async flush(): Promise<void> {
    await this.flushWrites();
    // Our own writes are stored; the bucket's status may not answer while its stream elects a leader (a NATS
    // server lost): then this node waits for what it has seen of other nodes' retained writes, no more.
    const status = await this.retained.status().catch(() => undefined);
    if (status) await this.reached(status.streamInfo.state.last_seq);
  }

  /** Waits for the writes made so far (at most a few seconds: NATS may be gone), stops following retained messages. */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.flushWrites().catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, CLOSE_WAIT_MS)))]);
    clearTimeout(timer);
    this.watch?.stop();
  }

  /**
   * Acknowledgements written from now on also wait for `work` (not a write of this store: its failure is
   * reported by whoever started it and does not fail them).
   */
  holdAcks(work: Promise<unknown>): void {
    const held = work.then(
      () => undefined,
      () => undefined,
    );
    this.pending.add(held);
    void held.finally(() => this.pending.delete(held));
  }

  /** A write of this store: the acknowledgements wait for it, and fail if it fails. */
  private track(write: Promise<unknown>): void {
    this.holdAcks(
      write.catch((error: Error) => {
        this.failure = error;
      }),
    );
  }

  private apply(entry: KvWatchEntry): void {
    const broker = this.broker!;
    const topic = tokensTopic(entry.key);
    if (entry.operation === 'PUT') {
      const message = deserialize(entry.value) as Message;
      if (!message.topic.startsWith('$SYS/')) broker.retained.set(message);
    } else {
      broker.retained.set({ topic, payload: Buffer.alloc(0), qos: 0, retain: true, properties: {} });
    }
    this.appliedRevision = Math.max(this.appliedRevision, entry.revision);
    for (let i = this.revisionWaiters.length - 1; i >= 0; i--) {
      const waiter = this.revisionWaiters[i]!;
      if (waiter.revision <= this.appliedRevision) {
        this.revisionWaiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  /**
   * Resolves once the watch has applied revision `revision`. The bucket's last sequence may be a
   * deleted key's marker the watch reports, or a purged one it never does: a short bound covers that.
   */
  private reached(revision: number): Promise<void> {
    if (revision <= this.appliedRevision) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = { revision, resolve };
      this.revisionWaiters.push(waiter);
      setTimeout(() => {
        const i = this.revisionWaiters.indexOf(waiter);
        if (i >= 0) this.revisionWaiters.splice(i, 1);
        resolve();
      }, 2000).unref();
    });
  }
}
