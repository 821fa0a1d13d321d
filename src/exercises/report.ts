import { formatPacket, type TracedPacket } from '../client/index.js';

/** An expectation an exercise checks against what the broker really did. */
export interface Check {
  name: string;
  ok: boolean;
  /** What was seen, when it is not what was expected. */
  detail?: string;
}

/** A titled block of the printed output. */
export interface Section {
  title: string;
  lines: string[];
}

/** What an exercise returns: printable sections, the seed's key question answered, checks, and data. */
export interface ExerciseReport<D = unknown> {
  exercise: string;
  title: string;
  broker: string;
  sections: Section[];
  keyQuestion: { question: string; answer: string[] };
  checks: Check[];
  /** Structured results of the seed's functions (what `--json` prints). */
  data: D;
  durationMs: number;
}

/** Collects checks as an exercise goes. */
export class Checks {
  readonly list: Check[] = [];

  /** Records an expectation; returns whether it held. */
  expect(name: string, ok: boolean, detail?: string): boolean {
    this.list.push(ok ? { name, ok } : { name, ok, detail });
    return ok;
  }
}

/** Packet lines for a section. */
export function packetLines(packets: TracedPacket[]): string[] {
  return packets.map((p) => `  ${formatPacket(p)}`);
}

/** A traced packet with the properties a demonstration is about (`correlationData=0x…`). */
export function packetWithProperties(p: TracedPacket, keys: string[]): string {
  const extra = keys
    .filter((k) => p.properties?.[k] !== undefined)
    .map((k) => {
      const v = p.properties![k];
      return `${k}=${Buffer.isBuffer(v) ? `0x${v.toString('hex')}` : typeof v === 'object' ? JSON.stringify(v) : String(v)}`;
    });
  return `  ${formatPacket(p)}${extra.length > 0 ? `  ${extra.join(' ')}` : ''}`;
}

/** A fixed-width text table. */
export function table(header: string[], rows: Array<Array<string | number>>): string[] {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `  ${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}`;
  return [line(header), `  ${widths.map((w) => '-'.repeat(w)).join('  ')}`, ...cells.slice(1).map(line)];
}

/** Renders a report for a terminal. */
export function formatReport(report: ExerciseReport): string {
  const out: string[] = [];
  out.push(`━━ ${report.title} ━━  (${report.broker})`);
  for (const section of report.sections) {
    out.push('', `▸ ${section.title}`, ...section.lines);
  }
  out.push('', `? ${report.keyQuestion.question}`, ...report.keyQuestion.answer.map((l) => `  ${l}`));
  const failed = report.checks.filter((c) => !c.ok);
  out.push('', `✓ ${report.checks.length - failed.length}/${report.checks.length} expectations held (${(report.durationMs / 1000).toFixed(1)} s)`);
  for (const c of failed) out.push(`✗ ${c.name}${c.detail ? `: ${c.detail}` : ''}`);
  return out.join('\n');
}

/** Milliseconds statistics of a sample: mean, p50, p99, max. */
export function stats(samples: number[]): { n: number; mean: number; p50: number; p99: number; max: number } {
  if (samples.length === 0) return { n: 0, mean: 0, p50: 0, p99: 0, max: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    n: sorted.length,
    mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length),
    p50: round(at(0.5)),
    p99: round(at(0.99)),
    max: round(sorted[sorted.length - 1]!),
  };
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits until `predicate` holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() >= deadline) return false;
    await sleep(5);
  }
  return true;
}
