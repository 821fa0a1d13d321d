import type { ChaosReport } from './options.js';

const n = (x: number | undefined) => (x === undefined ? '—' : x.toLocaleString('en-US'));

/** A chaos report as a table with one row per QoS, then the faults that were injected. */
export function formatChaosReport(report: ChaosReport): string {
  const header = ['QoS', 'sent', 'acknowledged', 'received', 'after repair', 'lost', 'duplicated', 'reordered', 'DUP=1 seen', 'verdict'];
  const rows = report.outcomes.map((o) => [
    String(o.qos),
    n(o.sent),
    n(o.acknowledged),
    n(o.received),
    n(o.received - o.receivedUnderFaults),
    n(o.lost),
    n(o.duplicated),
    n(o.reordered),
    n(o.dupFlags),
    `${o.verdict.toUpperCase()}: ${o.contract}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  const kills = report.kills.map((k) => `${Math.round(k.progress * 100)}% (back after ${k.downMs} ms)`).join(', ');
  const unacked = report.outcomes
    .filter((o) => o.unacknowledged > 0)
    .map((o) => `QoS ${o.qos}: ${n(o.unacknowledged)} sent but never acknowledged`);
  return [
    `${n(report.messagesPerQos)} messages per QoS through ${report.broker}`,
    `links: ${report.faults}; subscribers' Receive Maximum ${report.receiveMaximum}`,
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `faults for ${(report.faultsMs / 1000).toFixed(1)} s: ${n(report.cuts)} link cuts; ` +
      `reconnects: publishers ${n(report.reconnects.publishers)}, subscribers ${n(report.reconnects.subscribers)}`,
    `broker SIGKILLs: ${report.kills.length === 0 ? 'none' : `${report.kills.length}, at ${kills}`}`,
    'then the links were repaired: "after repair" counts what arrived only then; "lost" is what never arrived',
    ...(unacked.length > 0 ? [`${unacked.join(', ')} (the contract does not cover them)`] : []),
    ...(report.timedOut ? ['the time bound ended the run before every message was acknowledged and received'] : []),
    ...(report.brokerErrors.length > 0 ? ['the broker wrote to stderr:', ...report.brokerErrors.map((l) => `  ${l}`)] : []),
    `took ${(report.durationMs / 1000).toFixed(1)} s`,
  ].join('\n');
}
