import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connectMqtt, disconnect } from '../client/index.js';
import { openFileWrapper, processCpuSeconds, processRssKb, registerChild, startMosquittoProcess } from '../util/index.js';
import { startClusterTarget } from './cluster-target.js';

/** A broker under test: what to connect to and, when we started it, its process id. */
export interface BenchTarget {
  /** 'embedded', 'mosquitto', 'relay', 'cluster' or the URL given. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Process to read CPU and memory from; undefined for a broker given by URL or a cluster. */
  readonly pid?: number;
  /** The nodes of a cluster target, each its own process (`port` is the first one's). */
  readonly nodes?: ReadonlyArray<{ readonly port: number; readonly pid: number }>;
  /** Processes the broker cannot work without, counted with it: a cluster's nats-server. */
  readonly engines?: readonly number[];
  close(): Promise<void>;
}

/** How to start a broker for a round. */
export interface TargetSettings {
  /** QoS 1/2 messages a session may queue (both brokers get the same). */
  maxQueued: number;
  /** In-flight QoS 1/2 window announced and enforced by both brokers. */
  inflight: number;
  /** Open files the broker process must be allowed (connections + margin). */
  openFiles: number;
  /** Directory for a V8 CPU profile of each round of the embedded broker or the relay (node --cpu-prof). */
  profileDir?: string;
}

/** True for 127.0.0.0/8, ::1 and localhost: the benchmark only ever talks to loopback. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The targets started by the benchmark itself; anything else is a loopback mqtt:// URL. */
export const NAMED_TARGETS = ['embedded', 'mosquitto', 'relay', 'cluster'] as const;

/** Parses `--broker`: 'embedded', 'mosquitto', 'relay', 'cluster' or an mqtt:// URL on loopback; throws a one-line error otherwise. */
export function parseTarget(value: string): string {
  if ((NAMED_TARGETS as readonly string[]).includes(value)) return value;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`broker "${value}" is not ${NAMED_TARGETS.join(', ')} or an mqtt:// URL`);
  }
  if (url.protocol !== 'mqtt:') throw new Error(`broker "${value}": only mqtt:// URLs are benchmarked`);
  if (!isLoopback(url.hostname)) throw new Error(`broker "${value}": the benchmark runs on loopback only (127.0.0.x)`);
  return value;
}

/** Starts (or, for a URL, just names) the broker for one round. */
export async function startTarget(name: string, settings: TargetSettings, clients = 0): Promise<BenchTarget> {
  if (name === 'cluster') return startClusterTarget(settings, clients);
  if (name === 'embedded')
    return startChild('embedded', 'embedded-child.js', [String(settings.maxQueued), String(settings.inflight)], settings);
  if (name === 'relay') return startChild('relay', 'relay-child.js', [], settings);
  if (name === 'mosquitto') {
    const m = await startMosquittoProcess({
      config: [`max_queued_messages ${settings.maxQueued}`, `max_inflight_messages ${settings.inflight}`],
      wrapper: openFileWrapper(settings.openFiles, 'mosquitto'),
    });
    return { name, host: '127.0.0.1', port: m.port, pid: m.pid, close: () => m.close() };
  }
  // The load clients speak raw MQTT on sockets; a broker that is not there is found here, in one line.
  await disconnect(await connectMqtt(name, { clientId: `mqttlab-bench-probe-${process.pid}` }));
  const url = new URL(name);
  return { name, host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 1883), close: async () => {} };
}

/** Forks a Node target (our broker or the relay) that sends { port } once listening and stops on 'stop'. */
async function startChild(name: 'embedded' | 'relay', file: string, args: string[], settings: TargetSettings): Promise<BenchTarget> {
  const wrapper = openFileWrapper(settings.openFiles, name === 'embedded' ? 'the embedded broker' : 'the relay');
  const nodeFlags = settings.profileDir
    ? ['--cpu-prof', '--cpu-prof-dir', settings.profileDir, '--cpu-prof-name', `${name}.${Date.now()}.cpuprofile`]
    : [];
  const entry = fileURLToPath(new URL(`./${file}`, import.meta.url));
  const child: ChildProcess =
    wrapper.length > 0
      ? fork(entry, args, {
          execPath: wrapper[0],
          execArgv: [...wrapper.slice(1), process.execPath, ...nodeFlags],
          stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        })
      : fork(entry, args, { execArgv: nodeFlags, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  registerChild(`the embedded broker (pid ${child.pid})`, child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`the ${name} target exited with code ${code} before listening`)));
  });
  return {
    name,
    host: '127.0.0.1',
    port,
    pid: child.pid!,
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.send('stop');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** The processes of a target we started: its own, or each node's of a cluster. */
function targetPids(target: BenchTarget): number[] {
  const own = target.nodes ? target.nodes.map((n) => n.pid) : target.pid ? [target.pid] : [];
  return [...own, ...(target.engines ?? [])];
}

/** CPU seconds of the target's processes so far (all nodes of a cluster and its nats-server); undefined for a broker given by URL. */
export function targetCpuSeconds(target: BenchTarget): number | undefined {
  const pids = targetPids(target);
  return pids.length === 0 ? undefined : pids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0);
}

/** Resident memory of the target's processes (kB, all nodes of a cluster and its nats-server); undefined for a broker given by URL. */
export function targetRssKb(target: BenchTarget): number | undefined {
  const pids = targetPids(target);
  return pids.length === 0 ? undefined : pids.reduce((sum, pid) => sum + processRssKb(pid), 0);
}

/** The port the i-th generator process of a role connects to: a cluster's nodes in turn, else the one port. */
export function portFor(target: BenchTarget, i: number): number {
  return target.nodes ? target.nodes[i % target.nodes.length]!.port : target.port;
}
