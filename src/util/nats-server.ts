import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary, spawnServer, type ServerProcess } from './child-process.js';
import { freePort, waitForPort } from './ports.js';

/**
 * Path of the nats-server binary ($MQTTLAB_NATS_SERVER when set, else PATH, then Debian's /usr/sbin), or
 * undefined when it is not installed.
 */
export function findNatsServer(): string | undefined {
  const override = process.env.MQTTLAB_NATS_SERVER;
  if (override) return findBinary([override], ['--version']);
  return findBinary(['nats-server', '/usr/sbin/nats-server', '/usr/local/bin/nats-server'], ['--version']);
}

/** Largest message payload our servers accept: an MQTT message crosses nodes as one NATS message. */
export const NATS_MAX_PAYLOAD = 8 * 1024 * 1024;

/** One nats-server process with JetStream, listening on a free loopback port. */
export interface NatsServer {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly process: ServerProcess;
  /** Starts it again on the same ports and store (after kill or stop). */
  restart(): Promise<void>;
}

/** One or more nats-server processes forming one NATS system; `close` stops them and removes their store. */
export interface NatsSystem {
  readonly servers: readonly NatsServer[];
  /** Every client URL, comma-separated, as `--cluster` takes them. */
  readonly urls: string;
  close(): Promise<void>;
}

/**
 * Starts `size` nats-server processes with JetStream on free loopback ports, their store in a new temp
 * directory; with size > 1 they form one NATS cluster (routes between all), so JetStream can keep
 * three replicas. Throws a one-line error when nats-server is missing or does not come up.
 */
export async function startNats(size = 1): Promise<NatsSystem> {
  const binary = findNatsServer();
  if (!binary) throw new Error('nats-server is not installed (apt-get install nats-server)');
  const dir = mkdtempSync(join(tmpdir(), 'mqttlab-nats-'));
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ client: await freePort(), route: await freePort() })));
  const servers: NatsServer[] = [];
  try {
    for (let i = 0; i < size; i++) {
      const name = `nats-${i + 1}`;
      const config = join(dir, `${name}.conf`);
      writeFileSync(config, natsConfig(name, join(dir, name), ports, i));
      let proc = spawnServer(binary, ['-c', config], dir);
      const server: NatsServer = {
        name,
        port: ports[i]!.client,
        url: `nats://127.0.0.1:${ports[i]!.client}`,
        get process() {
          return proc;
        },
        restart: async () => {
          proc = spawnServer(binary, ['-c', config], dir);
          await waitForServer(name, ports[i]!.client, proc);
        },
      };
      servers.push(server);
    }
    await Promise.all(servers.map((s) => waitForServer(s.name, s.port, s.process)));
  } catch (error) {
    await Promise.all(servers.map((s) => s.process.kill()));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    servers,
    urls: servers.map((s) => s.url).join(','),
    close: async () => {
      await Promise.all(servers.map((s) => s.process.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A nats-server config: loopback only, JetStream in `storeDir`, routes to every other server of the system. */
function natsConfig(name: string, storeDir: string, ports: ReadonlyArray<{ client: number; route: number }>, index: number): string {
  const lines = [
    `server_name: ${name}`,
    `listen: 127.0.0.1:${ports[index]!.client}`,
    `max_payload: ${NATS_MAX_PAYLOAD}`,
    `jetstream { store_dir: "${storeDir}" }`,
  ];
  if (ports.length > 1) {
    const routes = ports.filter((_, i) => i !== index).map((p) => `nats-route://127.0.0.1:${p.route}`);
    lines.push(`cluster { name: mqttlab, listen: 127.0.0.1:${ports[index]!.route}, routes: [${routes.join(', ')}] }`);
  }
  return `${lines.join('\n')}\n`;
}

/** Waits until the server accepts clients; a clear error with its log when it exits or stays closed. */
async function waitForServer(name: string, port: number, proc: ServerProcess): Promise<void> {
  try {
    await waitForPort(port, 10_000, () => proc.exited());
  } catch (error) {
    await proc.kill();
    const log = proc.output().trim().split('\n').slice(-5).join('\n');
    throw new Error(`${name} did not start: ${(error as Error).message}${log ? `\n${log}` : ''}`);
  }
}
