/**
 * A one-line live status on a terminal, rewritten every second; nothing when stdout is not a TTY (so
 * pipes and `--json` stay clean). `render` may be async; a slow render skips ticks instead of piling up.
 */
export function startStatusLine(render: () => string | Promise<string>, everyMs = 1000): { stop(): void } {
  if (!process.stdout.isTTY) return { stop: () => {} };
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      const line = await render();
      process.stdout.write(`\r\x1b[K${line.slice(0, (process.stdout.columns || 120) - 1)}`);
    } catch (error) {
      process.stdout.write(`\r\x1b[Kstatus: ${(error as Error).message}`);
    } finally {
      busy = false;
    }
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      process.stdout.write('\r\x1b[K');
    },
  };
}

/** 12345 → "12,345". */
export function fmt(n: number | undefined): string {
  return n === undefined ? '?' : n.toLocaleString('en-US');
}
