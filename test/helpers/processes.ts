import { readdirSync, readFileSync } from 'node:fs';

/**
 * Processes whose command line or environment mentions `text`: everything a run started with TMPDIR set to
 * a directory of its own (Mosquitto inherits TMPDIR; the RabbitMQ node, its epmd and helpers get a HOME in
 * it), so nothing else on the machine is counted.
 */
export function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
      if (cmdline.includes(text) || readFileSync(`/proc/${pid}/environ`, 'latin1').includes(text))
        found.push(`${pid} ${cmdline.split('\0')[0]}`);
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}
