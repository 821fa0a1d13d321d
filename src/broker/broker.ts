import type { Duplex } from 'node:stream';
import type { Packet } from 'mqtt-packet';
import { AuthFailureBackoff } from './auth/failure-backoff.js';
import { Connection } from './connection.js';
import type { Clock } from './clock.js';
import { ClusterAcks } from './cluster-seam.js';
import { Deadlines } from './deadlines.js';
import { deliverToSubscribers } from './fan-out.js';
import { TypedEmitter, type BrokerEvents, type DropReason } from './events.js';
import { SESSION_NEVER_EXPIRES } from './handlers/index.js';
import type { Message } from './message.js';
import { resolveOptions, type BrokerOptions, type ResolvedOptions } from './options.js';
import { PersistBatcher } from './persist-batcher.js';
import { ReasonCode } from '../protocol/index.js';
import { RetainedStore } from './retained.js';
import { Router } from './router.js';
import { Session, type SessionHooks } from './session.js';
import type { Subscription } from './subscription.js';
import { restoreState, snapshotSession } from './restore.js';
import { cancelWill, scheduleWill } from './wills.js';

/** Counters behind `$SYS/broker/...` and the benchmark. */
export interface BrokerStats {
  startedAt: number;
  publishReceived: number;
  messagesSent: number;
  bytesReceived: number;
  bytesSent: number;
  /** Messages not delivered to a subscriber, for any `messageDropped` reason. */
  messagesDropped: number;
  /** PUBLISH packets and their bytes (whole packets), received and sent, indexed by QoS: read by the metrics adapter. */
  publishIn: [number, number, number];
  publishInBytes: [number, number, number];
  publishOut: [number, number, number];
  publishOutBytes: [number, number, number];
}

/** How often connections are checked for keep alive and CONNECT timeouts. */
const SWEEP_INTERVAL_MS = 500;

/**
 * The broker core: sessions, routing, retained messages, wills and expiry. Transport-free: it is
 * handed byte streams (`handle`) by the TCP/WebSocket adapters or by tests.
 */
export class Broker {
  readonly options: ResolvedOptions;
  readonly events = new TypedEmitter<BrokerEvents>();
  readonly sessions = new Map<string, Session>();
  readonly connections = new Set<Connection>();
  readonly router = new Router();
  readonly retained = new RetainedStore();
  /** Slows down repeated bad credentials from one address (off unless `authFailureDelay` is set). */
  readonly authBackoff: AuthFailureBackoff;
  readonly deadlines: Deadlines;
  /** The options' clock: every time and timer of the core comes from it. */
  readonly clock: Clock;
  readonly stats: BrokerStats;
  /** Writes to the persistence, batched per tick when it is crash-safe. */
  readonly store: PersistBatcher;
  /** A cluster node's acknowledgements, waiting for the cluster (undefined for a lone broker). */
  private readonly clusterAcks: ClusterAcks | undefined;
  private stopSweeper: () => void;
  private closing = false;
  /** Bytes of QoS 1/2 messages queued or in flight across all sessions (bounded by `maxTotalQueuedBytes`). */
  private held = 0;
  /** What every session calls back into: one object for all of them, not five closures per session. */
  private readonly sessionHooks: SessionHooks;

  constructor(options: BrokerOptions = {}) {
    this.options = resolveOptions(options);
    this.clusterAcks = this.options.cluster && new ClusterAcks(this.options.cluster);
    this.clock = this.options.clock;
    this.deadlines = new Deadlines(this.clock, (error) => this.internalError('timer', error));
    this.stats = {
      startedAt: this.clock.now(),
      publishReceived: 0,
      messagesSent: 0,
      bytesReceived: 0,
      bytesSent: 0,
      messagesDropped: 0,
      publishIn: [0, 0, 0],
      publishInBytes: [0, 0, 0],
      publishOut: [0, 0, 0],
      publishOutBytes: [0, 0, 0],
    };
    this.authBackoff = new AuthFailureBackoff(this.options.authFailureDelay);
    this.store = new PersistBatcher(
      this.options.persistence,
      (session) => this.sessions.get(session.clientId) === session,
      (error) => this.guard('persistence error listener', () => this.events.emit('persistenceError', error)),
      this.clock,
    );
    const sweepSoon = (): void => {
      this.stopSweeper = this.clock.schedule(() => {
        this.sweep();
        sweepSoon();
      }, SWEEP_INTERVAL_MS);
    };
    this.stopSweeper = () => {};
    sweepSoon();
    this.sessionHooks = {
      limits: this.options,
      onDrop: (id, message, reason) => this.dropped(id, message, reason),
      onChange: (changed) => this.store.sessionChanged(changed),
      reserve: (bytes) => this.reserve(bytes),
      now: () => this.clock.now(),
    };
  }

  /** Joins the cluster, if one was given; loads retained messages and sessions from the persistence, if one was given. */
  async restore(): Promise<void> {
    await this.options.cluster?.attach(this);
    if (this.options.persistence) await restoreState(this, this.options.persistence);
  }

  /** Bytes of QoS 1/2 messages queued or in flight to clients, all sessions together. */
  get heldBytes(): number {
    return this.held;
  }

  /**
   * Runs `fn`; an unexpected error in it is reported as `internalError` and ends at most `conn` (0x83), never
   * the process. For paths outside a packet handler: will publication, timers, persistence callbacks.
   */
  guard(where: string, fn: () => void, conn?: Connection): void {
    try {
      fn();
    } catch (error) {
      this.internalError(where, error as Error);
      conn?.disconnect(ReasonCode.ImplementationSpecificError, `internal error in ${where}`);
    }
  }

  /** Reports an unexpected error; a listener that throws too is not allowed to take the process down. */
  internalError(where: string, error: Error): void {
    try {
      this.events.emit('internalError', where, error);
    } catch {
      // Nothing else to tell: the error was reported to the only place that could hear it.
    }
  }

  /** Serves one client over any byte stream (TCP socket, WebSocket stream, in-memory pair). */
  handle(stream: Duplex, transport = 'stream', remoteAddress?: string): Connection {
    const conn = new Connection(this, stream, transport, remoteAddress);
    if (this.closing) conn.close('broker is shutting down');
    else this.connections.add(conn);
    return conn;
  }

  /** Publishes a message as the broker (or on behalf of a client); returns the number of receivers here. */
  publish(message: Message): number {
    // `$SYS/` topics are regenerated at start, so they are not stored (nor shared with a cluster: they are the node's).
    if (message.retain && this.retained.set(message) && !message.topic.startsWith('$SYS/')) {
      this.store.saveRetained(message.topic, message.payload.length > 0 ? message : undefined);
    }
    const cluster = this.clusterAcks;
    // A lone broker routes at once, with no test of the topic on its publish path.
    if (!cluster || message.topic.startsWith('$SYS/')) return this.route(message, true);
    cluster.publish(message);
    // QoS 1/2 reach this node's subscribers in the cluster's order, like everyone else's; shared groups are the cluster's.
    return message.qos > 0 ? 0 : this.route(message, false);
  }

  /** Delivers a message to the matching sessions of this node (with `groups`, to its shared groups too). */
  route(message: Message, groups: boolean): number {
    const receivers = deliverToSubscribers(this, message, this.clock.now(), groups);
    this.events.emit('messagePublished', message, receivers);
    return receivers;
  }

  /** Counts bytes held for sessions against `maxTotalQueuedBytes`; a release (negative) always succeeds. */
  private reserve(bytes: number): boolean {
    if (bytes > 0 && this.held + bytes > this.options.maxTotalQueuedBytes) return false;
    this.held += bytes;
    return true;
  }

  /** Every undelivered message goes through here: counted for `$SYS` and announced, whatever the reason. */
  dropped(clientId: string, message: Message, reason: DropReason): void {
    this.stats.messagesDropped++;
    this.events.emit('messageDropped', clientId, message, reason);
  }

  /** The ACL's read check: denied messages are not delivered to the session. */
  readAllowed(session: Session, message: Message): boolean {
    const acl = this.options.acl;
    return !acl || acl.canRead({ clientId: session.clientId, username: session.username }, message.topic);
  }

  /** Adds (or replaces) a subscription of a session. */
  addSubscription(session: Session, subscription: Subscription): void {
    const previous = session.subscriptions.get(subscription.topicFilter);
    if (previous) this.router.remove(session.clientId, previous.filter, previous.group);
    session.subscriptions.set(subscription.topicFilter, subscription);
    this.router.add(subscription);
    if (previous) this.options.cluster?.subscriptionChanged(previous, false);
    this.options.cluster?.subscriptionChanged(subscription, true);
    this.store.sessionChanged(session);
  }

  /** Removes a session's subscription by the filter it was made with; true when it existed. */
  removeSubscription(session: Session, topicFilter: string): boolean {
    const subscription = session.subscriptions.get(topicFilter);
    if (!subscription) return false;
    session.subscriptions.delete(topicFilter);
    this.router.remove(session.clientId, subscription.filter, subscription.group);
    this.options.cluster?.subscriptionChanged(subscription, false);
    this.store.sessionChanged(session);
    return true;
  }

  /** Takes over a live connection of this client id: DISCONNECT 0x8E and close [MQTT-3.1.4-3]. */
  takeOver(clientId: string): void {
    // The live connection of a client id is its session's link: attached at CONNACK, detached on close.
    const link = this.sessions.get(clientId)?.link;
    if (link instanceof Connection && link.connackSent && !link.isClosed) {
      link.disconnect(ReasonCode.SessionTakenOver, 'session taken over by a new connection');
    }
  }

  /** Finds or creates the session for a CONNECT; Clean Start discards an old one [MQTT-3.1.2-4]. */
  openSession(clientId: string, cleanStart: boolean): { session: Session; present: boolean } {
    this.deadlines.remove(`session:${clientId}`);
    // [MQTT-3.1.3-9] a new connection within the Will Delay cancels the pending will.
    cancelWill(this, clientId);
    const existing = this.sessions.get(clientId);
    if (existing && !cleanStart) return { session: existing, present: true };
    if (existing) this.endSession(existing);
    const session = this.createSession(clientId);
    return { session, present: false };
  }

  /** Creates an empty session registered under its client id. */
  createSession(clientId: string): Session {
    const session = new Session(clientId, this.sessionHooks);
    this.sessions.set(clientId, session);
    return session;
  }

  /** Called by CONNECT once CONNACK is written: resend in-flight, deliver queued. */
  sessionAttached(conn: Connection, session: Session, present: boolean): void {
    // A stored session resumed with Session Expiry 0 now ends with this connection: no longer stored.
    if (present && session.expiryInterval === 0) this.store.deleteSession(session);
    else this.store.sessionChanged(session);
    session.attach(conn, this.clock.now());
    this.events.emit('clientConnected', conn.info(), present);
  }

  /**
   * Writes an acknowledgement once the state it confirms is stored (at once without a crash-safe
   * persistence), then runs `then`. If storing failed the connection is closed without it, so the
   * client sends the packet again [MQTT-4.4.0-1].
   */
  ackAfterStored(conn: Connection, ack: Packet, then?: () => void, message?: Message): void {
    if (this.clusterAcks) {
      // In a cluster a PUBLISH is acknowledged once the cluster took it, every acknowledgement in packet order.
      this.clusterAcks.inOrder(conn, message, () => this.ackWhenStored(conn, ack, then));
      return;
    }
    this.ackWhenStored(conn, ack, then);
  }

  private ackWhenStored(conn: Connection, ack: Packet, then?: () => void): void {
    if (!this.store.acksWait) {
      // Nothing to wait for (no crash-safe store): written now, without the two callbacks below.
      try {
        conn.write(ack);
        then?.();
      } catch (error) {
        this.internalError(`${ack.cmd} after store`, error as Error);
        conn.disconnect(ReasonCode.ImplementationSpecificError, `internal error in ${ack.cmd} after store`);
      }
      return;
    }
    this.whenStored(conn, ack.cmd, () => {
      conn.write(ack);
      then?.();
    });
  }

  /**
   * Runs `write` once every change made so far is stored (crash-safe store), under the guard; should the
   * commit fail, `conn` is closed with DISCONNECT 0x80 instead, as what `write` was to say is not true.
   */
  whenStored(conn: Connection, what: string, write: () => void): void {
    this.store.afterStored((stored) =>
      this.guard(
        `${what} after store`,
        () => {
          if (!stored) conn.disconnect(ReasonCode.UnspecifiedError, `could not store the state behind ${what}`);
          else write();
        },
        conn,
      ),
    );
  }

  /** Called once per connection when it ends, however it ends: will, session expiry. */
  connectionClosed(conn: Connection, reason: string): void {
    this.connections.delete(conn);
    this.guard('connection close', () => this.sessionLinkClosed(conn, reason));
  }

  private sessionLinkClosed(conn: Connection, reason: string): void {
    const session = conn.session;
    if (!session || session.link !== conn) {
      if (conn.clientId !== undefined && conn.connackSent) this.events.emit('clientDisconnected', conn.info(), reason);
      return;
    }
    const now = this.clock.now();
    session.detach(now);
    this.events.emit('clientDisconnected', conn.info(), reason);
    if (this.closing) return;
    if (conn.will) scheduleWill(this, session, conn.will, now);
    if (session.expiryInterval === 0) {
      this.endSession(session);
    } else if (session.expiryInterval !== SESSION_NEVER_EXPIRES) {
      // [MQTT-3.1.2-23] the session is kept for its Session Expiry Interval after the connection closes.
      this.expireSessionAt(session, now + session.expiryInterval * 1000);
    }
    this.store.saveSession(session, now);
  }

  /** Schedules the end of an offline session at epoch ms `at`. */
  expireSessionAt(session: Session, at: number): void {
    this.deadlines.add(`session:${session.clientId}`, at, () => {
      this.endSession(session);
      this.events.emit('sessionExpired', session.clientId);
    });
  }

  /** Ends a session: a pending will goes out now [MQTT-3.1.2-8], subscriptions are removed. */
  endSession(session: Session): void {
    const pendingWill = this.deadlines.remove(`will:${session.clientId}`);
    pendingWill?.();
    for (const s of session.subscriptions.values()) {
      this.router.remove(session.clientId, s.filter, s.group);
      this.options.cluster?.subscriptionChanged(s, false);
    }
    session.subscriptions.clear();
    session.release();
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
    this.store.deleteSession(session);
  }

  /** Closes every connection with DISCONNECT 0x8B, saves state, stops timers. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.stopSweeper();
    for (const conn of [...this.connections]) conn.disconnect(ReasonCode.ServerShuttingDown, 'broker shutting down');
    await this.store.close();
    const persistence = this.options.persistence;
    if (persistence) {
      const now = this.clock.now();
      for (const session of this.sessions.values()) {
        if (session.expiryInterval !== 0) persistence.saveSession(snapshotSession(session, now));
      }
    }
    this.deadlines.clear();
    await persistence?.close();
  }

  /**
   * Keep alive [MQTT-3.1.2-22]: close after 1.5× without a packet; drop connections that never CONNECT. Runs over
   * every connection twice a second, so it allocates nothing for one that is fine.
   */
  private sweep(): void {
    const now = this.clock.now();
    const connectDeadline = now - this.options.connectTimeout * 1000;
    for (const conn of this.connections) {
      try {
        if (!conn.connectReceived) {
          if (conn.openedAt >= connectDeadline) continue;
          const reason = `no CONNECT within ${this.options.connectTimeout} s`;
          this.events.emit('connectionRefused', { remoteAddress: conn.remoteAddress, reason });
          conn.close(reason);
        } else if (conn.keepalive > 0 && now - conn.lastPacketAt > conn.keepalive * 1500) {
          conn.disconnect(ReasonCode.KeepAliveTimeout, 'keep alive timeout');
        }
      } catch (error) {
        this.internalError('keep alive sweep', error as Error);
        conn.disconnect(ReasonCode.ImplementationSpecificError, 'internal error in keep alive sweep');
      }
    }
  }
}
