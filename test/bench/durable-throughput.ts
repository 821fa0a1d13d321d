/**
 * QoS 1 publish throughput of `mqttlab broker` with and without `--data-dir`, on loopback.
 * Run: `npx tsc -p . && node dist/test/bench/durable-throughput.js [messages]` (default 5000).
 * Each scenario starts its own broker child process (`--max-queued <messages>`, so an offline subscriber
 * keeps them all), publishes `messages` QoS 1 messages of 64 bytes and counts the time until every PUBACK
 * is back (and, with an online subscriber, every message arrived). Wall time depends on whatever else
 * runs on the machine, so it also reports the broker process's CPU time per 1000 messages (Linux /proc).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort } from '../../src/util/index.js';
import { connectClient, end, waitUntil } from '../helpers/clients.js';

const CLI = fileURLToPath(new URL('../../src/cli/index.js', import.meta.url));
const messages = Number(process.argv[2] ?? 5000);
const payload = Buffer.alloc(64, 0x62);

interface Scenario {
  name: string;
  /** PUBLISHes in flight at once (1: wait for each PUBACK before the next). */
  window: number;
  subscriber: 'online' | 'offline';
}

const SCENARIOS: Scenario[] = [
  { name: 'online subscriber, 1 in flight', window: 1, subscriber: 'online' },
  { name: 'online subscriber, 100 in flight', window: 100, subscriber: 'online' },
  { name: 'offline subscriber (queued), 100 in flight', window: 100, subscriber: 'offline' },
];

/** user + system CPU ms of a process so far (fields 14 and 15 of /proc/<pid>/stat, in 1/100 s). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

interface Result {
  perSecond: number;
  cpuMsPer1000: number;
}

async function run(scenario: Scenario, durable: boolean): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'mqttlab-bench-'));
  const port = await freePort();
  const args = [CLI, 'broker', '-H', '127.0.0.1', '-p', String(port), '-w', '0', '--sys-interval', '0', '--max-queued', String(messages)];
  if (durable) args.push('--data-dir', dir);
  const child = spawn(process.execPath, args, { stdio: 'ignore' });
  try {
    await waitForPort(port, 10_000, () => child.exitCode !== null);
    const url = `mqtt://127.0.0.1:${port}`;
    const sub = await connectClient(url, { clientId: 'bench-sub', clean: false, properties: { sessionExpiryInterval: 3600 } });
    await sub.subscribeAsync('bench/t', { qos: 1 });
    let received = 0;
    sub.on('message', () => received++);
    if (scenario.subscriber === 'offline') await end(sub);
    const pub = await connectClient(url, { clientId: 'bench-pub' });
    const cpuBefore = cpuMs(child.pid!);
    const started = process.hrtime.bigint();
    let next = 0;
    const worker = async () => {
      while (next < messages) {
        next++;
        await pub.publishAsync('bench/t', payload, { qos: 1 });
      }
    };
    await Promise.all(Array.from({ length: scenario.window }, worker));
    if (scenario.subscriber === 'online') await waitUntil(() => received >= messages, 60_000, 'all messages at the subscriber');
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = cpuMs(child.pid!) - cpuBefore;
    await end(pub);
    if (scenario.subscriber === 'online') await end(sub);
    return { perSecond: messages / seconds, cpuMsPer1000: (cpu * 1000) / messages };
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

const show = (r: Result) => `${r.perSecond.toFixed(0).padStart(6)} msg/s ${r.cpuMsPer1000.toFixed(0).padStart(4)} CPU ms/1000`;
console.log(`QoS 1, ${messages} messages of ${payload.length} bytes, loopback, Node ${process.version}`);
for (const scenario of SCENARIOS) {
  const memory = await run(scenario, false);
  const sqlite = await run(scenario, true);
  console.log(`${scenario.name.padEnd(44)} in memory ${show(memory)}   --data-dir ${show(sqlite)}`);
}
