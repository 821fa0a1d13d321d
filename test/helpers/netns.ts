import { spawnSync } from 'node:child_process';

/** A network namespace joined to the host by a veth pair, made by a test and removed by `close`. */
export interface VethLink {
  readonly namespace: string;
  /** Address of the host end (in the test's own namespace). */
  readonly hostAddress: string;
  /** Address of the namespace end. */
  readonly namespaceAddress: string;
  /** The command line prefix that runs a program inside the namespace. */
  readonly exec: string[];
  close(): void;
}

function run(argv: string[]): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr.trim() || r.error?.message}`);
}

/** Why a test cannot make a namespace here (not root, no `ip`, no netem), or undefined when it can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  if (spawnSync('ip', ['-V']).error) return 'the ip command (iproute2) is not installed';
  if (spawnSync('tc', ['-V']).error) return 'the tc command (iproute2) is not installed';
  const probe = `mqlprobe${process.pid % 100000}`;
  const made = spawnSync('ip', ['netns', 'add', probe]);
  if (made.status !== 0) return `ip netns add failed: ${made.stderr.toString().trim()}`;
  try {
    const netem = spawnSync('ip', ['netns', 'exec', probe, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']);
    if (netem.status !== 0) return `tc netem is not available in this kernel (${netem.stderr.toString().trim()})`;
  } finally {
    spawnSync('ip', ['netns', 'del', probe]);
  }
  return undefined;
}

/**
 * Makes namespace `mqlns<pid>` and a veth pair 10.213.<n>.1 (host) – 10.213.<n>.2 (namespace), with the
 * queueing discipline `qdisc` on both ends (e.g. `netem loss 5% delay 20ms`): the packets between the
 * two really are lost and delayed, and TCP retransmits them.
 */
export function createVethLink(qdisc: string[]): VethLink {
  const id = process.pid % 100000;
  const namespace = `mqlns${id}`;
  const hostIf = `mqlh${id}`;
  const nsIf = `mqln${id}`;
  const subnet = `10.213.${id % 250}`;
  const hostAddress = `${subnet}.1`;
  const namespaceAddress = `${subnet}.2`;
  const inNs = ['ip', 'netns', 'exec', namespace];
  const close = () => {
    spawnSync('ip', ['link', 'del', hostIf]);
    spawnSync('ip', ['netns', 'del', namespace]);
  };
  try {
    run(['ip', 'netns', 'add', namespace]);
    run(['ip', 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
    run(['ip', 'link', 'set', nsIf, 'netns', namespace]);
    run(['ip', 'addr', 'add', `${hostAddress}/30`, 'dev', hostIf]);
    run(['ip', 'link', 'set', hostIf, 'up']);
    run([...inNs, 'ip', 'addr', 'add', `${namespaceAddress}/30`, 'dev', nsIf]);
    run([...inNs, 'ip', 'link', 'set', nsIf, 'up']);
    run([...inNs, 'ip', 'link', 'set', 'lo', 'up']);
    run(['tc', 'qdisc', 'add', 'dev', hostIf, 'root', ...qdisc]);
    run([...inNs, 'tc', 'qdisc', 'add', 'dev', nsIf, 'root', ...qdisc]);
  } catch (error) {
    close();
    throw error;
  }
  return { namespace, hostAddress, namespaceAddress, exec: inNs, close };
}
