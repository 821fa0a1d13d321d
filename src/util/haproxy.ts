import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary, spawnServer, type ServerProcess } from './child-process.js';
import { freePort, waitForPort } from './ports.js';

/** Path of the haproxy binary (PATH, then Debian's /usr/sbin), or undefined when it is not installed. */
export function findHaproxy(): string | undefined {
  return findBinary(['haproxy', '/usr/sbin/haproxy'], ['-v']);
}

/** A TCP load balancer in front of several MQTT listeners. */
export interface LoadBalancer {
  readonly port: number;
  readonly url: string;
  readonly process: ServerProcess;
  close(): Promise<void>;
}

/**
 * Starts HAProxy on a free loopback port as a round-robin TCP balancer over `backendPorts` (127.0.0.1),
 * so consecutive connections land on different backends (on `port`, default a free one). Backends that refuse connections are skipped
 * (health checks), so clients of a killed node reconnect to a live one. HAProxy needs two descriptors
 * per connection: `maxConnections` stays under half the open-file limit.
 */
export async function startRoundRobin(backendPorts: readonly number[], maxConnections = 4000, port?: number): Promise<LoadBalancer> {
  const binary = findHaproxy();
  if (!binary) throw new Error('haproxy is not installed (apt-get install haproxy)');
  port ??= await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'mqttlab-haproxy-'));
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    [
      'global',
      `  maxconn ${maxConnections}`,
      'defaults',
      '  mode tcp',
      '  timeout connect 2s',
      // MQTT connections are long-lived and quiet between keep alives: no idle cut by the balancer.
      '  timeout client 1h',
      '  timeout server 1h',
      `  maxconn ${maxConnections}`,
      'frontend mqtt',
      `  bind 127.0.0.1:${port}`,
      '  default_backend nodes',
      'backend nodes',
      '  balance roundrobin',
      // A connection to a dead node is re-dispatched to another one instead of failing.
      '  option redispatch',
      '  retries 2',
      ...backendPorts.map((p, i) => `  server node${i + 1} 127.0.0.1:${p} check inter 500ms fall 1 rise 1`),
      '',
    ].join('\n'),
  );
  const proc = spawnServer(binary, ['-f', config, '-db'], dir);
  try {
    await waitForPort(port, 10_000, () => proc.exited());
  } catch (error) {
    await proc.kill();
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`haproxy did not start: ${(error as Error).message}\n${proc.output().trim()}`);
  }
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    process: proc,
    close: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
