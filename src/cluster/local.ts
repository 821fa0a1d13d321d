import type { CreateBrokerOptions } from '../broker/index.js';
import { startNats, startRoundRobin, type LoadBalancer, type NatsSystem } from '../util/index.js';
import { createClusterBroker, type ClusterBroker } from './index.js';

/** What nodes on this machine are started with. */
export interface LocalNodesOptions {
  nodes: number;
  /** Options of every node (listeners are chosen here). */
  node?: Omit<CreateBrokerOptions, 'host' | 'port' | 'wsPort' | 'listeners' | 'cluster' | 'persistence'>;
  /** Interface the nodes listen on (default 127.0.0.1). */
  host?: string;
  /** Give every node a WebSocket listener too (on a free port). */
  websocket?: boolean;
  /** A running NATS to use (default: one nats-server started here, stopped with the nodes). */
  nats?: NatsSystem;
  /** Prefix of the cluster's names in NATS (default `mqttlab`). */
  prefix?: string;
}

/** Nodes of one cluster on free ports of this machine, with the NATS under them. */
export interface LocalNodes {
  readonly nats: NatsSystem;
  /** `node1`, `node2`, … in order. */
  readonly nodes: readonly ClusterBroker[];
  /** Stops the nodes (their clients get DISCONNECT 0x8B), then the NATS started here. */
  close(): Promise<void>;
}

/**
 * Starts `nodes` broker nodes on free ports as one cluster, on a nats-server with JetStream started here
 * (its store in a temp dir) unless one is given. One-line error when nats-server is missing.
 */
export async function startLocalNodes(options: LocalNodesOptions): Promise<LocalNodes> {
  const nats = options.nats ?? (await startNats(1));
  const nodes: ClusterBroker[] = [];
  const close = async () => {
    await Promise.all(nodes.map((n) => n.close()));
    if (!options.nats) await nats.close();
  };
  try {
    for (let i = 0; i < options.nodes; i++) {
      const cluster = {
        servers: nats.servers.map((s) => s.url),
        node: `node${i + 1}`,
        prefix: options.prefix,
        replicas: Math.min(3, nats.servers.length),
      };
      const host = options.host ?? '127.0.0.1';
      nodes.push(
        await createClusterBroker({ sysInterval: 10, ...options.node, host, port: 0, wsPort: options.websocket ? 0 : false, cluster }),
      );
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { nats, nodes, close };
}

/** What a balanced cluster on this machine is started with. */
export interface LocalClusterOptions extends Omit<LocalNodesOptions, 'websocket' | 'host'> {
  /** Port of the balancer in front of the nodes' TCP listeners (default: a free one). */
  port?: number;
  /** Also balance the nodes' WebSocket listeners, on this port (0: a free one). */
  wsPort?: number;
  /** Most connections the balancer takes (two descriptors each). */
  maxConnections?: number;
}

/** Nodes of one cluster on loopback ports behind a round-robin balancer, with the NATS under them. */
export interface LocalCluster extends LocalNodes {
  readonly balancer: LoadBalancer;
  readonly wsBalancer?: LoadBalancer;
  /** `mqtt://` URL of the balancer: consecutive connections land on different nodes. */
  readonly url: string;
  readonly wsUrl?: string;
  /** Stops the nodes (their clients get DISCONNECT 0x8B), the balancers, and the NATS started here. */
  close(): Promise<void>;
}

/**
 * Starts `nodes` broker nodes on free loopback ports as one cluster (see startLocalNodes) and HAProxy in
 * front of them. One-line errors when nats-server or haproxy is missing.
 */
export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const local = await startLocalNodes({ ...options, websocket: options.wsPort !== undefined });
  const balancers: LoadBalancer[] = [];
  const close = async () => {
    // Nodes first, so their DISCONNECT reaches the clients through the balancer.
    await local.close();
    await Promise.all(balancers.map((b) => b.close()));
  };
  try {
    balancers.push(
      await startRoundRobin(
        local.nodes.map((n) => n.port!),
        options.maxConnections,
        options.port,
      ),
    );
    if (options.wsPort !== undefined) {
      const wsPorts = local.nodes.map((n) => n.wsPort!);
      balancers.push(await startRoundRobin(wsPorts, options.maxConnections, options.wsPort || undefined));
    }
  } catch (error) {
    await close();
    throw error;
  }
  const [balancer, wsBalancer] = balancers as [LoadBalancer, LoadBalancer | undefined];
  const wsUrl = wsBalancer && `ws://127.0.0.1:${wsBalancer.port}`;
  return { nats: local.nats, nodes: local.nodes, balancer, wsBalancer, url: balancer.url, wsUrl, close };
}
