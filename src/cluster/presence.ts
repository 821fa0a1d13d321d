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
 * Which nodes are alive, and the cluster's `$SYS/cluster/...` topics: every node publishes a report on
 * `<prefix>.sys.node.<node>` each second and listens to the others'. From them each node publishes,
 * as local retained messages like its own `$SYS/broker/...`, the cluster's totals and a JSON list of
 * the live nodes.
 */
export class Presence {
  private readonly seen = new Map<string, { report: NodeReport; at: number }>();
  private sub: NatsSubscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastSys = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: ClusterNames,
    private readonly node: string,
    private readonly broker: () => Broker,
  ) {}

  start(): void {
    this.sub = this.nc.subscribe(`${this.names.sys}.node.*`, {
      callback: (error, msg) => {
        if (error) return;
        try {
          const report = msg.json<NodeReport>();
          if (typeof report.node === 'string') this.seen.set(report.node, { report, at: Date.now() });
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
      .filter(([, v]) => now - v.at <= NODE_TIMEOUT_MS)
      .map(([name]) => name)
      .sort();
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
    for (const [name, v] of this.seen) if (now - v.at > NODE_TIMEOUT_MS) this.seen.delete(name);
    const interval = this.broker().options.sysInterval;
    if (interval > 0 && now - this.lastSys >= interval * 1000) {
      this.lastSys = now;
      this.publishSys();
    }
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
