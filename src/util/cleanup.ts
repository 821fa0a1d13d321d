import type { ChildProcess } from 'node:child_process';

/**
 * Something this process started and must stop however it ends: a server or child process (a private
 * RabbitMQ node, a Mosquitto, the fleet of `capacity`) and the temp dir it runs in.
 */
export interface Cleanup {
  /** Shown when it is stopped on an interrupt, e.g. "RabbitMQ node mqttlab-123-4567@localhost". */
  readonly what: string;
  /** Orderly stop, bounded by its owner; must be safe to call twice. */
  stop(): Promise<void>;
  /** Last resort, synchronous (SIGKILL, remove files): for a process that exits without waiting. */
  kill?(): void;
}

// The process's own list: whoever starts something registers it, and whoever ends the process (the CLI
// on Ctrl-C or a fatal error, or the `exit` hook) stops what is still in it.
const pending = new Set<Cleanup>();
let exitHookInstalled = false;
/** Set once the CLI handles SIGINT/SIGTERM itself (shutdown.ts): the fallback below then stands aside. */
let signalsOwned = false;

/** The CLI's shutdown handlers take SIGINT and SIGTERM over from the fallback (which would only kill). */
export function ownTerminationSignals(): void {
  signalsOwned = true;
}

// A process ended by a signal it does not handle runs no `exit` handler: a test file stopped by the test
// runner (SIGTERM on a timeout) or a Ctrl-C would leave its servers running. Unless the CLI owns the
// signals, kill what is registered and end by the same signal, so the exit status still says why.
function onTerminationSignal(signal: NodeJS.Signals): void {
  if (signalsOwned) return;
  killCleanups();
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
}

/**
 * Registers something just started, to be stopped by `runCleanups()` on an interrupt or error and
 * force-killed on exit; returns the function that unregisters it once its owner stopped it normally.
 */
export function registerCleanup(cleanup: Cleanup): () => void {
  pending.add(cleanup);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // `exit` handlers cannot wait: kill what an orderly stop did not reach (second Ctrl-C, process.exit).
    process.on('exit', () => killCleanups());
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, onTerminationSignal);
  }
  return () => void pending.delete(cleanup);
}

/** What is registered now, newest last. */
export function pendingCleanups(): string[] {
  return [...pending].map((c) => c.what);
}

/** Stops everything still registered, all at once (each bounded by its owner); returns what was stopped. */
export async function runCleanups(): Promise<string[]> {
  const list = [...pending].reverse();
  await Promise.all(
    list.map(async (c) => {
      try {
        await c.stop();
      } catch {
        c.kill?.();
      }
      pending.delete(c);
    }),
  );
  return list.map((c) => c.what);
}

/** Kills everything still registered at once (synchronously), for a second Ctrl-C. */
export function killCleanups(): void {
  for (const c of pending) {
    try {
      c.kill?.();
    } catch {
      // best effort
    }
  }
  pending.clear();
}

/**
 * Stops a child process: SIGTERM, then SIGKILL after `graceMs`; with `group`, the SIGKILL goes to its
 * whole process group (a child spawned `detached`, e.g. a RabbitMQ script and the Erlang VM under it).
 */
export async function stopChild(child: ChildProcess, graceMs: number, group = false): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => killChild(child, group), graceMs);
  await exited;
  clearTimeout(timer);
}

/** SIGKILL to a child (or its process group), ignoring one that is already gone. */
export function killChild(child: ChildProcess, group = false): void {
  try {
    if (group && child.pid) process.kill(-child.pid, 'SIGKILL');
    else child.kill('SIGKILL');
  } catch {
    // already gone
  }
}

/** Registers a child process: stopped with SIGTERM (SIGKILL after `graceMs`); unregistered when it exits. */
export function registerChild(what: string, child: ChildProcess, options: { graceMs?: number; group?: boolean } = {}): () => void {
  const release = registerCleanup({
    what,
    stop: () => stopChild(child, options.graceMs ?? 5000, options.group),
    kill: () => killChild(child, options.group),
  });
  child.once('exit', release);
  return release;
}
