import type { CreateBrokerOptions } from '../broker/index.js';
import { startNats, startRoundRobin, type LoadBalancer, type NatsSystem } from '../util/index.js';
import { createClusterBroker, type ClusterBroker } from './index.js';

/** What a cluster on this machine is started with. */
export interface LocalClusterOptions {
  nodes: number;
  /** Options of every node (listeners are chosen here). */
  node?: Omit<CreateBrokerOptions, 'host' | 'port' | 'wsPort' | 'listeners' | 'cluster' | 'persistence'>;
  /** Port of the balancer in front of the nodes' TCP listeners (default: a free one). */
  port?: number;
  /** Also balance the nodes' WebSocket listeners, on this port (0: a free one). */
  wsPort?: number;
  /** A running NATS to use (default: one nats-server started here, stopped with the cluster). */
  nats?: NatsSystem;
  /** Prefix of the cluster's names in NATS (default `mqttlab`). */
  prefix?: string;
  /** Most connections the balancer takes (two descriptors each). */
  maxConnections?: number;
}

/** Nodes of one cluster on loopback ports behind a round-robin balancer, with the NATS under them. */
export interface LocalCluster {
  readonly nats: NatsSystem;
  readonly nodes: readonly ClusterBroker[];
  readonly balancer: LoadBalancer;
  readonly wsBalancer?: LoadBalancer;
  /** `mqtt://` URL of the balancer: consecutive connections land on different nodes. */
  readonly url: string;
  readonly wsUrl?: string;
  /** Stops the nodes (their clients get DISCONNECT 0x8B), the balancers, and the NATS started here. */
  close(): Promise<void>;
}

/**
 * Starts `nodes` broker nodes on free loopback ports as one cluster (a nats-server with JetStream
 * started here unless one is given) and HAProxy in front of them. One-line errors when nats-server or
 * haproxy is missing.
 */
export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const nats = options.nats ?? (await startNats(1));
  const nodes: ClusterBroker[] = [];
  const balancers: LoadBalancer[] = [];
  const close = async () => {
    // Nodes first, so their DISCONNECT reaches the clients through the balancer.
    await Promise.all(nodes.map((n) => n.close()));
    await Promise.all(balancers.map((b) => b.close()));
    if (!options.nats) await nats.close();
  };
  try {
    for (let i = 0; i < options.nodes; i++) {
      nodes.push(
        await createClusterBroker({
          sysInterval: 10,
          ...options.node,
          host: '127.0.0.1',
          port: 0,
          wsPort: options.wsPort !== undefined ? 0 : false,
          cluster: {
            servers: nats.servers.map((s) => s.url),
            node: `node${i + 1}`,
            prefix: options.prefix,
            replicas: Math.min(3, nats.servers.length),
          },
        }),
      );
    }
    balancers.push(
      await startRoundRobin(
        nodes.map((n) => n.port!),
        options.maxConnections,
        options.port,
      ),
    );
    if (options.wsPort !== undefined)
      balancers.push(
        await startRoundRobin(
          nodes.map((n) => n.wsPort!),
          options.maxConnections,
          options.wsPort || undefined,
        ),
      );
  } catch (error) {
    await close();
    throw error;
  }
  const [balancer, wsBalancer] = balancers as [LoadBalancer, LoadBalancer | undefined];
  return { nats, nodes, balancer, wsBalancer, url: balancer.url, wsUrl: wsBalancer && `ws://127.0.0.1:${wsBalancer.port}`, close };
}
