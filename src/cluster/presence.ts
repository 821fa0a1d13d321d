import type { NatsConnection, Subscription as NatsSubscription } from '@nats-io/transport-node';
import type { Broker } from '../broker/index.js';
import type { ClusterNames } from './resources.js';
import { idToken } from './subjects.js';

/** What a node tells the others about itself every heartbeat. */
export interface NodeReport {
  readonly node: string;
  readonly clientsConnected: number;
  readonly sessions: number;
  readonly subscriptions: number;
  readonly messagesReceived: number;
  readonly messagesSent: number;
  readonly messagesDropped: number;
}

/** Milliseconds between heartbeats. */
export const HEARTBEAT_MS = 1000;
/** A node not heard from for this long counts as gone. */
export const NODE_TIMEOUT_MS = 3 * HEARTBEAT_MS;
/**
 * A node not heard from for this long is dead: its sessions are taken over. Longer than NODE_TIMEOUT_MS,
 * so a node whose event loop stalls for a few seconds under load keeps its sessions.
 */
export const NODE_DEAD_MS = 10 * HEARTBEAT_MS;
/** True when a node heard from `at` counts as alive at `now`: within NODE_TIMEOUT_MS. */
function heardWithin(at: number | undefined, now: number): boolean {
  return at !== undefined && now - at <= NODE_TIMEOUT_MS;
}

/** Nodes remembered after they went silent (for when they were last heard from). */
const MAX_REMEMBERED = 1000;

/**
 * Which nodes are alive, and the cluster's `$SYS/cluster/...` topics: every node publishes a report on
 * `<prefix>.sys.node.<node>` each second and listens to the others'. From them each node publishes,
 * as local retained messages like its own `$SYS/broker/...`, the cluster's totals and a JSON list of
 * the live nodes.
 */
export class Presence {
  private readonly seen = new Map<string, { report: NodeReport; at: number }>();
  /** When each node was last heard from, kept after it went silent; a node past NODE_DEAD_MS is reported once. */
  private readonly lastHeard = new Map<string, { at: number; reported: boolean }>();
  /** Called once for each node silent for NODE_DEAD_MS, with when it was last heard from. */
  onDead: (node: string, lastHeardAt: number) => void = () => {};
  private sub: NatsSubscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastSys = 0;
  private startedAt = Date.now();

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: ClusterNames,
    private readonly node: string,
    private readonly broker: () => Broker,
  ) {}

  start(): void {
    this.startedAt = Date.now();
    this.sub = this.nc.subscribe(`${this.names.sys}.node.*`, {
      callback: (error, msg) => {
        if (error) return;
        try {
          const report = msg.json<NodeReport>();
          if (typeof report.node !== 'string') return;
          this.seen.set(report.node, { report, at: Date.now() });
          this.heard(report.node);
        } catch {
          // Not one of ours: ignored.
        }
      },
    });
    this.beat();
    this.timer = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.timer.unref();
  }

  /** The nodes heard from recently, this one included. */
  alive(): string[] {
    const now = Date.now();
    return [...this.seen.entries()]
      .filter(([, v]) => heardWithin(v.at, now))
      .map(([name]) => name)
      .sort();
  }

  /** When `node` was last heard from, if it was. */
  lastHeardAt(node: string): number | undefined {
    return this.lastHeard.get(node)?.at;
  }

  /** True when `node` was heard within NODE_TIMEOUT_MS (a killed node is not, once one request to it has timed out). */
  heardRecently(node: string): boolean {
    return heardWithin(this.lastHeardAt(node), Date.now());
  }

  /**
   * True when `node` has been silent for NODE_DEAD_MS: heard from that long ago, or never while this node has
   * listened that long. Not the 3 s of `alive()`: a node whose heartbeats are late under load is not dead.
   */
  isDead(node: string): boolean {
    if (node === this.node) return false;
    const now = Date.now();
    const heard = this.lastHeard.get(node);
    return heard ? now - heard.at > NODE_DEAD_MS : now - this.startedAt > NODE_DEAD_MS;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.sub?.unsubscribe();
  }

  private beat(): void {
    const report = this.report();
    this.seen.set(this.node, { report, at: Date.now() });
    if (!this.nc.isClosed()) this.nc.publish(`${this.names.sys}.node.${idToken(this.node)}`, JSON.stringify(report));
    const now = Date.now();
    for (const [name, v] of this.seen) if (!heardWithin(v.at, now)) this.seen.delete(name);
    for (const [name, v] of this.lastHeard) {
      if (v.reported || now - v.at <= NODE_DEAD_MS) continue;
      v.reported = true;
      this.onDead(name, v.at);
    }
    const interval = this.broker().options.sysInterval;
    if (interval > 0 && now - this.lastSys >= interval * 1000) {
      this.lastSys = now;
      this.publishSys();
    }
  }

  private heard(node: string): void {
    if (node === this.node) return;
    this.lastHeard.delete(node);
    this.lastHeard.set(node, { at: Date.now(), reported: false });
    // Oldest first (insertion order): the map stays bounded however many nodes come and go.
    if (this.lastHeard.size > MAX_REMEMBERED) this.lastHeard.delete(this.lastHeard.keys().next().value!);
  }

  private report(): NodeReport {
    const broker = this.broker();
    let connected = 0;
    for (const session of broker.sessions.values()) if (session.connected) connected++;
    return {
      node: this.node,
      clientsConnected: connected,
      sessions: broker.sessions.size,
      subscriptions: broker.router.size,
      messagesReceived: broker.stats.publishReceived,
      messagesSent: broker.stats.messagesSent,
      messagesDropped: broker.stats.messagesDropped,
    };
  }

  /** `$SYS/cluster/...`: totals over the live nodes, and `$SYS/cluster/nodes` listing them with their counts. */
  private publishSys(): void {
    const broker = this.broker();
    const reports = this.alive().map((name) => this.seen.get(name)!.report);
    const sum = (pick: (r: NodeReport) => number) => reports.reduce((n, r) => n + pick(r), 0);
    const publish = (topic: string, value: string | number) =>
      broker.publish({ topic: `$SYS/cluster/${topic}`, payload: Buffer.from(String(value)), qos: 0, retain: true, properties: {} });
    publish('nodes', JSON.stringify(reports));
    publish('nodes/count', reports.length);
    publish(
      'clients/connected',
      sum((r) => r.clientsConnected),
    );
    publish(
      'messages/received',
      sum((r) => r.messagesReceived),
    );
    publish(
      'messages/sent',
      sum((r) => r.messagesSent),
    );
    publish(
      'publish/messages/dropped',
      sum((r) => r.messagesDropped),
    );
    publish(
      'subscriptions/count',
      sum((r) => r.subscriptions),
    );
    publish('retained messages/count', broker.retained.size);
  }
}
