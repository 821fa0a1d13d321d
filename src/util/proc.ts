import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat utime + stime. */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name, which may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** CPU seconds of a process and its live descendants (a PostgreSQL server and its backends), from /proc. */
export function processTreeCpuSeconds(pid: number): number {
  let total = processCpuSeconds(pid);
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
    for (const child of children ? children.split(' ') : []) {
      try {
        total += processTreeCpuSeconds(Number(child));
      } catch {
        // exited meanwhile
      }
    }
  }
  return total;
}

/** Resident set size of a process in KiB, from VmRSS in /proc/<pid>/status. */
export function processRssKb(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]);
}

/** Soft and hard limits on open files of this process (children inherit them). */
export function openFileLimits(): { soft: number; hard: number } {
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  const value = (s: string | undefined) => (s === undefined || s === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(s));
  return { soft: value(match?.[1]), hard: value(match?.[2]) };
}

/**
 * A command prefix that starts a program with at least `needed` open files (sh raising the soft limit up
 * to the hard one), none when the soft limit already allows it; throws a one-line error when the hard
 * limit is too low, as an unprivileged process cannot raise it.
 */
export function openFileWrapper(needed: number, what: string): string[] {
  const { soft, hard } = openFileLimits();
  if (needed <= soft) return [];
  if (needed > hard) {
    throw new Error(
      `${what} needs ${needed} open files but the hard limit is ${hard}: ` +
        'raise it (ulimit -Hn as root, LimitNOFILE, limits.conf) or ask for fewer',
    );
  }
  return ['/bin/sh', '-c', `ulimit -n ${needed} && exec "$0" "$@"`];
}
