import { PROVENANCE_MARK, type Provenance } from './model.js';
import { LEGEND, reportBlocks } from './render.js';
import type { ComparisonReport } from './report.js';

const COLORS: Record<string, string> = {
  MQTT: '#2f7ed8',
  RabbitMQ: '#f28f43',
  'AMQP 0-9-1': '#f28f43',
  Kafka: '#4a4a4a',
  'Cloud Pub/Sub': '#8bbc21',
};

const esc = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

interface Bar {
  label: string;
  value: number;
  color: string;
  provenance: Provenance;
  text?: string;
}

/** A horizontal bar chart as inline SVG (no library, no network). */
export function svgBars(title: string, bars: Bar[], unit: string): string {
  const labelWidth = 380;
  const chartWidth = 420;
  const row = 22;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const height = 30 + bars.length * row + 10;
  const items = bars
    .map((b, i) => {
      const y = 30 + i * row;
      const w = Math.max(1, (b.value / max) * chartWidth);
      const opacity = b.provenance === 'measured' ? 1 : b.provenance === 'computed' ? 0.75 : 0.45;
      const dashed = b.provenance === 'cited' ? ' stroke="#333" stroke-dasharray="3,2"' : '';
      const tooltip = esc(`${b.label}: ${b.text ?? b.value} ${unit} (${b.provenance})`);
      const value = esc(`${b.text ?? b.value.toLocaleString('en-US')} ${unit} ${PROVENANCE_MARK[b.provenance]}`);
      return [
        `<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end" font-size="12">${esc(b.label)}</text>`,
        `<rect x="${labelWidth}" y="${y + 3}" width="${w.toFixed(1)}" height="${row - 6}" ` +
          `fill="${b.color}" fill-opacity="${opacity}"${dashed}><title>${tooltip}</title></rect>`,
        `<text x="${labelWidth + w + 6}" y="${y + 15}" font-size="12">${value}</text>`,
      ].join('');
    })
    .join('\n');
  const size = `width="${labelWidth + chartWidth + 170}" height="${height}"`;
  return `<figure><svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${esc(title)}" ${size} font-family="system-ui, sans-serif">
<text x="0" y="16" font-size="14" font-weight="600">${esc(title)}</text>
${items}
</svg></figure>`;
}

/** ` class="p-m"` (measured), `p-c` (computed), `p-q` (cited) or `p-n` (not measured) for a cell that starts with its mark. */
function markClass(cell: string): string {
  if (!/^[●◆○–] /.test(cell)) return '';
  return ` class="p-${cell[0] === '●' ? 'm' : cell[0] === '◆' ? 'c' : cell[0] === '○' ? 'q' : 'n'}"`;
}

/** Charts from the report's data. */
export function charts(r: ComparisonReport): string[] {
  const small = r.overhead.sample.payloadSizes[0]!;
  const out: string[] = [];
  const overheadBars: Bar[] = r.overhead.rows
    .filter((row) => !(row.system === 'MQTT' && row.basis !== r.overhead.mqtt[0]?.broker))
    .map((row) => ({ row, v: row.bySize.find((b) => b.payloadBytes === small)?.publisher }))
    .filter((x): x is { row: (typeof r.overhead.rows)[number]; v: number } => typeof x.v === 'number')
    .map(({ row, v }) => ({ label: row.variant, value: v, color: COLORS[row.system]!, provenance: row.provenance }));
  out.push(svgBars(`Publisher-side bytes for one ${small}-byte message (message + acknowledgements)`, overheadBars, 'B'));

  const kafkaBars: Bar[] = r.overhead.kafka.map((k) => ({
    label: `batch of ${k.batchSize}, ${k.payloadBytes}-byte payload`,
    value: k.overheadPerMessage,
    color: COLORS.Kafka!,
    provenance: 'computed' as const,
  }));
  out.push(svgBars('Kafka: overhead bytes per message (produce + fetch, payload excluded) by batch size', kafkaBars, 'B'));

  const live = r.live.measurements;
  if (live.length) {
    out.push(
      svgBars(
        `Latency p50, one message at a time (${small}-byte payload, loopback)`,
        live.map((m) => ({
          label: `${m.server} · ${m.mode}`,
          value: m.latency.p50,
          color: COLORS[m.system]!,
          provenance: 'measured' as const,
          text: String(m.latency.p50),
        })),
        'ms',
      ),
    );
    out.push(
      svgBars(
        `Latency p99`,
        live.map((m) => ({
          label: `${m.server} · ${m.mode}`,
          value: m.latency.p99,
          color: COLORS[m.system]!,
          provenance: 'measured' as const,
          text: String(m.latency.p99),
        })),
        'ms',
      ),
    );
    out.push(
      svgBars(
        `Throughput of a burst of ${r.settings.messages.toLocaleString('en-US')} messages (one publisher, one subscriber, loopback)`,
        live.map((m) => ({
          label: `${m.server} · ${m.mode}`,
          value: m.throughput.perSecond,
          color: COLORS[m.system]!,
          provenance: 'measured' as const,
        })),
        'msg/s',
      ),
    );
  }
  const fleet = r.useCases.fleet.figures.filter((f) => f.perDevicePerDay !== null);
  out.push(
    svgBars(
      `Per device per day, one ${r.useCases.fleet.payloadBytes}-byte reading every ${r.useCases.fleet.intervalSeconds} s (sender side)`,
      fleet.map((f) => ({
        label: `${f.system}: ${f.variant}`,
        value: Math.round(f.perDevicePerDay! / 1024),
        color: COLORS[f.system]!,
        provenance: f.provenance,
      })),
      'KiB',
    ),
  );
  return out;
}

/** A self-contained HTML page: the report's tables plus inline SVG bar charts. */
export function renderHtml(r: ComparisonReport): string {
  const blocks = reportBlocks(r)
    .map((b) => {
      const parts = [`<h2>${esc(b.title)}</h2>`];
      if (b.text) parts.push(...b.text.map((t) => `<p>${esc(t).replace(/`([^`]+)`/g, '<code>$1</code>')}</p>`));
      if (b.table) {
        parts.push(`<div class="scroll"><table><thead><tr>${b.table.header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>`);
        for (const row of b.table.rows) parts.push(`<tr>${row.map((c) => `<td${markClass(c)}>${esc(c)}</td>`).join('')}</tr>`);
        parts.push('</tbody></table></div>');
      }
      if (b.pre) parts.push(`<pre>${esc(b.pre.join('\n'))}</pre>`);
      return parts.join('\n');
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(r.title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#222;line-height:1.4}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ddd;padding:.25rem .45rem;vertical-align:top;text-align:left}
th{background:#f4f4f4}.scroll{overflow-x:auto}pre{background:#f7f7f7;padding:.6rem;overflow-x:auto;font-size:.8rem}
.p-m{background:#eaf6ea}.p-c{background:#eef3fb}.p-q{background:#fafafa;color:#555}.p-n{background:#fbeeee;color:#844}
figure{margin:1rem 0}.legend{font-size:.9rem;color:#444}
</style></head><body>
<h1>${esc(r.title)}</h1>
<p class="legend">${esc(LEGEND)}. Bars: solid = measured, lighter = computed, dashed = cited.</p>
<p>Generated by <code>${esc(r.command)}</code> at ${esc(r.generatedAt)}.</p>
<section>${charts(r).join('\n')}</section>
${blocks}
</body></html>
`;
}
