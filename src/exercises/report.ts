import { formatPacket, type TracedPacket } from '../client/index.js';
import { layoutTable, wrapLine, type TextTable } from '../util/index.js';

/** An expectation an exercise checks against what the broker really did. */
export interface Check {
  name: string;
  ok: boolean;
  /** What was seen, when it is not what was expected. */
  detail?: string;
  /**
   * The normative statements that decide it (e.g. "MQTT-3.3.4-9"), when it checks the broker against the
   * spec: if it does not hold, the broker deviates from the spec. Without them, a check that does not
   * hold is a failure of what the program expected.
   */
  statements?: string[];
}

/** How a check came out: held, the broker deviated from a statement of the spec, or the program's expectation failed. */
export type Outcome = 'held' | 'deviation' | 'failure';

/** The outcome of a check. */
export function outcome(check: Check): Outcome {
  if (check.ok) return 'held';
  return check.statements && check.statements.length > 0 ? 'deviation' : 'failure';
}

/** A check's name with the statements it tests, e.g. "… [MQTT-3.3.4-9], [MQTT-4.9.0-2]". */
export function checkTitle(check: Check): string {
  return check.statements?.length ? `${check.name} ${check.statements.map((s) => `[${s}]`).join(', ')}` : check.name;
}

/** A titled block of the printed output: lines, and tables laid out for the width at hand when printed. */
export interface Section {
  title: string;
  lines: Array<string | TextTable>;
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

  /** Records an expectation of the program; one that does not hold is a failure. Returns whether it held. */
  expect(name: string, ok: boolean, detail?: string): boolean {
    this.list.push(ok ? { name, ok } : { name, ok, detail });
    return ok;
  }

  /**
   * Records what a normative statement of the spec requires of the broker (ids like "MQTT-3.3.4-9"); one
   * that does not hold is a deviation of the broker, reported with the statements. Returns whether it held.
   */
  conforms(statements: string[], name: string, ok: boolean, detail?: string): boolean {
    this.list.push(ok ? { name, ok, statements } : { name, ok, detail, statements });
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

/** A table for a section (laid out when the report is printed: a grid, or stacked on a narrow terminal). */
export function table(header: string[], rows: Array<Array<string | number>>): TextTable[] {
  return [{ header, rows: rows.map((r) => r.map(String)) }];
}

/** Renders a report for a terminal `width` columns wide (no limit by default). */
export function formatReport(report: ExerciseReport, width = Number.POSITIVE_INFINITY): string {
  const out: string[] = [];
  const fit = (line: string | TextTable) => (typeof line === 'string' ? wrapLine(line, width) : layoutTable(line, width));
  out.push(...wrapLine(`━━ ${report.title} ━━  (${report.broker})`, width));
  for (const section of report.sections) {
    out.push('', ...wrapLine(`▸ ${section.title}`, width), ...section.lines.flatMap(fit));
  }
  out.push(
    '',
    ...wrapLine(`? ${report.keyQuestion.question}`, width),
    ...report.keyQuestion.answer.flatMap((l) => wrapLine(`  ${l}`, width)),
  );
  const deviations = report.checks.filter((c) => outcome(c) === 'deviation');
  const failures = report.checks.filter((c) => outcome(c) === 'failure');
  const held = report.checks.length - deviations.length - failures.length;
  const counts = [`✓ ${held}/${report.checks.length} expectations held`];
  if (deviations.length > 0) counts.push(`${deviations.length} deviation(s) of the broker from the spec`);
  if (failures.length > 0) counts.push(`${failures.length} failed`);
  out.push('', `${counts.join(' · ')} (${(report.durationMs / 1000).toFixed(1)} s)`);
  for (const c of deviations) out.push(...wrapLine(`⚠ deviation: ${checkTitle(c)}${c.detail ? `: ${c.detail}` : ''}`, width));
  for (const c of failures) out.push(...wrapLine(`✗ ${checkTitle(c)}${c.detail ? `: ${c.detail}` : ''}`, width));
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
