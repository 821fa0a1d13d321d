import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { startLocalCluster, type ClusterNames, type LocalCluster } from '../../src/cluster/index.js';
import type { CreateBrokerOptions } from '../../src/broker/index.js';
import { findHaproxy, findNatsServer, spawnServer, startNats, type NatsSystem, type ServerProcess } from '../../src/util/index.js';

/** Why the cluster target cannot run here, or undefined when it can. */
export const clusterUnavailable: string | undefined = !findNatsServer()
  ? 'nats-server is not installed (apt-get install nats-server)'
  : !findHaproxy()
    ? 'haproxy is not installed (apt-get install haproxy)'
    : undefined;

/** Three nodes of one cluster behind a round-robin TCP balancer, on the file's shared NATS. */
export interface TestCluster extends LocalCluster {
  readonly prefix: string;
}

/** NATS systems of this test file by size, started on first use and stopped when the process exits. */
const natsSystems = new Map<number, Promise<NatsSystem>>();
let exitHook = false;
let clusters = 0;

/** The NATS system with `size` servers shared by every cluster of this test file (one per file, so tests start fast). */
export function sharedNats(size = 1): Promise<NatsSystem> {
  let nats = natsSystems.get(size);
  if (!nats) {
    nats = startNats(size);
    natsSystems.set(size, nats);
  }
  if (!exitHook) {
    exitHook = true;
    // node:test has no file-level hook a helper can add from inside a suite: stop them when the file's process ends.
    process.once('beforeExit', () => {
      for (const system of natsSystems.values()) void system.then((s) => s.close());
      natsSystems.clear();
    });
  }
  return nats;
}

/** What a test cluster is started with. */
export interface TestClusterOptions {
  /** Options of every node. */
  node?: CreateBrokerOptions;
  /** Also balance a WebSocket listener of each node. */
  websocket?: boolean;
  /** Port for the TCP balancer (default: a free one). */
  port?: number;
  /** NATS servers under the cluster: 1, or 3 for JetStream R3. */
  natsServers?: 1 | 3;
  nodes?: number;
  /** Prefix of the cluster's subjects, stream and buckets (default: a fresh one): the same one resumes a stopped cluster. */
  prefix?: string;
  /** Keep the stream and buckets at close (to start the cluster again on them). */
  keep?: boolean;
}

/** Starts three nodes (each on free loopback ports, a fresh prefix in the shared NATS) and the balancer in front. */
export async function startTestCluster(options: TestClusterOptions = {}): Promise<TestCluster> {
  const nats = await sharedNats(options.natsServers ?? 1);
  const prefix = options.prefix ?? `t${process.pid}x${++clusters}`;
  const local = await startLocalCluster({
    nodes: options.nodes ?? 3,
    node: { sysInterval: 0, ...options.node },
    port: options.port,
    wsPort: options.websocket ? 0 : undefined,
    nats,
    prefix,
  });
  return {
    ...local,
    prefix,
    close: async () => {
      await local.close();
      if (!options.keep) await dropResources(nats, local.nodes[0]!.node.names);
    },
  };
}

/** Deletes a test cluster's stream and buckets, so the shared NATS does not fill up over a file's tests. */
async function dropResources(nats: NatsSystem, names: ClusterNames): Promise<void> {
  const nc = await connect({ servers: nats.servers.map((s) => s.url) }).catch(() => undefined);
  if (!nc) return;
  try {
    // JetStream may not answer for a while after a test killed one of its servers: tidying up is not the test.
    const jsm = await jetstreamManager(nc);
    for (const stream of [names.stream, `KV_${names.retainedBucket}`, `KV_${names.sessionsBucket}`])
      await jsm.streams.delete(stream).catch(() => undefined);
  } catch {
    // Left for the NATS system's own stop at the end of the file.
  } finally {
    await nc.close();
  }
}

/** A node started as its own `mqttlab broker --cluster` process, so a test can SIGKILL it. */
export interface NodeProcess {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly proc: ServerProcess;
}

const CLI = new URL('../../src/cli/index.js', import.meta.url).pathname;

/**
 * Starts one `mqttlab broker` process per name as nodes of the cluster on `nats`, each on a port it picks
 * itself (read from its banner: a port chosen here could be taken by another test file before the node binds it).
 */
export async function startNodeProcesses(nats: NatsSystem, names: readonly string[]): Promise<NodeProcess[]> {
  const started = names.map((name) => {
    const args = [CLI, 'broker', '-p', '0', '-w', '0', '--sys-interval', '0', '--cluster', nats.urls, '--node', name];
    return { name, proc: spawnServer(process.execPath, args) };
  });
  const nodes: NodeProcess[] = [];
  for (const { name, proc } of started) {
    const deadline = performance.now() + 15_000;
    let match: RegExpMatchArray | null = null;
    while (!(match = proc.output().match(/listening on mqtt:\/\/127\.0\.0\.1:(\d+)/))) {
      if (proc.exited() || performance.now() > deadline) throw new Error(`node ${name} did not start: ${proc.output().trim()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const port = Number(match[1]);
    nodes.push({ name, port, url: `mqtt://127.0.0.1:${port}`, proc });
  }
  return nodes;
}
