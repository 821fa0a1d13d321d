import type { BenchProgress } from './run.js';

/** A one-line progress bar on a TTY stream (redrawn in place); does nothing when the stream is not a TTY. */
export function progressBar(stream: NodeJS.WriteStream, label: string): { update(p: BenchProgress): void; done(): void } {
  if (!stream.isTTY) return { update: () => {}, done: () => {} };
  const width = 30;
  return {
    update(p) {
      const overall = (p.step - 1 + p.fraction) / p.steps;
      const filled = Math.round(overall * width);
      const bar = `[${'#'.repeat(filled)}${' '.repeat(width - filled)}]`;
      stream.write(`\r${label} ${bar} ${p.step}/${p.steps} ${p.broker.padEnd(10)} ${Math.round(p.fraction * 100)}%  `);
    },
    done() {
      stream.write('\r\x1b[K');
    },
  };
}
