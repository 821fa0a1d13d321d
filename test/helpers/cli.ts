import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { registerChild } from '../../src/util/index.js';

/** The built CLI entry point (dist/src/cli/index.js). */
export const CLI = fileURLToPath(new URL('../../src/cli/index.js', import.meta.url));

/** What a finished run left: exit status (null when killed by a signal), signal, output. */
export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options of a spawned process. */
export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed (stdin is closed at once without it). */
  input?: string | Buffer;
  /** Killed with SIGKILL after this (default 120 s), so a hung process fails its test instead of the suite. */
  timeoutMs?: number;
  /** Own process group, so a test can signal it as a terminal's Ctrl-C does (`kill -INT -pgid`). */
  detached?: boolean;
}

/** A process still running (`mqttlab`, or a tool such as mosquitto_sub), with its output so far. */
export class Spawned {
  stdout = '';
  stderr = '';
  readonly done: Promise<CliResult>;
  private readonly child: ChildProcess;

  constructor(file: string, args: string[], options: CliOptions = {}) {
    this.child = spawn(file, args, {
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: options.detached,
    });
    // Killed with the test file however it ends (with its group when detached: what it started too).
    registerChild([file, ...args].join(' '), this.child, { group: options.detached });
    this.child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.child.stdin!.on('error', () => {});
    this.child.stdin!.end(options.input);
    const timeoutMs = options.timeoutMs ?? 120_000;
    const timer = setTimeout(() => {
      this.stderr += `[killed after ${timeoutMs} ms: ${[file, ...args].join(' ')}]`;
      this.child.kill('SIGKILL');
    }, timeoutMs);
    this.done = new Promise((resolve) =>
      this.child.once('close', (status, signal) => {
        clearTimeout(timer);
        resolve({ status, signal, stdout: this.stdout, stderr: this.stderr });
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Waits until stdout (or stderr) matches, failing after `timeoutMs` or when the process ends first. */
  async waitFor(pattern: RegExp, stream: 'stdout' | 'stderr' = 'stdout', timeoutMs = 60_000): Promise<RegExpMatchArray> {
    const deadline = performance.now() + timeoutMs;
    let ended = false;
    void this.done.then(() => (ended = true));
    for (;;) {
      const match = this[stream].match(pattern);
      if (match) return match;
      if (ended || performance.now() > deadline)
        throw new Error(
          `${ended ? 'exited' : 'timed out'} before ${stream} matched ${pattern}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`,
        );
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Sends a signal to the process, or with `group` to its whole process group (spawn it `detached`). */
  signal(signal: NodeJS.Signals, group = false): void {
    if (group) process.kill(-this.pid, signal);
    else this.child.kill(signal);
  }
}

/** Starts `mqttlab ...args`. */
export function spawnCli(args: string[], options: CliOptions = {}): Spawned {
  return new Spawned(process.execPath, [CLI, ...args], options);
}

/** Runs `mqttlab ...args` to the end. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return spawnCli(args, options).done;
}

/** Runs a program (e.g. mosquitto_pub) to the end. */
export function runTool(file: string, args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Spawned(file, args, options).done;
}
