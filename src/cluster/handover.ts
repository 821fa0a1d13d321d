import { DeliverPolicy, type JetStreamClient } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  installSession,
  releaseSession,
  topicMatchesFilter,
  type Broker,
  type Delivery,
  type Message,
  type Session,
  type Will,
} from '../broker/index.js';
import { decodeEnvelope } from './envelope.js';
import type { ClusterNames } from './resources.js';
import { decodeStoredSession, type ClusterStore, type StoredSession } from './store.js';
import { idToken } from './subjects.js';
import { serialize } from 'node:v8';

/** How long one release request waits for the node holding the session. */
const RELEASE_TIMEOUT_MS = 3000;
/** How long a claim keeps asking a holder that is slow but still sends heartbeats (a loaded machine). */
const RELEASE_ALIVE_MS = 12_000;
/** Attempts at writing the claim when another node claims the same client id at the same moment. */
const CLAIM_ATTEMPTS = 5;
/** Messages read per request while catching a session up. */
const CATCH_UP_BATCH = 1000;
/** The longest a claim waits for this node's reading of the stream to reach the session's stored sequence. */
const FEED_WAIT_MS = 10_000;

/** What the handover needs of this node's reading of the stream (StreamFeed). */
export interface FeedPosition {
  readonly processed: number;
  routedUpTo(seq: number, ms: number): Promise<boolean>;
}

/**
 * Sessions moving between nodes. The sessions bucket holds, per client id, the node that has the
 * client (`owner`) and the session's last stored state. A CONNECT on node C asks the owner B to release
 * the session (B sends DISCONNECT 0x8E to the live connection, cancels the pending will and expiry,
 * stores the state and forgets it), then writes itself as owner (compare-and-set, so two nodes claiming
 * at once do not both win) and installs the state, caught up with the QoS 1/2 messages the stream took
 * after that state was stored. If B does not answer (killed), C takes the last stored state.
 */
export class SessionHandover {
  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly names: ClusterNames,
    private readonly node: string,
    private readonly sessions: KV,
    private readonly store: ClusterStore,
    private readonly feed: FeedPosition,
    /** Whether a node is still heard from (presence.ts); a silent one is not waited for. */
    private readonly heardFrom: (node: string) => boolean,
    private readonly broker: () => Broker,
  ) {}

  /** Answers other nodes' release requests for sessions held here. */
  serve(): void {
    this.nc.subscribe(this.releaseSubject(this.node), {
      callback: (error, msg) => {
        if (error) return;
        this.release(msg.string()).then(
          () => msg.respond('released'),
          (failure: Error) => msg.respond(`error: ${failure.message}`),
        );
      },
    });
  }

  /** ClusterLink.claimSession: see the class comment. */
  async claim(clientId: string, cleanStart: boolean, will: Will | undefined): Promise<void> {
    const key = idToken(clientId);
    for (let attempt = 1; ; attempt++) {
      let entry = await this.sessions.get(key);
      let stored = entry?.operation === 'PUT' ? decodeStoredSession(entry.value) : undefined;
      if (stored && stored.owner !== this.node) {
        await this.askRelease(stored.owner, clientId);
        entry = await this.sessions.get(key);
        stored = entry?.operation === 'PUT' ? decodeStoredSession(entry.value) : undefined;
      }
      const local = this.broker().sessions.get(clientId);
      const resumed = cleanStart || local ? undefined : stored?.snapshot;
      const streamSeq = resumed ? stored!.streamSeq : this.feed.processed;
      const claim: StoredSession = { clientId, owner: this.node, snapshot: resumed, streamSeq, connected: true, will };
      try {
        if (entry) await this.sessions.update(key, serialize(claim), entry.revision);
        else await this.sessions.create(key, serialize(claim));
      } catch (error) {
        if (attempt >= CLAIM_ATTEMPTS) throw error;
        continue;
      }
      if (resumed) await this.resume(resumed, claim.streamSeq);
      return;
    }
  }

  /** Installs a session from another node and queues, ahead of anything newer, what it missed. */
  async resume(snapshot: NonNullable<StoredSession['snapshot']>, storedSeq: number): Promise<Session> {
    // The session already has every message up to storedSeq. A node whose reading lags behind that would
    // route the ones in between into it again once installed: a second delivery, of QoS 2 too
    // (which promises exactly once, §4.3.3). So it is installed once this node has read that far (a few ms unless under load);
    // a reading stalled past FEED_WAIT_MS is accepted with that cost rather than refusing the client.
    await this.feed.routedUpTo(storedSeq, FEED_WAIT_MS);
    const session = installSession(this.broker(), snapshot);
    // From here on the feed routes new messages into the session; the ones before are read from the stream.
    const upTo = this.feed.processed;
    const missed = await this.missedSince(session, storedSeq + 1, upTo);
    const room = Math.max(0, this.broker().options.maxQueuedMessages - session.queue.length);
    session.prepend(missed.slice(0, room));
    return session;
  }

  /** The deliveries for `session` among stream messages `from`..`to`. */
  private async missedSince(session: Session, from: number, to: number): Promise<Delivery[]> {
    const out: Delivery[] = [];
    if (to < from) return out;
    const consumer = await this.js.consumers.get(this.names.stream, {
      filter_subjects: `${this.names.qos12}.>`,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: from,
    });
    let seq = from - 1;
    while (seq < to) {
      const batch = await consumer.fetch({ max_messages: Math.min(CATCH_UP_BATCH, to - seq), expires: 5000 });
      let got = 0;
      for await (const m of batch) {
        got++;
        seq = m.seq;
        const envelope = decodeEnvelope(m.data);
        const delivery = envelope && seq <= to ? this.deliveryFor(session, envelope.message) : undefined;
        if (delivery) out.push(delivery);
      }
      // Messages aged out of the stream end the catch-up early.
      if (got === 0) break;
    }
    return out;
  }

  /** What one session gets of a message, by its own subscriptions (overlaps merged [MQTT-3.3.4-2], [MQTT-3.3.4-3]). */
  private deliveryFor(session: Session, message: Message): Delivery | undefined {
    let qos = -1;
    let retainAsPublished = false;
    const ids: number[] = [];
    for (const s of session.subscriptions.values()) {
      // Shared subscriptions get their messages through the group's consumer, which kept them.
      if (s.group !== undefined || !topicMatchesFilter(s.filter, message.topic)) continue;
      if (s.noLocal && message.origin === session.clientId) continue;
      qos = Math.max(qos, s.qos);
      retainAsPublished ||= s.retainAsPublished;
      if (s.subscriptionId !== undefined) ids.push(s.subscriptionId);
    }
    if (qos < 0 || (message.expiresAt !== undefined && message.expiresAt <= Date.now())) return undefined;
    const acl = this.broker().options.acl;
    if (acl && !acl.canRead({ clientId: session.clientId, username: session.username }, message.topic)) return undefined;
    return { message, qos: Math.min(qos, message.qos) as 0 | 1 | 2, retain: retainAsPublished && message.retain, subscriptionIds: ids };
  }

  /**
   * Asks `owner` to release the session. A node that does not answer and is no longer heard from (killed)
   * leaves its last stored state; one that still sends heartbeats is slow, not gone, and is asked again for
   * up to RELEASE_ALIVE_MS: taking an older state while it still holds the session would deliver again
   * what it delivered since (and leave it a copy of the session).
   */
  private async askRelease(owner: string, clientId: string): Promise<void> {
    const until = Date.now() + RELEASE_ALIVE_MS;
    for (;;) {
      try {
        await this.nc.request(this.releaseSubject(owner), clientId, { timeout: RELEASE_TIMEOUT_MS });
        return;
      } catch {
        if (Date.now() + RELEASE_TIMEOUT_MS > until || !this.heardFrom(owner) || this.nc.isClosed()) return;
      }
    }
  }

  /**
   * Another node claims `clientId`: end its connection here and store the session for it, unless the
   * claim did not wait for this answer and the key has another owner already: the late state must not
   * overwrite the claim (compare-and-set on the key's revision).
   */
  private async release(clientId: string): Promise<void> {
    const snapshot = releaseSession(this.broker(), clientId);
    // The snapshot reflects the stream up to here; what the reading routes from now on no longer reaches it.
    const streamSeq = this.feed.processed;
    await this.store.flushWrites();
    if (!snapshot || snapshot.expiryInterval === 0) return;
    const key = idToken(clientId);
    const entry = await this.sessions.get(key);
    const stored = entry?.operation === 'PUT' ? decodeStoredSession(entry.value) : undefined;
    if (!entry || stored?.owner !== this.node) return;
    const released: StoredSession = { clientId, owner: this.node, snapshot, streamSeq };
    await this.sessions.update(key, serialize(released), entry.revision).catch(() => undefined);
  }

  private releaseSubject(node: string): string {
    return `${this.names.node}.${idToken(node)}.release`;
  }
}
