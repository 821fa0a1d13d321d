import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ReasonCode, type Broker, type ClusterLink, type Message, type Subscription, type Will } from '../broker/index.js';
import { encodeEnvelope, decodeEnvelope, RecentIds, type Envelope } from './envelope.js';
import { StreamFeed } from './feed.js';
import { inTurn } from './in-turn.js';
import { SubjectInterest } from './interest.js';
import { clusterNames, openResources, type ClusterNames, type ClusterResources } from './resources.js';
import { SessionHandover } from './handover.js';
import { OrphanSessions } from './orphans.js';
import { Presence } from './presence.js';
import { SharedGroups } from './shared-groups.js';
import { ClusterStore } from './store.js';
import { topicSubject } from './subjects.js';

/** How a node joins a cluster. */
export interface ClusterOptions {
  /** NATS server URLs (`nats://host:port`); the client fails over between them. */
  servers: string[];
  /** This node's name, unique in the cluster; default `<hostname>-<pid>`. */
  node?: string;
  /** Copies JetStream keeps of the stream and buckets; default: the number of servers given, at most 3. */
  replicas?: number;
  /** Prefix of every subject, stream and bucket name; default `mqttlab`. */
  prefix?: string;
}

/** How long NATS may be unreachable before this node sends its clients elsewhere. */
const NATS_GRACE_MS = 2000;

/** The longest each step of closing may take (NATS may be unreachable by then). */
const CLOSE_STEP_MS = 3000;

/** Waits for `work`, at most `ms`; its failure is not the caller's concern (used while closing). */
async function within(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work.catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

/** How long one JetStream request may take. */
const PUBLISH_TIMEOUT_MS = 5000;
/** One attempt at storing a message; a NATS server lost mid-way costs one attempt. */
const PUBLISH_ATTEMPT_MS = 2000;
/** How long a message may take to be stored before it counts as not taken (its publisher then gets DISCONNECT). */
const PUBLISH_DEADLINE_MS = 15_000;
const PUBLISH_RETRY_DELAY_MS = 100;
/**
 * How long a CONNECT may wait for its session claim while JetStream recovers (a NATS server lost: over 20 s
 * here at times); under MQTT.js's default 30 s connect timeout.
 */
const CLAIM_DEADLINE_MS = 20_000;
const CLAIM_RETRY_DELAY_MS = 200;

/**
 * One mqttlab node's membership of a cluster on NATS JetStream: the ClusterLink the broker core talks
 * to, and the Persistence (`store`) it keeps retained messages and sessions in.
 */
export class ClusterNode implements ClusterLink {
  readonly store: ClusterStore;
  private broker: Broker | undefined;
  private readonly js: JetStreamClient;
  private readonly interest: SubjectInterest;
  private readonly feed: StreamFeed;
  private readonly groups: SharedGroups;
  private readonly handover: SessionHandover;
  readonly presence: Presence;
  private readonly orphans: OrphanSessions;
  private cutOff: NodeJS.Timeout | undefined;
  /** When the NATS connection was lost; undefined while connected. */
  private disconnectedSince: number | undefined;
  private readonly recent = new RecentIds();
  /** Unique per run, so message ids never repeat across restarts (JetStream de-duplicates by id). */
  private readonly run = randomBytes(4).toString('hex');
  private counter = 0;

  private constructor(
    readonly name: string,
    readonly nc: NatsConnection,
    readonly names: ClusterNames,
    readonly resources: ClusterResources,
  ) {
    this.js = jetstream(nc, { timeout: PUBLISH_TIMEOUT_MS });
    this.store = new ClusterStore(resources.retained, resources.sessions, name, () => this.feed.processed);
    this.interest = new SubjectInterest(nc, names.qos0, (data) => this.fromQos0(data));
    this.feed = new StreamFeed(
      this.js,
      names.stream,
      `${names.qos12}.>`,
      (envelope) => this.attached().route(envelope.message, false),
      (error) => this.broker?.events.emit('persistenceError', error),
    );
    this.presence = new Presence(nc, names, name, () => this.attached());
    const heardFrom = (node: string) => this.presence.heardRecently(node);
    this.handover = new SessionHandover(nc, this.js, names, name, resources.sessions, this.store, this.feed, heardFrom, () =>
      this.attached(),
    );
    this.orphans = new OrphanSessions(resources.sessions, name, this.presence, this.handover, this.store, () => this.attached());
    this.groups = new SharedGroups(
      nc,
      this.js,
      resources.jsm,
      names,
      () => this.attached(),
      (error) => this.attached().events.emit('persistenceError', error),
      (work) => this.store.holdAcks(work),
    );
  }

  /** Connects to NATS and opens the cluster's stream and buckets; a one-line error when NATS cannot be reached. */
  static async connect(options: ClusterOptions): Promise<ClusterNode> {
    const name = options.node ?? `${hostname()}-${process.pid}`;
    const names = clusterNames(options.prefix ?? 'mqttlab');
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: options.servers,
        name: `mqttlab ${name}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        timeout: 5000,
      });
    } catch (error) {
      throw new Error(`cannot reach NATS at ${options.servers.join(', ')}: ${(error as Error).message}`);
    }
    try {
      const replicas = options.replicas ?? Math.min(3, options.servers.length);
      return new ClusterNode(name, nc, names, await openResources(nc, names, replicas));
    } catch (error) {
      await nc.close();
      throw new Error(
        `NATS at ${options.servers.join(', ')} has no usable JetStream (start nats-server with -js): ${(error as Error).message}`,
      );
    }
  }

  async attach(broker: Broker): Promise<void> {
    this.broker = broker;
    broker.events.on('clientConnected', (client) => this.groups.connectivity(client.clientId));
    broker.events.on('clientDisconnected', (client) => this.groups.connectivity(client.clientId));
    // A will held back by its Will Delay is out: the stored session no longer carries it (see ClusterStore.liveState).
    broker.events.on('willPublished', (clientId) => {
      const session = broker.sessions.get(clientId);
      if (session) broker.store.sessionChanged(session);
    });
    await this.store.follow(broker);
    await this.feed.start();
    this.handover.serve();
    this.presence.start();
    this.orphans.start();
    void this.watchConnection();
  }

  /**
   * Hands the client's session over to this node. A NATS reconnect in progress (within NATS_GRACE_MS) is
   * waited for, and a claim that fails while JetStream elects a new leader (a NATS server lost) is tried
   * again, up to CLAIM_DEADLINE_MS; a node cut off from NATS for longer refuses at once.
   */
  async claimSession(clientId: string, cleanStart: boolean, will: Will | undefined): Promise<void> {
    const deadline = Date.now() + CLAIM_DEADLINE_MS;
    for (;;) {
      if (this.disconnectedSince !== undefined) await this.reconnected(this.disconnectedSince + NATS_GRACE_MS);
      if (this.disconnectedSince !== undefined) throw new Error('NATS is unreachable');
      try {
        await this.handover.claim(clientId, cleanStart, will);
        return;
      } catch (error) {
        if (Date.now() + CLAIM_RETRY_DELAY_MS > deadline || this.nc.isClosed()) throw error;
        await new Promise((r) => setTimeout(r, CLAIM_RETRY_DELAY_MS));
      }
    }
  }

  /** Resolves once NATS is reconnected, or at `until` (epoch ms). */
  private async reconnected(until: number): Promise<void> {
    while (this.disconnectedSince !== undefined && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  }

  publish(message: Message): Promise<void> {
    const envelope: Envelope = { id: `${this.name}:${this.run}:${++this.counter}`, node: this.name, message };
    try {
      const data = encodeEnvelope(envelope);
      if (message.qos === 0) {
        const subject = topicSubject(this.names.qos0, message.topic);
        inTurn(() => {
          try {
            this.nc.publish(subject, data);
          } catch {
            // At most once: a connection closed meanwhile drops it, as a lost link would.
          }
        });
        return Promise.resolve();
      }
      // Stored in the stream (on a quorum of its replicas) before the publisher is acknowledged.
      return this.publishStored(topicSubject(this.names.qos12, message.topic), data, envelope.id);
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /**
   * Publishes into the stream, trying again while JetStream does not answer (a NATS server killed, the
   * stream electing a new leader) up to PUBLISH_DEADLINE_MS: JetStream drops a repeat with the same
   * message id, so a retry never stores the message twice.
   */
  private async publishStored(subject: string, data: Uint8Array, id: string): Promise<void> {
    const deadline = Date.now() + PUBLISH_DEADLINE_MS;
    for (;;) {
      try {
        await this.js.publish(subject, data, { msgID: id, timeout: PUBLISH_ATTEMPT_MS });
        return;
      } catch (error) {
        if (Date.now() + PUBLISH_ATTEMPT_MS > deadline || this.nc.isClosed()) throw error;
        await new Promise((r) => setTimeout(r, PUBLISH_RETRY_DELAY_MS));
      }
    }
  }

  subscriptionChanged(subscription: Subscription, added: boolean): void {
    if (subscription.group !== undefined) this.groups.membership(subscription.clientId, subscription.group, subscription.filter, added);
    else if (added) this.interest.add(subscription.filter);
    else this.interest.remove(subscription.filter);
  }

  /**
   * NATS lost for longer than a reconnect takes: this node can neither route nor store, so its clients
   * get DISCONNECT 0x9C (Use another server) and reconnect to a node that can; new CONNECTs are refused
   * with 0x88 meanwhile (the session claim fails). A reconnect within the grace period costs nothing.
   */
  private async watchConnection(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'disconnect' && !this.cutOff) {
        this.disconnectedSince = Date.now();
        this.cutOff = setTimeout(() => this.disconnectClients(), NATS_GRACE_MS);
        this.cutOff.unref();
      } else if (status.type === 'reconnect') {
        clearTimeout(this.cutOff);
        this.cutOff = undefined;
        this.disconnectedSince = undefined;
      }
    }
  }

  private disconnectClients(): void {
    const broker = this.attached();
    for (const conn of [...broker.connections]) {
      if (conn.connackSent) conn.disconnect(ReasonCode.UseAnotherServer, 'this node lost its connection to NATS');
    }
  }

  /** Leaves the cluster: stops reading, closes the NATS connection (after the broker has closed). Bounded in time when NATS is gone. */
  async close(): Promise<void> {
    clearTimeout(this.cutOff);
    this.presence.stop();
    this.orphans.stop();
    this.interest.clear();
    const reachable = this.disconnectedSince === undefined && !this.nc.isClosed();
    if (reachable) {
      await within(Promise.all([this.feed.stop(), this.groups.close()]), CLOSE_STEP_MS);
      await within(this.nc.drain(), CLOSE_STEP_MS);
    } else {
      void this.feed.stop();
      void this.groups.close();
    }
    if (!this.nc.isClosed()) await this.nc.close().catch(() => undefined);
  }

  /** A QoS 0 message from NATS: routed here unless this node published it or already routed it. */
  private fromQos0(data: Uint8Array): void {
    const envelope = decodeEnvelope(data);
    if (!envelope || envelope.node === this.name || !this.recent.firstTime(envelope.id)) return;
    this.attached().route(envelope.message, false);
  }

  private attached(): Broker {
    if (!this.broker) throw new Error('cluster node used before Broker.restore attached it');
    return this.broker;
  }
}
