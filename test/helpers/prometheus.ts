import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, registerChild } from '../../src/util/index.js';

const has = (binary: string) => !spawnSync(binary, ['--version'], { encoding: 'utf8' }).error;

/** Why Prometheus tests are skipped on this machine, or false when they run. */
export const prometheusSkip: string | false =
  has('prometheus') && has('promtool') ? false : 'prometheus or promtool is not installed (apt-get install prometheus)';

/** A Prometheus server scraping given endpoints every second. */
export interface TestPrometheus {
  readonly url: string;
  /** The value of an instant query that returns one sample, or undefined while it returns none. */
  query(expression: string): Promise<number | undefined>;
  close(): Promise<void>;
}

/**
 * Starts Prometheus with a generated config (one job per target, scrape interval 1 s), its storage in a
 * temp dir and its web API on a free loopback port; resolves once /-/ready answers.
 */
export async function startPrometheus(targets: Record<string, string>): Promise<TestPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'mqttlab-prometheus-'));
  const port = await freePort();
  const jobs = Object.entries(targets).map(([job, url]) => {
    const u = new URL(url);
    return `  - job_name: ${job}\n    metrics_path: ${u.pathname}\n    static_configs:\n      - targets: ['${u.host}']`;
  });
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n${jobs.join('\n')}\n`,
  );
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  registerChild('prometheus', child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = performance.now() + 20_000;
  for (;;) {
    const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (child.exitCode !== null || performance.now() > deadline) {
      await close();
      throw new Error(`prometheus did not start: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    query: async (expression) => {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expression)}`, { signal: AbortSignal.timeout(5000) });
      const body = (await response.json()) as { status: string; error?: string; data: { result: Array<{ value: [number, string] }> } };
      if (body.status !== 'success') throw new Error(`query ${expression}: ${body.error}`);
      const sample = body.data.result[0];
      return sample ? Number(sample.value[1]) : undefined;
    },
    close,
  };
}

/** Runs `promtool check metrics` on an exposition text; resolves with its exit code and output. */
export function promtoolCheck(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => resolve({ code: code ?? 1, output }));
    child.stdin.end(text);
  });
}
