import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openFileWrapper, registerChild, startNats } from '../util/index.js';
import type { BenchTarget, TargetSettings } from './targets.js';

/** Nodes of the `cluster` target. */
export const CLUSTER_NODES = 3;
/** Open files a node needs beyond its clients' sockets (NATS connection, listeners, stdio...). */
const NODE_FD_MARGIN = 256;

/**
 * The `cluster` target: a nats-server with JetStream (store in a temp dir) and CLUSTER_NODES nodes of
 * our broker, each in a process of its own (its own core, memory and open-file limit). The scenarios
 * connect to the nodes directly, not through a balancer (HAProxy needs two descriptors per connection):
 * `connections` spreads its generator processes over the nodes, the flow scenarios put the publishers
 * on the first node and the subscribers on the second, so every message crosses nodes.
 */
export async function startClusterTarget(settings: TargetSettings, clients: number): Promise<BenchTarget> {
  const nats = await startNats(1);
  const nodes: Array<{ port: number; pid: number; close: () => Promise<void> }> = [];
  const close = async () => {
    await Promise.all(nodes.map((n) => n.close()));
    await nats.close();
  };
  try {
    const openFiles = Math.ceil(clients / CLUSTER_NODES) + NODE_FD_MARGIN;
    for (let i = 0; i < CLUSTER_NODES; i++) {
      const args = [String(settings.maxQueued), String(settings.inflight), nats.urls, `node${i + 1}`];
      nodes.push(await startNode(args, openFiles, i + 1));
    }
  } catch (error) {
    await close();
    throw error;
  }
  // The nats-server works for every message that crosses nodes: its CPU and memory are the cluster's too.
  const engines = nats.servers.map((s) => s.process.pid);
  return { name: 'cluster', host: '127.0.0.1', port: nodes[0]!.port, nodes, engines, close };
}

/** Forks one node (embedded-child.js with the cluster's NATS URL and a node name); resolves once it listens. */
async function startNode(args: string[], openFiles: number, n: number): Promise<{ port: number; pid: number; close: () => Promise<void> }> {
  const wrapper = openFileWrapper(openFiles, `cluster node ${n}`);
  const entry = fileURLToPath(new URL('./embedded-child.js', import.meta.url));
  const stdio: ['ignore', 'ignore', 'inherit', 'ipc'] = ['ignore', 'ignore', 'inherit', 'ipc'];
  const child =
    wrapper.length > 0
      ? fork(entry, args, { execPath: wrapper[0], execArgv: [...wrapper.slice(1), process.execPath], stdio })
      : fork(entry, args, { stdio });
  registerChild(`cluster node ${n} (pid ${child.pid})`, child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`cluster node ${n} exited with code ${code} before listening`)));
  });
  return {
    port,
    pid: child.pid!,
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send('stop');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
