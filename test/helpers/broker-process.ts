import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, processCpuSeconds, processRssKb, waitForPort, registerChild } from '../../src/util/index.js';

/** The built CLI, as `mqttlab` runs it. */
export const CLI = fileURLToPath(new URL('../../src/cli/index.js', import.meta.url));

/** `mqttlab broker` in a child process on a free loopback port, so a test can read its memory and CPU from /proc. */
export interface BrokerProcess {
  readonly port: number;
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything it printed on stdout so far. */
  readonly stdout: () => string;
  readonly exited: Promise<number | null>;
  rssMb(): number;
  cpuSeconds(): number;
  /** SIGTERM (or the given signal), then waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `mqttlab broker -H 127.0.0.1 -p <free> -w 0 <args>` and waits until it accepts connections. With
 * `configLines`, a Mosquitto config is written instead (its listener on the free port) and passed with -c.
 */
export async function spawnBrokerProcess(args: string[] = [], configLines?: string[]): Promise<BrokerProcess> {
  const port = await freePort();
  let listen = ['-H', '127.0.0.1', '-p', String(port), '-w', '0'];
  let configDir: string | undefined;
  if (configLines) {
    configDir = mkdtempSync(join(tmpdir(), 'mqttlab-conf-'));
    const file = join(configDir, 'mosquitto.conf');
    writeFileSync(file, [`listener ${port} 127.0.0.1`, ...configLines, ''].join('\n'));
    listen = ['-c', file];
  }
  const child = spawn(process.execPath, [CLI, 'broker', ...listen, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  registerChild('mqttlab broker', child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      if (configDir) rmSync(configDir, { recursive: true, force: true });
      resolve(code);
    }),
  );
  try {
    await waitForPort(port, 10_000, () => child.exitCode !== null);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`broker did not start: ${(error as Error).message}\n${stderr}`);
  }
  const pid = child.pid!;
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    child,
    stdout: () => stdout,
    exited,
    rssMb: () => processRssKb(pid) / 1024,
    cpuSeconds: () => processCpuSeconds(pid),
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
