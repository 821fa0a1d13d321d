import { spawn, spawnSync } from 'node:child_process';
import { findMosquitto, freePort, killChild, registerCleanup, startMosquittoProcess, stopChild, waitForPort } from '../util/index.js';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A server process this program started on loopback, stopped by `close()`. */
export interface LocalServer {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  /** e.g. "mosquitto 2.0.11" or "RabbitMQ 3.10.8". */
  readonly version: string;
  /** Milliseconds from spawn until it accepted connections. */
  readonly startupMs: number;
  close(): Promise<void>;
}

export { findMosquitto } from '../util/index.js';

/** Starts Mosquitto with a generated config on a free loopback port (anonymous, no persistence). */
export async function startMosquitto(): Promise<LocalServer> {
  const binary = findMosquitto();
  if (!binary) throw new Error('mosquitto is not installed (apt-get install mosquitto)');
  const version = /mosquitto version (\S+)/.exec(spawnSync(binary, ['-h'], { encoding: 'utf8' }).stdout)?.[1] ?? '?';
  const started = Date.now();
  const m = await startMosquittoProcess();
  return {
    name: 'mosquitto',
    port: m.port,
    url: m.url,
    version: `Mosquitto ${version}`,
    startupMs: Date.now() - started,
    close: () => m.close(),
  };
}

/**
 * The script that runs a RabbitMQ node in the foreground as the calling user. Debian's /usr/sbin/rabbitmq-server
 * is a wrapper that switches to the `rabbitmq` user and writes to /var/log/rabbitmq, so the real script under
 * /usr/lib/rabbitmq/bin is used instead. `RABBITMQ_SERVER_SCRIPT` overrides the search (a path that does not
 * exist makes RabbitMQ count as not installed).
 */
export function findRabbitMq(): string | undefined {
  const override = process.env.RABBITMQ_SERVER_SCRIPT;
  if (override) return existsSync(override) ? override : undefined;
  const candidates = ['/usr/lib/rabbitmq/bin/rabbitmq-server'];
  const lib = '/usr/lib/rabbitmq/lib';
  if (existsSync(lib)) for (const d of readdirSync(lib)) candidates.push(join(lib, d, 'sbin', 'rabbitmq-server'));
  return candidates.find((c) => existsSync(c));
}

/** The epmd binary (Erlang's port mapper), to stop the one a RabbitMQ node started. */
function findEpmd(): string | undefined {
  const candidates = ['/usr/lib/erlang/bin/epmd', '/usr/bin/epmd'];
  return candidates.find((c) => existsSync(c));
}

/**
 * Starts a private RabbitMQ node on loopback and waits (bounded) until it accepts AMQP connections.
 *
 * What Debian's RabbitMQ 3.10 needs to run beside anything else on the machine:
 * - its own node name (RABBITMQ_NODENAME=mqttlab-…@localhost) and its own data, log, config, plugin,
 *   feature-flag and pid paths, all in a temp dir (RABBITMQ_MNESIA_BASE, RABBITMQ_LOG_BASE, …);
 *   RABBITMQ_CONF_ENV_FILE points at an empty file so /etc/rabbitmq/rabbitmq-env.conf is not read;
 * - HOME set to the temp dir: the Erlang VM creates its distribution cookie (~/.erlang.cookie) there;
 * - Erlang distribution, which every RabbitMQ node runs: epmd on its own port (ERL_EPMD_PORT) bound to
 *   127.0.0.1 (ERL_EPMD_ADDRESS), and the distribution listener on a free port (RABBITMQ_DIST_PORT, else it
 *   is AMQP port + 20000, which can exceed 65535) bound to 127.0.0.1 (kernel inet_dist_use_interface);
 * - `rabbitmq-server` runs the node in the foreground and stops it cleanly on SIGTERM; `rabbitmqctl` is not
 *   needed (readiness is the AMQP port accepting a connection that gets the 0-9-1 connection.start);
 * - no plugins (enabled_plugins "[]."), so no management listener on 15672.
 * The epmd it starts daemonizes; `close()` stops it with `epmd -kill` on its port.
 */
export async function startRabbitMq(options: { timeoutMs?: number } = {}): Promise<LocalServer> {
  const script = findRabbitMq();
  if (!script) throw new Error('rabbitmq-server is not installed (apt-get install rabbitmq-server)');
  const timeoutMs = options.timeoutMs ?? 45_000;
  const [port, distPort, epmdPort] = [await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'mqttlab-cmp-rabbitmq-'));
  writeFileSync(
    join(dir, 'rabbitmq.conf'),
    [`listeners.tcp.1 = 127.0.0.1:${port}`, 'log.console = false', 'log.file.level = warning', ''].join('\n'),
  );
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  writeFileSync(join(dir, 'rabbitmq-env.conf'), '');
  const nodeName = `mqttlab-${process.pid}-${port}@localhost`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LANG: 'C.UTF-8',
    HOME: dir,
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_PLUGINS_EXPAND_DIR: join(dir, 'plugins-expand'),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_PID_FILE: join(dir, 'rabbitmq.pid'),
    RABBITMQ_FEATURE_FLAGS_FILE: join(dir, 'feature_flags'),
    RABBITMQ_QUORUM_DIR: join(dir, 'quorum'),
    RABBITMQ_STREAM_DIR: join(dir, 'stream'),
  };
  const started = Date.now();
  // Its own process group, so a node that will not stop can be killed with everything it spawned.
  const child = spawn(script, [], { env, cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  // epmd refuses `-kill` while a node is still registered (a VM that is going away): ask again, bounded.
  const killEpmd = () => {
    const epmd = findEpmd();
    if (!epmd) return;
    for (let attempt = 0; attempt < 20; attempt++) {
      const r = spawnSync(epmd, ['-kill'], { env: { ...env, ERL_EPMD_PORT: String(epmdPort) }, timeout: 3000, encoding: 'utf8' });
      if (!/living nodes/.test(`${r.stdout}${r.stderr}`)) return;
      spawnSync('sleep', ['0.1']);
    }
  };
  let stopped: Promise<void> | undefined;
  // Registered at once, so Ctrl-C while the node is still starting stops it too (and only once).
  const release = registerCleanup({
    what: `RabbitMQ node ${nodeName}`,
    stop: () => stop(),
    kill: () => {
      killChild(child, true);
      killEpmd();
      rmSync(dir, { recursive: true, force: true });
    },
  });
  const stop = () =>
    (stopped ??= (async () => {
      await stopChild(child, 15_000, true);
      // The script may exit before the Erlang VM it started (interrupted while starting): the rest of its group goes now.
      killChild(child, true);
      killEpmd();
      rmSync(dir, { recursive: true, force: true });
      release();
    })());
  try {
    await waitForPort(port, timeoutMs, () => child.exitCode !== null);
    // The port opens a little before the node serves AMQP; wait for connection.start (bounded).
    await waitForAmqpStart(port, Math.max(1000, timeoutMs - (Date.now() - started)));
  } catch (error) {
    const log = readLog(join(dir, 'log'));
    await stop();
    throw new Error(`RabbitMQ did not start within ${timeoutMs} ms: ${(error as Error).message}\n${output.trim()}\n${log}`.trim());
  }
  const version = /RabbitMQ (\d+\.\d+\.\d+)/.exec(output)?.[1] ?? '?';
  return {
    name: 'rabbitmq',
    port,
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    version: `RabbitMQ ${version}`,
    startupMs: Date.now() - started,
    close: stop,
  };
}

function readLog(dir: string): string {
  try {
    return readdirSync(dir)
      .map((f) => readFileSync(join(dir, f), 'utf8').slice(-2000))
      .join('\n');
  } catch {
    return '';
  }
}

/** Sends the AMQP 0-9-1 protocol header and waits for the server's first frame (connection.start). */
async function waitForAmqpStart(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(false);
      }, 2000);
      socket.once('connect', () => socket.write(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1')));
      socket.once('data', (d: Buffer) => {
        clearTimeout(timer);
        socket.destroy();
        resolve(d[0] === 1);
      });
      socket.once('error', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('no connection.start from the AMQP port');
}
