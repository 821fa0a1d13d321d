import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { registerCleanup } from './cleanup.js';
import { freePort } from './ports.js';

const run = promisify(execFile);

/** Debian's nobody: PostgreSQL refuses to run as root, so a root caller runs it as this user. */
const NOBODY = 65534;

/** Directory holding initdb and pg_ctl (Debian's /usr/lib/postgresql/<version>/bin, else PATH), or undefined. */
export function findPostgresBin(): string | undefined {
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (existsSync(join(debian, v, 'bin', 'pg_ctl'))) return join(debian, v, 'bin');
  }
  for (const dir of (process.env.PATH ?? '').split(':'))
    if (dir && existsSync(join(dir, 'pg_ctl')) && existsSync(join(dir, 'initdb'))) return dir;
  return undefined;
}

/** What to start a throw-away PostgreSQL with. */
export interface PostgresOptions {
  /** Password of the `postgres` user (TCP connections need it). Default `mqttlab`. */
  password?: string;
  /**
   * Skips fsync and synchronous commit: for tests, where a power cut does not matter and speed does.
   * Measurements leave it off, so their commits cost what a real server's do.
   */
  unsafeFast?: boolean;
}

/** A PostgreSQL cluster in a temp dir on a free loopback port. */
export interface PostgresProcess {
  readonly port: number;
  /** `postgresql://postgres:<password>@127.0.0.1:<port>/postgres`. */
  readonly url: string;
  /** The postmaster's pid while it runs (for CPU readings). */
  readonly pid: number;
  /** Stops the server (fast shutdown: clients are disconnected), keeping its data. */
  stop(): Promise<void>;
  /** Starts the stopped server again on the same port and data. */
  start(): Promise<void>;
  /** Stops the server and removes its data directory. */
  close(): Promise<void>;
}

/**
 * Starts a PostgreSQL of its own: `initdb` in a temp dir, `pg_ctl start` on a free 127.0.0.1 port
 * (no Unix socket outside the temp dir), password authentication over TCP. Run as root, the cluster
 * belongs to `nobody`. Registered for cleanup: stopped on Ctrl-C, killed when this process exits, if `close` was not called.
 */
export async function startPostgresProcess(options: PostgresOptions = {}): Promise<PostgresProcess> {
  const bin = findPostgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install postgresql)');
  const password = options.password ?? 'mqttlab';
  const dir = mkdtempSync(join(tmpdir(), 'mqttlab-postgres-'));
  const asNobody = process.getuid?.() === 0;
  const user = asNobody ? { uid: NOBODY, gid: NOBODY } : {};
  if (asNobody) chownSync(dir, NOBODY, NOBODY);
  const data = join(dir, 'data');
  const pwfile = join(dir, 'pw');
  writeFileSync(pwfile, `${password}\n`);
  if (asNobody) chownSync(pwfile, NOBODY, NOBODY);
  const port = await freePort();
  const settings = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${dir}`,
    '-c max_connections=200',
    ...(options.unsafeFast ? ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off'] : []),
  ].join(' ');
  const pgCtl = (...args: string[]) => run(join(bin, 'pg_ctl'), ['-D', data, ...args], { ...user, timeout: 60_000 });
  let pid = 0;
  const killOnExit = () => {
    try {
      if (pid) process.kill(pid, 'SIGQUIT');
    } catch {
      // already gone
    }
  };
  try {
    await run(
      join(bin, 'initdb'),
      [
        '-D',
        data,
        '-U',
        'postgres',
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        `--pwfile=${pwfile}`,
        '-N',
        '-E',
        'UTF8',
        '--locale=C',
      ],
      { ...user, timeout: 120_000 },
    );
    const start = async () => {
      await pgCtl('start', '-w', '-t', '60', '-l', join(dir, 'server.log'), '-o', settings);
      pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    };
    await start();
    // Ctrl-C in the command that started it stops it cleanly; an exit without that still kills it.
    const release = registerCleanup({
      what: `PostgreSQL on port ${port}`,
      stop: () => close(),
      kill: () => {
        killOnExit();
        rmSync(dir, { recursive: true, force: true });
      },
    });
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      await pgCtl('stop', '-w', '-t', '60', '-m', 'fast');
      stopped = true;
      pid = 0;
    };
    async function close(): Promise<void> {
      await stop().catch(killOnExit);
      rmSync(dir, { recursive: true, force: true });
      release();
    }
    return {
      port,
      url: `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
      get pid() {
        return pid;
      },
      stop,
      start: async () => {
        if (!stopped) return;
        await start();
        stopped = false;
      },
      close,
    };
  } catch (error) {
    killOnExit();
    const log = existsSync(join(dir, 'server.log'))
      ? readFileSync(join(dir, 'server.log'), 'utf8').trim().split('\n').slice(-3).join(' | ')
      : '';
    rmSync(dir, { recursive: true, force: true });
    const e = error as Error & { stderr?: string };
    throw new Error(
      `PostgreSQL did not start: ${(e.stderr || e.message).trim().split('\n').slice(-2).join(' | ')}${log ? ` (log: ${log})` : ''}`,
    );
  }
}
