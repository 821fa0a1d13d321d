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
  const binary = findMosquitto();
  if (!binary) throw new Error('mosquitto is not installed (apt-get install mosquitto)');
  const port = await freePort();
  const wsPort = options.websocket ? await freePort() : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'mqttlab-mosquitto-'));
  const lines = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    // As in mosquitto/config/mosquitto.conf: no Nagle delay on small packets.
    'set_tcp_nodelay true',
    ...(wsPort ? [`listener ${wsPort} 127.0.0.1`, 'protocol websockets'] : []),
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    ...(options.config ?? []),
  ];
  const config = join(dir, 'mosquitto.conf');
  writeFileSync(config, `${lines.join('\n')}\n`);
  const argv = [...(options.wrapper ?? []), binary, '-c', config];
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
    what: `Mosquitto on port ${port}`,
    stop: close,
    kill: () => {
      killChild(child);
      removeDir();
    },
  });
  try {
    await waitForPort(port, 5000, () => child.exitCode !== null);
    // Mosquitto opens its listeners one after the other: the WebSocket one may lag behind TCP.
    if (wsPort) await waitForPort(wsPort, 5000, () => child.exitCode !== null);
  } catch (error) {
    killChild(child);
    removeDir();
    release();
    throw new Error(`mosquitto did not start: ${(error as Error).message}\n${stderr}`);
  }
  return {
    pid: child.pid!,
    port,
    url: `mqtt://127.0.0.1:${port}`,
    wsPort,
    wsUrl: wsPort ? `ws://127.0.0.1:${wsPort}` : undefined,
    close,
  };
}
