import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromWorker, ToWorker, WorkerResult, WorkerSpec } from './protocol.js';

type Of<T extends FromWorker['type']> = Extract<FromWorker, { type: T }>;

/** A forked load-generator process (load-worker.ts) seen from the parent. */
export class LoadWorker {
  private readonly listeners = new Set<(m: FromWorker) => void>();
  private failure: Error | undefined;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: FromWorker) => {
      if (m.type === 'error') this.failure = new Error(m.message);
      for (const listener of [...this.listeners]) listener(m);
    });
    child.once('exit', (code) => {
      this.failure ??= new Error(`a load worker exited with code ${code}`);
      for (const listener of [...this.listeners]) listener({ type: 'error', message: this.failure.message });
    });
  }

  /** Forks a worker, hands it its spec, and resolves once it is connected and ready. */
  static async start(spec: WorkerSpec): Promise<LoadWorker> {
    const entry = fileURLToPath(new URL('./load-worker.js', import.meta.url));
    const worker = new LoadWorker(fork(entry, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
    worker.send({ type: 'spec', spec });
    await worker.next('ready');
    return worker;
  }

  send(message: ToWorker): void {
    if (this.child.connected) this.child.send(message);
  }

  /** Calls `listener` for every `progress` report until the returned function is called. */
  onProgress(listener: (m: Of<'progress'>) => void): () => void {
    const l = (m: FromWorker) => m.type === 'progress' && listener(m);
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** The next message of a type; rejects when the worker reports an error or exits first. */
  next<T extends FromWorker['type']>(type: T): Promise<Of<T>> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      const l = (m: FromWorker) => {
        if (m.type === type) {
          this.listeners.delete(l);
          resolve(m as Of<T>);
        } else if (m.type === 'error') {
          this.listeners.delete(l);
          reject(new Error(m.message));
        }
      };
      this.listeners.add(l);
    });
  }

  /** Asks for the result ('stop') and waits for it. */
  async stop(): Promise<WorkerResult> {
    const done = this.next('done');
    this.send({ type: 'stop' });
    return (await done).result;
  }

  /** Kills the process if it is still there. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** Splits `total` into `parts` near-equal whole shares (larger ones first). */
export function split(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}
