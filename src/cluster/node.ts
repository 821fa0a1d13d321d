import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Broker, ClusterLink, Message, Subscription } from '../broker/index.js';
import { encodeEnvelope, decodeEnvelope, RecentIds, type Envelope } from './envelope.js';
import { StreamFeed } from './feed.js';
import { SubjectInterest } from './interest.js';
import { clusterNames, openResources, type ClusterNames, type ClusterResources } from './resources.js';
import { SessionHandover } from './handover.js';
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

/** How long a JetStream publish may take before the message counts as not taken. */
const PUBLISH_TIMEOUT_MS = 5000;

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
    this.feed = new StreamFeed(this.js, names.stream, `${names.qos12}.>`, (envelope) => this.attached().route(envelope.message, false));
    this.handover = new SessionHandover(nc, this.js, names, name, resources.sessions, this.store, () => this.feed.processed, () => this.attached());
    this.groups = new SharedGroups(nc, this.js, resources.jsm, names, () => this.attached(), (error) => this.attached().events.emit('persistenceError', error));
  }

  /** Connects to NATS and opens the cluster's stream and buckets; a one-line error when NATS cannot be reached. */
  static async connect(options: ClusterOptions): Promise<ClusterNode> {
    const name = options.node ?? `${hostname()}-${process.pid}`;
    const names = clusterNames(options.prefix ?? 'mqttlab');
    let nc: NatsConnection;
    try {
      nc = await connect({ servers: options.servers, name: `mqttlab ${name}`, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 5000 });
    } catch (error) {
      throw new Error(`cannot reach NATS at ${options.servers.join(', ')}: ${(error as Error).message}`);
    }
    try {
      const replicas = options.replicas ?? Math.min(3, options.servers.length);
      return new ClusterNode(name, nc, names, await openResources(nc, names, replicas));
    } catch (error) {
      await nc.close();
      throw new Error(`NATS at ${options.servers.join(', ')} has no usable JetStream (start nats-server with -js): ${(error as Error).message}`);
    }
  }

  async attach(broker: Broker): Promise<void> {
    this.broker = broker;
    broker.events.on('clientConnected', (client) => this.groups.connectivity(client.clientId));
    broker.events.on('clientDisconnected', (client) => this.groups.connectivity(client.clientId));
    await this.store.follow(broker);
    await this.feed.start();
    this.handover.serve();
  }

  claimSession(clientId: string, cleanStart: boolean): Promise<void> {
    return this.handover.claim(clientId, cleanStart);
  }

  publish(message: Message): Promise<void> {
    const envelope: Envelope = { id: `${this.name}:${this.run}:${++this.counter}`, node: this.name, message };
    try {
      const data = encodeEnvelope(envelope);
      if (message.qos === 0) {
        this.nc.publish(topicSubject(this.names.qos0, message.topic), data);
        return Promise.resolve();
      }
      // Stored in the stream (on a quorum of its replicas) before the publisher is acknowledged.
      return this.js.publish(topicSubject(this.names.qos12, message.topic), data, { msgID: envelope.id }).then(() => undefined);
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  subscriptionChanged(subscription: Subscription, added: boolean): void {
    if (subscription.group !== undefined) this.groups.membership(subscription.clientId, subscription.group, subscription.filter, added);
    else if (added) this.interest.add(subscription.filter);
    else this.interest.remove(subscription.filter);
  }

  /** Leaves the cluster: stops reading, closes the NATS connection (after the broker has closed). */
  async close(): Promise<void> {
    await this.feed.stop();
    await this.groups.close();
    this.interest.clear();
    await this.nc.drain().catch(() => undefined);
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
