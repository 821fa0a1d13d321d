import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findMosquitto, freePort, registerChild, waitForPort } from '../util/index.js';

/** The mqttlab CLI, to run the embedded broker as a child process that can be killed. */
const CLI = fileURLToPath(new URL('../cli/index.js', import.meta.url));

/** A broker the chaos run may SIGKILL and start again on the same port with the same data. */
export interface KillableBroker {
  readonly url: string;
  readonly label: string;
  /** Whether kill() is possible (false for a broker given by URL). */
  readonly killable: boolean;
  /** SIGKILL: no shutdown, nothing flushed on the way out; resolves when the process is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data; resolves when it accepts connections. */
  restart(): Promise<void>;
  /** Stops it (SIGTERM, then SIGKILL after 2 s). */
  close(): Promise<void>;
  /** The last lines the broker wrote to stderr (errors and warnings), if any. */
  errors(): string[];
}

/** How to start the process once; `argv` runs it, `describe` says what it is. */
interface ProcessSpec {
  argv: string[];
  label: string;
}

/**
 * The embedded broker as `mqttlab broker --data-dir <dir>` (SQLite, acknowledgements after the store), or
 * Mosquitto with its own persistence in `<dir>`, on a free loopback port kept across restarts.
 */
export async function startKillableBroker(kind: 'embedded' | 'mosquitto', dataDir: string): Promise<KillableBroker> {
  const port = await freePort();
  const spec = kind === 'embedded' ? embeddedSpec(port, dataDir) : mosquittoSpec(port, dataDir);
  const errors: string[] = [];
  let child = await launch(spec, port, errors);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    label: spec.label,
    killable: true,
    kill: async () => {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      else return;
      await exited;
    },
    restart: async () => {
      child = await launch(spec, port, errors);
    },
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    },
    errors: () => [...new Set(errors)],
  };
}

/** A broker given by URL: used as it is, never killed. */
export function externalBroker(url: string): KillableBroker {
  const refuse = async () => {
    throw new Error(`cannot kill the broker at ${url}: --kill-broker needs --broker embedded or mosquitto`);
  };
  return { url, label: `broker at ${url}`, killable: false, kill: refuse, restart: refuse, close: async () => {}, errors: () => [] };
}

function embeddedSpec(port: number, dataDir: string): ProcessSpec {
  return {
    argv: [process.execPath, CLI, 'broker', '-H', '127.0.0.1', '-p', String(port), '-w', '0', '--sys-interval', '0', '--data-dir', dataDir],
    label: `embedded broker (mqttlab broker --data-dir) at mqtt://127.0.0.1:${port}`,
  };
}

function mosquittoSpec(port: number, dataDir: string): ProcessSpec {
  const binary = findMosquitto();
  if (!binary) throw new Error('mosquitto is not installed (apt-get install mosquitto)');
  const config = join(dataDir, 'mosquitto.conf');
  // Started as root, Mosquitto drops to its own user before it writes mosquitto.db: let that user in.
  chmodSync(dataDir, 0o777);
  writeFileSync(
    config,
    `${[
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'set_tcp_nodelay true',
      // Mosquitto writes its in-memory state to mosquitto.db now and then, not before it acknowledges:
      // autosave after every change is the most it offers.
      'persistence true',
      `persistence_location ${dataDir}/`,
      'autosave_on_changes true',
      'autosave_interval 1',
      // Room for every message of a run while the subscriber is away (the default queue is 1,000).
      'max_queued_messages 100000',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
    ].join('\n')}\n`,
  );
  return { argv: [binary, '-c', config], label: `Mosquitto (persistence true, autosave on every change) at mqtt://127.0.0.1:${port}` };
}

/** Starts the process and waits for its port; its stderr lines (without timestamps) go to `errors`, the last 20 kept. */
async function launch(spec: ProcessSpec, port: number, errors: string[]): Promise<ChildProcess> {
  const child = spawn(spec.argv[0]!, spec.argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  // Stopped however `mqttlab chaos` ends (Ctrl-C, an error), also between its SIGKILLs and restarts.
  registerChild(spec.label, child, { graceMs: 2000 });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    for (const line of text.split('\n')) {
      const trimmed = line.replace(/^\d+: /, '').trim();
      if (trimmed !== '') errors.push(trimmed);
    }
    errors.splice(0, Math.max(0, errors.length - 20));
  });
  try {
    await waitForPort(port, 15_000, () => child.exitCode !== null);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${spec.label} did not start: ${(error as Error).message}${errors.length > 0 ? `\n${errors.join('\n')}` : ''}`);
  }
  return child;
}
