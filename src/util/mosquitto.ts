import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killChild, registerCleanup, stopChild } from './cleanup.js';
import { freePort, waitForPort } from './ports.js';

/** Path of the mosquitto binary (PATH, then Debian's /usr/sbin), or undefined when it is not installed. */
export function findMosquitto(): string | undefined {
  for (const candidate of ['mosquitto', '/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto']) {
    const r = spawnSync(candidate, ['-h'], { encoding: 'utf8' });
    if (!r.error) return candidate;
  }
  return undefined;
}

/** What to start a local Mosquitto with. */
export interface MosquittoOptions {
  /** Extra config lines, after the generated ones. */
  config?: string[];
  /** Also open a WebSocket listener. */
  websocket?: boolean;
  /** Command and arguments put in front of mosquitto (e.g. to raise its open-file limit). */
  wrapper?: string[];
}

/** A Mosquitto process listening on free loopback ports. */
export interface MosquittoProcess {
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  readonly wsPort?: number;
  readonly wsUrl?: string;
  /** SIGTERM (SIGKILL after 2 s), then removes the generated config. */
  close(): Promise<void>;
}

/** Starts a real `mosquitto` with a generated config (anonymous, no persistence) on free loopback ports. */
export async function startMosquittoProcess(options: MosquittoOptions = {}): Promise<MosquittoProcess> {
  const port = await freePort();
  const wsPort = options.websocket ? await freePort() : undefined;
  const lines = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    // As in mosquitto/config/mosquitto.conf: no Nagle delay on small packets.
    'set_tcp_nodelay true',
    ...(wsPort ? [`listener ${wsPort} 127.0.0.1`, 'protocol websockets'] : []),
    ...(options.config ?? []),
  ];
  const { pid, close } = await runMosquittoConfig(lines, wsPort ? [port, wsPort] : [port], options.wrapper);
  return {
    pid,
    port,
    url: `mqtt://127.0.0.1:${port}`,
    wsPort,
    wsUrl: wsPort ? `ws://127.0.0.1:${wsPort}` : undefined,
    close,
  };
}

/**
 * Runs `mosquitto` on `lines` (listeners included) after the settings every run of ours has (no
 * persistence, errors and warnings to stderr), in a temp dir; resolves once each of `ports` accepts
 * connections. `close` is SIGTERM (SIGKILL after 2 s) and removes the dir; Ctrl-C does the same.
 */
export async function runMosquittoConfig(
  lines: readonly string[],
  ports: readonly number[],
  wrapper: readonly string[] = [],
): Promise<{ pid: number; close(): Promise<void> }> {
  const binary = findMosquitto();
  if (!binary) throw new Error('mosquitto is not installed (apt-get install mosquitto)');
  const dir = mkdtempSync(join(tmpdir(), 'mqttlab-mosquitto-'));
  const config = join(dir, 'mosquitto.conf');
  writeFileSync(config, `${['persistence false', 'log_dest stderr', 'log_type error', 'log_type warning', ...lines].join('\n')}\n`);
  const argv = [...wrapper, binary, '-c', config];
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  const close = async () => {
    await stopChild(child, 2000);
    removeDir();
    release();
  };
  const release = registerCleanup({
    what: `Mosquitto on port ${ports.join(', ')}`,
    stop: close,
    kill: () => {
      killChild(child);
      removeDir();
    },
  });
  try {
    // Mosquitto opens its listeners one after the other: a WebSocket one may lag behind TCP.
    for (const port of ports) await waitForPort(port, 5000, () => child.exitCode !== null);
  } catch (error) {
    killChild(child);
    removeDir();
    release();
    throw new Error(`mosquitto did not start: ${(error as Error).message}\n${stderr}`);
  }
  return { pid: child.pid!, close };
}
