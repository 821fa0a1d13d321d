import { PROVENANCE_MARK, type Provenance, SYSTEMS } from './model.js';
import type { ComparisonReport } from './report.js';
import { layoutTable, wrapLine } from '../util/index.js';

/** A titled part of the report: paragraphs, a table, and/or preformatted lines. */
export interface Block {
  title: string;
  text?: string[];
  table?: { header: string[]; rows: string[][] };
  pre?: string[];
}

const mark = (p: Provenance) => `${PROVENANCE_MARK[p]} ${p}`;
const n = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v.toLocaleString('en-US'));

/** What the provenance marks mean, in one line. */
export const LEGEND = [
  `${PROVENANCE_MARK.measured} measured here on real sockets/servers`,
  `${PROVENANCE_MARK.computed} computed from the public spec`,
  `${PROVENANCE_MARK.cited} cited (source named)`,
  `${PROVENANCE_MARK['not measured']} not measured on this run`,
].join(' · ');

/** Frames of one side of a flow, e.g. `→ basic.publish 51, → content-header 30`. */
const frames = (rows: Array<{ direction: string; type: string; bytes: number }>) =>
  rows.map((f) => `${f.direction} ${f.type} ${f.bytes}`).join(', ');

/** MQTT packets of one side of a flow without their detail, e.g. `→ PUBLISH 45, ← PUBACK 4`. */
const packets = (rows: Array<{ direction: string; type: string; bytes: number }>) =>
  rows.map((x) => `${x.direction} ${x.type.replace(/ \(.*\)/, '')} ${x.bytes}`).join(', ');

/** The report as blocks, shared by the terminal and Markdown renderers (HTML adds charts). */
export function reportBlocks(r: ComparisonReport): Block[] {
  const o = r.overhead;
  const [small, large] = o.sample.payloadSizes as [number, number];
  const blocks: Block[] = [];
  const servers = r.environment.servers.map((s) => `${s.server} (ready in ${n(s.startupMs)} ms)`).join(', ');

  blocks.push({
    title: 'How this was produced',
    text: [
      `Command: \`${r.command}\` — ${r.generatedAt}, Node ${r.environment.node} on ${r.environment.platform}; ` +
        `measuring took ${(r.durationMs / 1000).toFixed(1)} s after the servers were up.`,
      `Legend: ${LEGEND}.`,
      `Servers started or used: ${servers || 'given by URL'}.`,
      ...(r.environment.absent.length
        ? [`Not measured on this run: ${r.environment.absent.map((a) => `${a.system} — ${a.reason}`).join('; ')}.`]
        : []),
      `Sample message: topic \`${o.sample.topic}\` (AMQP routing key and Kafka/Pub/Sub topic with dots, same length), ` +
        `JSON payloads of ${small} and ${large} bytes. Bytes are application bytes on the TCP connection ` +
        '(a counting proxy sits between client and server); TCP/IP headers and TLS are not counted for any protocol.',
    ],
  });

  blocks.push({
    title: `Bytes per message (publisher side = message + acks on the publisher's connection; subscriber side likewise)`,
    table: {
      header: [
        'system',
        'variant',
        'source',
        'basis',
        `${small} B pub`,
        `${small} B sub`,
        `${small} B total`,
        `${large} B pub`,
        `${large} B sub`,
        `${large} B total`,
        'note',
      ],
      rows: o.rows.map((row) => {
        const a = row.bySize.find((b) => b.payloadBytes === small);
        const b = row.bySize.find((x) => x.payloadBytes === large);
        return [
          row.system,
          row.variant,
          mark(row.provenance),
          row.basis,
          n(a?.publisher),
          n(a?.subscriber),
          n(a?.total),
          n(b?.publisher),
          n(b?.subscriber),
          n(b?.total),
          row.note ?? '',
        ];
      }),
    },
  });

  const m = o.mqtt[0];
  if (m) {
    const flows = m.publishes.filter((p) => p.payloadBytes === small && !p.topicAlias);
    blocks.push({
      title: `MQTT packets on the wire, ${small}-byte payload (${m.broker}) ${PROVENANCE_MARK.measured}`,
      pre: flows.map(
        (p) =>
          `MQTT ${p.version} QoS ${p.qos}  publisher: ${packets(p.publisher.packets)}  |  subscriber: ${packets(p.subscriber.packets)}`,
      ),
      text: [
        '→ client to broker, ← broker to client. By hand for MQTT 3.1.1 QoS 0: fixed header 1 + Remaining Length 1 + ' +
          'topic length 2 + topic 25 + payload 16 = 45 bytes; QoS > 0 adds a 2-byte packet id; MQTT 5 adds a 1-byte property length.',
      ],
    });
  }
  if (o.amqp.provenance === 'measured') {
    const a = o.amqp;
    blocks.push({
      title: `AMQP 0-9-1 frames on the wire, ${small}-byte payload (${a.server}, amqplib) ${PROVENANCE_MARK.measured}`,
      pre: a.publishes
        .filter((p) => p.payloadBytes === small)
        .map(
          (p) =>
            `${p.confirms ? 'confirms   ' : 'no confirms'}  publisher: ${frames(p.publisher.frames)}  |  ` +
            `subscriber: ${frames(p.subscriber.frames)}`,
        ),
      text: [
        'Every frame carries 8 bytes of framing (type 1, channel 2, size 4, frame-end 1). ' +
          `basic.publish to ${a.exchange} with routing key ${a.routingKey}: 8 + 4 (class/method) + 2 + 10 + 26 + 1 = 51 bytes.`,
      ],
    });
  }

  blocks.push({
    title: 'Connection and subscription setup (once per connection)',
    table: {
      header: ['system', 'step', 'bytes', 'source', 'basis', 'units'],
      rows: o.setup.map((s) => [s.system, s.step, n(s.bytes), mark(s.provenance), s.basis, s.note ?? '']),
    },
  });

  blocks.push({
    title: `Kafka: one Produce (acks=1) and one Fetch carrying the batch ${PROVENANCE_MARK.computed}`,
    table: {
      header: [
        'batch',
        'payload',
        'RecordBatch',
        'record',
        'Produce req',
        'Produce resp',
        'Fetch req',
        'Fetch resp',
        'total',
        'per message',
        'overhead/msg',
      ],
      rows: o.kafka.map((k) => [
        String(k.batchSize),
        `${k.payloadBytes} B`,
        n(k.recordBatch),
        n(k.firstRecord),
        n(k.produceRequest),
        n(k.produceResponse),
        n(k.fetchRequest),
        n(k.fetchResponse),
        n(k.total),
        n(k.perMessage),
        n(k.overheadPerMessage),
      ]),
    },
    text: [
      `Encoded by src/comparison/kafka-record-batch.ts per the Kafka protocol guide: Produce v${o.kafka[0]?.produceVersion}, ` +
        `Fetch v${o.kafka[0]?.fetchVersion} (flexible versions: compact strings, tagged fields), RecordBatch v2 with its CRC-32C, ` +
        'uncompressed, null keys, records 1 ms apart. The 61-byte batch header and the request framing are paid once per batch, ' +
        'so the per-message cost falls as the batch grows.',
    ],
  });

  const ps = o.pubsub.find((p) => p.payloadBytes === small)!;
  blocks.push({
    title: `Cloud Pub/Sub publish, ${small}-byte payload ${PROVENANCE_MARK.computed}`,
    pre: [
      ...ps.rest.request.text.replace(/(ya29\.\S{12})\S+/, `$1… (${ps.rest.tokenBytes}-byte token)`).split('\r\n'),
      '',
      ...ps.rest.response.text.split('\r\n'),
    ],
    text: [
      `REST: request ${ps.rest.request.bytes} B (headers ${ps.rest.request.headerBytes} + body ${ps.rest.request.bodyBytes}: ` +
        `base64 turns ${small} bytes into ${Math.ceil(small / 3) * 4}), response ${ps.rest.response.bytes} B. ` +
        "Minimal headers; real clients and Google's front end add more; TLS not counted.",
      `gRPC over HTTP/2: connection setup ${ps.grpc.setup.bytes} B; ` +
        `first Publish ${ps.grpc.first.bytes} B (${frames(ps.grpc.first.frames)}); ` +
        `a later Publish on the same connection ${ps.grpc.later.bytes} B (${frames(ps.grpc.later.frames)}). ` +
        `PublishRequest protobuf ${ps.grpc.publishRequestProto} B, PublishResponse ${ps.grpc.publishResponseProto} B.`,
    ],
  });

  blocks.push({
    title:
      `Latency and throughput (${r.settings.latencySamples} sequential messages for latency, ` +
      `bursts of ${r.settings.messages.toLocaleString('en-US')} for throughput, ${small}-byte payload)`,
    table: {
      header: ['system', 'server', 'mode', 'source', 'latency p50', 'p99', 'max', 'throughput', 'burst'],
      rows: [
        ...r.live.measurements.map((x) => [
          x.system,
          x.server,
          x.mode,
          mark('measured'),
          `${x.latency.p50} ms`,
          `${x.latency.p99} ms`,
          `${x.latency.max} ms`,
          `${x.throughput.perSecond.toLocaleString('en-US')} msg/s`,
          `${x.throughput.received}/${x.throughput.messages} in ${x.throughput.seconds} s${x.throughput.timedOut ? ' (timed out)' : ''}`,
        ]),
        ...r.live.notMeasured
          .filter((a) => !['Kafka', 'Cloud Pub/Sub'].includes(a.system))
          .map((a) => [a.system, '', '', mark('not measured'), '', '', '', '', a.reason]),
        ...r.live.cited.map((c) => [
          c.system,
          '',
          c.metric,
          mark('cited'),
          c.metric === 'latency' ? c.text : '',
          '',
          '',
          c.metric === 'throughput' ? c.text : '',
          `source: ${c.source}`,
        ]),
      ],
    },
    text: [
      'Measured on one machine over loopback with one publisher and one subscriber per run: ' +
        "these numbers show the protocols' round-trip structure and client/broker cost, not what a network or a cluster would give. " +
        'Kafka and Pub/Sub were not run here; their figures are cited from the named sources ' +
        'and are not comparable one-to-one with loopback numbers.',
    ],
  });

  blocks.push({
    title: 'Delivery guarantees (seed: analyze_delivery_guarantees)',
    table: {
      header: ['system', 'mode', 'guarantee', 'publisher side', 'subscriber side', `bytes (${small} B)`, 'source', 'note'],
      rows: r.delivery.modes.map((d) => [
        d.system,
        d.mode,
        d.guarantee,
        d.publisherUnits,
        d.subscriberUnits,
        n(d.bytes),
        mark(d.provenance),
        d.note,
      ]),
    },
  });

  blocks.push({
    title: 'Scalability patterns (seed: analyze_scalability_patterns)',
    table: {
      header: ['system', 'pattern', 'ordering', 'rebalancing', 'source'],
      rows: r.scalability.patterns.map((p) => [p.system, p.pattern, p.ordering, p.rebalancing, mark(p.provenance)]),
    },
    pre: r.scalability.distributions.map(
      (d) =>
        `${d.server}: ${d.mechanism} — ${d.messages} messages → per member ${d.perMember.join(' / ')}; ` +
        `each delivered once: ${d.exactlyOnce ? 'yes' : 'NO'}`,
    ),
  });

  const f = r.useCases.fleet;
  blocks.push({
    title:
      `Use-case fit (seed: analyze_use_case_fit) — the seed's fleet: ${f.devices.toLocaleString('en-US')} devices, ` +
      `one ${f.payloadBytes}-byte reading every ${f.intervalSeconds} s = ${f.messagesPerSecond.toLocaleString('en-US')} msg/s`,
    table: {
      header: ['system', 'how devices send', 'bytes/message (sender side)', 'per device per day', 'fleet ingress', 'source'],
      rows: f.figures.map((x) => [
        x.system,
        x.variant,
        n(x.bytesPerMessage),
        x.perDevicePerDay === null ? '–' : `${(x.perDevicePerDay / 1024).toFixed(1)} KiB`,
        x.fleetBytesPerSecond === null ? '–' : `${(x.fleetBytesPerSecond / 1e6).toFixed(2)} MB/s`,
        mark(x.provenance),
      ]),
    },
    pre: r.useCases.scenarios.map((s) => `${s.scenario}: ${s.best.join(', ')} — ${s.why}`),
  });

  blocks.push({
    title: "The seed's dimension table, regenerated",
    table: {
      header: ['dimension', ...SYSTEMS],
      rows: r.dimensions.map((d) => [d.dimension, ...SYSTEMS.map((s) => `${PROVENANCE_MARK[d.cells[s].provenance]} ${d.cells[s].text}`)]),
    },
    text: [
      `Cells marked ${PROVENANCE_MARK.cited} repeat the seed's table (or the source named in the JSON output); ` +
        `${PROVENANCE_MARK.measured} and ${PROVENANCE_MARK.computed} cells were produced by this run.`,
    ],
  });

  blocks.push({ title: `Key question: ${r.keyQuestion.question}`, text: r.keyQuestion.answer });

  const failed = r.checks.filter((c) => !c.ok);
  blocks.push({
    title: 'Checks: counted bytes against the specs',
    pre: [
      `${r.checks.length - failed.length}/${r.checks.length} held`,
      ...r.checks.map((c) => `${c.ok ? '✓' : '✗'} ${c.name}${c.detail ? ` — ${c.detail}` : ''}`),
    ],
  });

  blocks.push({ title: 'Sources', pre: r.citations.map((c) => `[${c.id}] ${c.title} — ${c.url}`) });
  return blocks;
}

/** The report for a terminal `width` columns wide (no limit by default): tables stack when they do not fit. */
export function renderText(r: ComparisonReport, width = Number.POSITIVE_INFINITY): string {
  const out: string[] = [...wrapLine(`━━ ${r.title} ━━`, width)];
  for (const b of reportBlocks(r)) {
    out.push('', ...wrapLine(`▸ ${b.title}`, width));
    if (b.text) out.push(...b.text.flatMap((t) => wrapLine(`  ${t.replaceAll('`', '')}`, width)));
    // The seed's dimension table is too wide for any terminal as a grid: always one block per dimension.
    if (b.table) out.push(...layoutTable(b.table, width, { stack: b.title.startsWith("The seed's dimension table") }));
    if (b.pre) out.push(...b.pre.flatMap((l) => wrapLine(`  ${l}`, width)));
  }
  return out.join('\n');
}

const mdCell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** The report as Markdown (docs/comparison.md). */
export function renderMarkdown(r: ComparisonReport): string {
  const out: string[] = [
    `# ${r.title}`,
    '',
    `> Generated by \`${r.command}\`. Re-run it (with --force to write over this file) to regenerate it; ` +
      'every number below comes from that run or is marked as cited.',
    '',
  ];
  for (const b of reportBlocks(r)) {
    out.push(`## ${b.title}`, '');
    if (b.text) out.push(...b.text.flatMap((t) => [t, '']));
    if (b.table) {
      out.push(`| ${b.table.header.map(mdCell).join(' | ')} |`, `|${b.table.header.map(() => '---').join('|')}|`);
      for (const row of b.table.rows) out.push(`| ${row.map(mdCell).join(' | ')} |`);
      out.push('');
    }
    if (b.pre) out.push('```', ...b.pre, '```', '');
  }
  return out.join('\n');
}
