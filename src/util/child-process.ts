import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { killChild, registerCleanup, stopChild } from './cleanup.js';

/** The first of `candidates` that runs with `args` (a version or help flag), or undefined when none does. */
export function findBinary(candidates: readonly string[], args: readonly string[]): string | undefined {
  for (const candidate of candidates) {
    const r = spawnSync(candidate, args, { encoding: 'utf8' });
    if (!r.error) return candidate;
  }
  return undefined;
}

/** A server process started by us, with its stderr kept for error messages. */
export interface ServerProcess {
  readonly pid: number;
  /** What the process wrote to stderr and stdout so far (bounded to the last 16 kB). */
  output(): string;
  /** True once the process has exited. */
  exited(): boolean;
  /** SIGKILL now, and wait for the exit (the crash case in failure tests). */
  kill(): Promise<void>;
  /** SIGTERM, SIGKILL after `graceMs`, and wait for the exit. */
  stop(graceMs?: number): Promise<void>;
}

/** The most output kept per process. */
const OUTPUT_LIMIT = 16 * 1024;

/**
 * Spawns a server process, killed when this process exits if nobody stopped it before (and `dir`, its
 * files, removed then). It does not keep this process alive on its own (a test file's process ends
 * when its tests do). It runs in a process group of its own: a terminal's Ctrl-C reaches the whole
 * foreground group, and the server must outlive what depends on it (NATS stops after the broker nodes).
 */
export function spawnServer(command: string, args: readonly string[], dir?: string): ServerProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.unref();
  // Killed however this process ends (its files removed then), through the one registry of what we started;
  // its owner removes the files after a normal stop.
  const release = registerCleanup({
    what: `${command} (pid ${child.pid})`,
    stop: () => stopChild(child, 3000),
    kill: () => {
      killChild(child);
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  });
  let output = '';
  const keep = (d: Buffer) => {
    output += d.toString();
    if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  for (const stream of [child.stdout, child.stderr] as Array<{ unref?: () => void } | null>) stream?.unref?.();
  let hasExited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      hasExited = true;
      release();
      resolve();
    });
    child.once('error', (error) => {
      keep(Buffer.from(error.message));
      hasExited = true;
      release();
      resolve();
    });
  });
  return {
    pid: child.pid ?? -1,
    output: () => output,
    exited: () => hasExited,
    kill: async () => {
      if (!hasExited) child.kill('SIGKILL');
      await exit;
    },
    stop: async (graceMs = 3000) => {
      if (hasExited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}
