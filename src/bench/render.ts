import { METRICS } from './metrics.js';
import type { BenchReport } from './run.js';
import type { Summary } from './stats.js';

function formatNumber(value: number, digits: number): string {
  if (!Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function cell(s: Summary | undefined, digits: number): string {
  if (!s) return 'n/a';
  if (s.n === 1) return formatNumber(s.median, digits);
  return `${formatNumber(s.median, digits)} (${formatNumber(s.min, digits)}–${formatNumber(s.max, digits)})`;
}

function fleetShape(o: BenchReport['settings']): string {
  const rate = (o.devices * 1000) / o.interval;
  const subscribers = o.share ? `one $share group of ${o.subscribers}` : `${o.subscribers} subscriber${o.subscribers === 1 ? '' : 's'}`;
  const perSecond = rate.toLocaleString('en-US', { maximumFractionDigits: 1 });
  return `${o.devices.toLocaleString('en-US')} devices × 1 msg / ${o.interval} ms (${perSecond} msg/s) → ${subscribers}`;
}

/** One line saying what was run. */
export function describeRun(report: BenchReport): string {
  const o = report.settings;
  const shape =
    o.scenario === 'fan-in'
      ? `${o.publishers} publishers → 1 subscriber`
      : o.scenario === 'fan-out'
        ? `1 publisher → ${o.subscribers} subscribers`
        : o.scenario === 'latency'
          ? `1 publisher → 1 subscriber at ${o.rate.toLocaleString('en-US')} msg/s`
          : o.scenario === 'fleet'
            ? fleetShape(o)
            : `${o.clients.toLocaleString('en-US')} idle clients, held ${o.hold} s`;
  const flow =
    o.scenario === 'connections'
      ? ''
      : o.scenario === 'fleet'
        ? `, QoS ${o.qos}, payload ${o.payload} B, for ${o.duration} s, in flight ${o.inflight}/connection`
        : `, QoS ${o.qos}, payload ${o.payload} B, ≤ ${o.count.toLocaleString('en-US')} messages or ${o.duration} s, ` +
          `in flight ${o.inflight}/connection, window ${o.window}`;
  return `${o.scenario}: ${shape}${flow}; ${o.rounds} round(s) per broker, alternating ${o.brokers.join(' / ')}`;
}

/**
 * The report as a plain-text table: median (min–max) per broker and, when comparing, the ratio of medians of
 * the first broker to each of the others.
 */
export function renderTable(report: BenchReport): string {
  const brokers = report.settings.brokers;
  const names = Object.keys(METRICS).filter((name) => brokers.some((b) => report.summary[b]?.[name]));
  const header = ['metric', ...brokers.map((b) => `${b} median (min–max)`)];
  const compared = Object.keys(report.ratiosTo ?? {});
  for (const other of compared) header.push(`ratio ${brokers[0]}/${other} (spread)`);
  const rows = names.map((name) => {
    const info = METRICS[name]!;
    const row = [info.label, ...brokers.map((b) => cell(report.summary[b]?.[name], info.digits))];
    for (const other of compared) {
      const r = report.ratiosTo![other]![name];
      row.push(r && Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}× (${r.min.toFixed(2)}–${r.max.toFixed(2)})` : '–');
    }
    return row;
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [describeRun(report), '', line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  const m = report.machine;
  out.push(
    '',
    `machine: ${m.cpus} × ${m.cpuModel}, Node ${m.node}, load average ${m.loadBefore.toFixed(2)} before, ${m.loadAfter.toFixed(2)} after`,
  );
  for (const r of report.rounds) {
    const errors = Object.entries(r.errors);
    if (errors.length > 0)
      out.push(`round ${r.round} ${r.broker}: clients ended early: ${errors.map(([why, n]) => `${n} × ${why}`).join('; ')}`);
  }
  return out.join('\n');
}
