import type { LoadClient } from './load-client.js';
import type { FromWorker, WorkerResult } from './protocol.js';

/*
 * What every role of a load-generator process (load-worker.ts) shares: the channel to the parent, the
 * handlers its messages drive, the CPU used since 'go', and connecting many clients with bounded concurrency.
 */

/** Sends a message to the parent. */
export const send = (message: FromWorker): void => {
  process.send!(message);
};

/** What the current role does on each message from the parent. */
export const handlers: { go?: (at?: number) => void; credit?: (n: number) => void; check?: () => void; stop?: () => void } = {};

let cpuAtGo = process.cpuUsage();

/** Starts counting this process's CPU (on 'go'). */
export function markGo(): void {
  cpuAtGo = process.cpuUsage();
}

/** CPU seconds (user + system) of this process since 'go'. */
export function cpuSince(): number {
  const u = process.cpuUsage(cpuAtGo);
  return (u.user + u.system) / 1e6;
}

/** Why clients ended, with how many ended so. */
export function errorsOf(clients: readonly LoadClient[]): Record<string, number> {
  const errors: Record<string, number> = {};
  for (const c of clients) if (c.closedBecause !== undefined) errors[c.closedBecause] = (errors[c.closedBecause] ?? 0) + 1;
  return errors;
}

/** Reports the result, disconnects the clients and exits shortly after. */
export function finish(clients: readonly LoadClient[], result: WorkerResult): void {
  send({ type: 'done', result });
  for (const c of clients) c.close();
  setTimeout(() => process.exit(0), 200);
}

/** Clients opened by `openBounded`, and why the others failed (reason → count). */
export interface Opened {
  clients: LoadClient[];
  failed: number;
  failures: Record<string, number>;
}

/**
 * Opens `count` clients with at most `concurrency` CONNECTs outstanding; no new one starts after `withinMs`
 * (those left count as failed), so connecting is bounded in time even against a broker that stalls.
 */
export async function openBounded(
  count: number,
  concurrency: number,
  withinMs: number,
  open: (n: number) => Promise<LoadClient>,
): Promise<Opened> {
  const out: Opened = { clients: [], failed: 0, failures: {} };
  const fail = (reason: string) => {
    out.failed++;
    out.failures[reason] = (out.failures[reason] ?? 0) + 1;
  };
  const deadline = Date.now() + withinMs;
  let next = 0;
  const connector = async () => {
    while (next < count) {
      const n = next++;
      if (Date.now() > deadline) {
        fail(`not connected within ${withinMs / 1000} s`);
        continue;
      }
      try {
        out.clients.push(await open(n));
      } catch (error) {
        fail((error as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, connector));
  return out;
}
