import { startLocalNodes, type LocalNodes } from '../cluster/index.js';
import type { NodeView } from '../telemetry/index.js';
import { fmt } from './status-line.js';

/** An embedded cluster for `mqttlab start --nodes N`, and how the telemetry system spreads over it. */
export interface StartedCluster {
  readonly local: LocalNodes;
  /** The nodes' `mqtt://` URLs in node order: devices and ingest workers go round robin over them. */
  readonly urls: string[];
  /** The same with the node names, for the ingest workers. */
  readonly brokers: Array<{ url: string; node: string }>;
  /** The first node's WebSocket URL, for the browser (any node serves the whole cluster). */
  readonly wsUrl: string | undefined;
  /** Each node's counts now, for /api/stats and the status line. */
  views(): NodeView[];
}

/**
 * Starts `count` broker nodes in this process as one cluster on a nats-server with JetStream started in a
 * temp dir (a one-line error when nats-server is not installed).
 */
export async function startEmbeddedCluster(count: number, host: string): Promise<StartedCluster> {
  const local = await startLocalNodes({ nodes: count, host, websocket: true, node: { sysInterval: 10 } });
  const brokers = local.nodes.map((n) => ({ url: n.url!, node: n.node.name }));
  return {
    local,
    urls: brokers.map((b) => b.url),
    brokers,
    wsUrl: local.nodes[0]!.wsUrl,
    views: () =>
      local.nodes.map((n) => {
        let connected = 0;
        for (const session of n.broker.sessions.values()) if (session.connected) connected++;
        return {
          node: n.node.name,
          url: n.url!,
          clientsConnected: connected,
          sessions: n.broker.sessions.size,
          subscriptions: n.broker.router.size,
          messagesReceived: n.broker.stats.publishReceived,
          messagesSent: n.broker.stats.messagesSent,
        };
      }),
  };
}

/** The banner's lines about the cluster: NATS and every node. */
export function clusterBanner(cluster: StartedCluster): string[] {
  const nats = cluster.local.nats.servers.map((s) => s.url).join(', ');
  const lines = [`cluster      ${cluster.local.nodes.length} nodes on NATS JetStream at ${nats} (started here)`];
  for (const n of cluster.local.nodes) lines.push(`  ${n.node.name.padEnd(10)} ${n.url}  ws ${n.wsUrl}`);
  return lines;
}

/** The status line's part about the nodes: connected clients per node. */
export function nodesStatus(views: readonly NodeView[]): string {
  return `nodes ${views.map((v) => `${v.node} ${fmt(v.clientsConnected)}`).join(' · ')}`;
}
