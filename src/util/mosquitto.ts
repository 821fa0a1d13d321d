import { spawnSync } from 'node:child_process';

/** Path of the mosquitto binary (PATH, then Debian's /usr/sbin), or undefined when it is not installed. */
export function findMosquitto(): string | undefined {
  for (const candidate of ['mosquitto', '/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto']) {
    const r = spawnSync(candidate, ['-h'], { encoding: 'utf8' });
    if (!r.error) return candidate;
  }
  return undefined;
}
