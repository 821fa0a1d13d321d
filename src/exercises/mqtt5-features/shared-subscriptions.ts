import type { ExerciseContext } from '../context.js';
import { type Checks, type Section, sleep, table, waitFor } from '../report.js';

/** One member of the shared group and the messages it processed. */
export interface WorkerShare {
  worker: string;
  count: number;
  /** Sequence numbers of the messages it got, in arrival order. */
  seqs: number[];
}

/** What the shared-subscription demonstration saw: each worker's share, the plain subscriber, gaps and repeats. */
export interface SharedSubscriptionsResult {
  topic: string;
  /** `$share/workers/<topic>`: what each worker subscribed to. */
  shareFilter: string;
  published: number;
  workers: WorkerShare[];
  /** A plain (non-shared) subscriber to the same topic: it gets every message. */
  plainSubscriber: { count: number };
  /** Sequence numbers processed by more than one worker, and by none. */
  duplicates: number[];
  missing: number[];
  /** Per device key (the payload's `device`): which workers handled its readings. */
  devices: Record<string, string[]>;
}

/**
 * N workers share `$share/workers/<topic>`, a plain subscriber listens to `<topic>`, and M readings are
 * published: each reading goes to exactly one worker, the plain subscriber gets all (seed:
 * demonstrate_shared_subscriptions).
 */
export async function demonstrateSharedSubscriptions(
  ctx: ExerciseContext,
  options: { workers?: number; messages?: number; devices?: number } = {},
): Promise<SharedSubscriptionsResult> {
  const workerCount = options.workers ?? 3;
  const messages = options.messages ?? 30;
  const deviceCount = options.devices ?? 4;
  const topic = ctx.topic('jobs/thumbnails');
  // [MQTT-4.8.2-1], [MQTT-4.8.2-2] `$share/` + a share name without / + # + `/` + an ordinary filter.
  const shareFilter = `$share/workers/${topic}`;

  const workers: WorkerShare[] = [];
  const deviceOf = new Map<number, string>();
  for (let i = 1; i <= workerCount; i++) workers.push(await startWorker(ctx, `worker-${i}`, shareFilter, deviceOf));
  const plainSubscriber = { count: 0 };
  const plain = await ctx.connect('plain-sub');
  plain.on('message', () => plainSubscriber.count++);
  await plain.subscribeAsync(topic, { qos: 1 });

  const publisher = await ctx.connect('job-pub');
  for (let seq = 1; seq <= messages; seq++) {
    await publisher.publishAsync(topic, JSON.stringify({ seq, device: `cam-${seq % deviceCount}` }), { qos: 1 });
  }
  const processed = () => workers.reduce((n, w) => n + w.count, 0);
  await waitFor(() => processed() >= messages && plainSubscriber.count >= messages, 3000);
  // A duplicate would arrive right behind the original; give it a moment to show up.
  await sleep(100);

  const seen = new Map<number, number>();
  for (const w of workers) for (const seq of w.seqs) seen.set(seq, (seen.get(seq) ?? 0) + 1);
  const duplicates = [...seen].filter(([, n]) => n > 1).map(([seq]) => seq);
  const missing: number[] = [];
  for (let seq = 1; seq <= messages; seq++) if (!seen.has(seq)) missing.push(seq);
  const devices = workersPerDevice(workers, deviceOf);
  return { topic, shareFilter, published: messages, workers, plainSubscriber, duplicates, missing, devices };
}

/** Connects one member of the group; it records each message's sequence number and device. */
async function startWorker(ctx: ExerciseContext, worker: string, shareFilter: string, deviceOf: Map<number, string>): Promise<WorkerShare> {
  const share: WorkerShare = { worker, count: 0, seqs: [] };
  const client = await ctx.connect(share.worker);
  client.on('message', (_topic, payload) => {
    const { seq, device } = JSON.parse(payload.toString()) as { seq: number; device: string };
    share.seqs.push(seq);
    share.count++;
    deviceOf.set(seq, device);
  });
  await client.subscribeAsync(shareFilter, { qos: 1 });
  return share;
}

/** Device → the workers that handled its readings, sorted. */
function workersPerDevice(workers: WorkerShare[], deviceOf: Map<number, string>): Record<string, string[]> {
  const devices: Record<string, string[]> = {};
  for (const w of workers) {
    for (const seq of w.seqs) {
      const list = (devices[deviceOf.get(seq)!] ??= []);
      if (!list.includes(w.worker)) list.push(w.worker);
    }
  }
  for (const list of Object.values(devices)) list.sort();
  return devices;
}

/** The report section for the shared subscription, recording its checks. */
export function reportSharedSubscriptions(shared: SharedSubscriptionsResult, checks: Checks): Section {
  const processed = shared.workers.reduce((n, w) => n + w.count, 0);
  // MQTT 5.0 §4.8.2: a message matching a shared subscription goes to only one of its sessions.
  checks.expect(
    'every message was processed exactly once across the shared group',
    shared.duplicates.length === 0 && shared.missing.length === 0 && processed === shared.published,
    `duplicates [${shared.duplicates}], missing [${shared.missing}]`,
  );
  checks.expect(
    'the plain subscriber got every message',
    shared.plainSubscriber.count === shared.published,
    `got ${shared.plainSubscriber.count}`,
  );
  checks.expect(
    'every worker got a share of the messages',
    shared.workers.every((w) => w.count > 0),
    shared.workers.map((w) => `${w.worker}=${w.count}`).join(' '),
  );
  const perDevice = Object.entries(shared.devices)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([d, ws]) => `${d} → ${ws.length} of ${shared.workers.length} workers`);
  return {
    title: `Shared subscription ${shared.shareFilter}: ${shared.published} messages, ${shared.workers.length} workers`,
    lines: [
      ...table(
        ['subscriber', 'messages', 'sequence numbers'],
        [
          ...shared.workers.map((w) => [w.worker, w.count, listSeqs(w.seqs)]),
          ['plain-sub (not shared)', shared.plainSubscriber.count, 'all'],
        ],
      ),
      `  group total ${processed}, duplicates ${shared.duplicates.length}, missing ${shared.missing.length}`,
      `  readings of one device went to: ${perDevice.join(', ')}`,
    ],
  };
}

/** `1,4,7,…` with runs kept short for a table cell. */
function listSeqs(seqs: number[], max = 12): string {
  const shown = seqs.slice(0, max).join(',');
  return seqs.length > max ? `${shown},…` : shown;
}
