import {
  analyzeDeliveryGuarantees,
  analyzeOverhead,
  analyzeScalabilityPatterns,
  analyzeUseCaseFit,
  SYSTEMS,
  type DeliveryAnalysis,
  type OverheadAnalysis,
  type OverheadRowId,
  type ScalabilityAnalysis,
  type System,
  type UseCaseAnalysis,
} from './analysis.js';
import { CITATIONS, type Citation } from './citations.js';
import { hasAmqp, type Absence, type ComparisonContext } from './context.js';
import { measureAmqpLive, measureMqttLive, type LiveMeasurement, type LiveMode } from './live-measure.js';
import type { Provenance } from './model.js';

/** One cell of the regenerated dimension table. */
export interface Cell {
  text: string;
  provenance: Provenance;
  /** Citation id when cited. */
  source?: string;
}

export interface DimensionRow {
  dimension: string;
  cells: Record<System, Cell>;
}

export interface CitedPerformance {
  system: System;
  metric: 'latency' | 'throughput';
  text: string;
  source: string;
}

export interface LiveAnalysis {
  measurements: LiveMeasurement[];
  notMeasured: Absence[];
  cited: CitedPerformance[];
}

export interface ComparisonCheck {
  name: string;
  ok: boolean;
  detail?: string;
}

/** Everything the comparison found, as printed by every renderer and by --json. */
export interface ComparisonReport {
  title: string;
  generatedAt: string;
  /** The command line that produced it (set by the CLI). */
  command: string;
  environment: { node: string; platform: string; servers: Array<{ server: string; startupMs: number }>; absent: Absence[] };
  settings: { messages: number; latencySamples: number };
  overhead: OverheadAnalysis;
  live: LiveAnalysis;
  delivery: DeliveryAnalysis;
  scalability: ScalabilityAnalysis;
  useCases: UseCaseAnalysis;
  dimensions: DimensionRow[];
  keyQuestion: { question: string; answer: string[] };
  checks: ComparisonCheck[];
  citations: Citation[];
  durationMs: number;
}

/** Latency and throughput, measured live where the servers are here, cited otherwise. */
export async function analyzeLatencyAndThroughput(ctx: ComparisonContext): Promise<LiveAnalysis> {
  const measurements: LiveMeasurement[] = [];
  const options = { messages: ctx.messages, latencySamples: ctx.latencySamples };
  for (const t of ctx.mqtt) measurements.push(...(await measureMqttLive(t.url, t.label, options)));
  if (hasAmqp(ctx.amqp)) measurements.push(...(await measureAmqpLive(ctx.amqp.url, ctx.amqp.label, options)));
  const k = CITATIONS.kafkaLinkedIn;
  const c = CITATIONS.kafkaConfluent;
  return {
    measurements,
    notMeasured: [...ctx.absent, { system: 'Kafka', reason: 'no Kafka broker here (figures cited)' }, { system: 'Cloud Pub/Sub', reason: 'a managed Google service (figures cited)' }],
    cited: [
      { system: 'Kafka', metric: 'throughput', text: '821,557 msg/s (1 producer, 100-byte records, no replication); 2,024,032 msg/s (3 producers, 3x async replication); 605 MB/s peak', source: `${k.id}, ${c.id}` },
      { system: 'Kafka', metric: 'latency', text: 'end-to-end 2 ms p50, 3 ms p99, 14 ms p99.9 (2014); p99 5 ms at 200 MB/s (Confluent)', source: `${k.id}, ${c.id}` },
      { system: 'Cloud Pub/Sub', metric: 'throughput', text: 'scales with the service; bounded by regional publisher/subscriber throughput quotas; "~100K+ msg/s per subscription" (seed)', source: `${CITATIONS.pubsubPricing.id}, seed` },
      { system: 'Cloud Pub/Sub', metric: 'latency', text: '"10–100 ms typical (network + HTTP overhead)" (seed); dominated by the client–region round trip', source: 'seed' },
    ],
  };
}

/** Seed: generate_comparison_report(). Runs every analysis and assembles the report (renderers format it). */
export async function generateComparisonReport(ctx: ComparisonContext, options: { command?: string; log?: (line: string) => void } = {}): Promise<ComparisonReport> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  log('counting bytes on the wire (MQTT, AMQP) and encoding Kafka / Pub/Sub messages …');
  const overhead = await analyzeOverhead(ctx);
  log('measuring latency and throughput …');
  const live = await analyzeLatencyAndThroughput(ctx);
  log('measuring load balancing (shared subscriptions, competing consumers) …');
  const scalability = await analyzeScalabilityPatterns(ctx);
  const delivery = analyzeDeliveryGuarantees(overhead);
  const useCases = analyzeUseCaseFit(overhead);
  const checks = consistencyChecks(overhead, scalability);
  const report: ComparisonReport = {
    title: 'Protocol comparison: MQTT vs Kafka vs RabbitMQ (AMQP 0-9-1) vs Cloud Pub/Sub',
    generatedAt: new Date().toISOString(),
    command: options.command ?? 'mqttlab compare',
    environment: { node: process.version, platform: `${process.platform} ${process.arch}`, servers: ctx.startup.map((s) => ({ server: s.server, startupMs: s.ms })), absent: ctx.absent },
    settings: { messages: ctx.messages, latencySamples: ctx.latencySamples },
    overhead,
    live,
    delivery,
    scalability,
    useCases,
    dimensions: [],
    keyQuestion: { question: '', answer: [] },
    checks,
    citations: Object.values(CITATIONS),
    durationMs: 0,
  };
  report.dimensions = dimensionTable(report);
  report.keyQuestion = keyQuestion(report);
  report.durationMs = Date.now() - started;
  return report;
}

/** Expectations the run must meet: counted bytes equal the spec's, load balancing delivered each message once. */
function consistencyChecks(overhead: OverheadAnalysis, scalability: ScalabilityAnalysis): ComparisonCheck[] {
  const checks: ComparisonCheck[] = overhead.specChecks.map((c) => ({
    name: `${c.what}: ${c.expected} bytes per the spec`,
    ok: c.measured === c.expected,
    ...(c.measured === c.expected ? {} : { detail: `counted ${c.measured ?? 'nothing'}` }),
  }));
  for (const d of scalability.distributions) {
    const ok = d.exactlyOnce && d.perMember.every((n) => n > 0);
    checks.push({ name: `${d.server}: ${d.mechanism} gave each of ${d.messages} messages to exactly one member, every member some`, ok, ...(ok ? {} : { detail: `per member ${d.perMember.join('/')}` }) });
  }
  return checks;
}

const fmt = (n: number) => n.toLocaleString('en-US');

function bestLive(live: LiveAnalysis, system: LiveMeasurement['system'], mode: LiveMode): LiveMeasurement | undefined {
  return live.measurements.find((m) => m.system === system && m.mode === mode);
}

/** The seed's dimension table, with measured/computed figures where this run has them. */
export function dimensionTable(report: ComparisonReport): DimensionRow[] {
  const o = report.overhead;
  const row = (id: OverheadRowId, size = o.sample.payloadSizes[0]!) => o.rows.find((r) => r.id === id)?.bySize.find((b) => b.payloadBytes === size);
  const cited = (text: string, source = 'seed'): Cell => ({ text, provenance: 'cited', source });
  const mqtt0 = row('mqtt-5.0-qos0');
  const mqtt311 = row('mqtt-3.1.1-qos0');
  const mqttAlias = row('mqtt-5.0-qos0-alias');
  const amqpPlain = row('amqp-no-confirms');
  const kafka100 = row('kafka-batch-100');
  const rest = row('pubsub-rest');
  const grpcLater = row('pubsub-grpc-later');
  const size = o.sample.payloadSizes[0]!;

  const overheadCells: Record<System, Cell> = {
    MQTT: mqtt0
      ? { text: `${size}-byte payload: PUBLISH ${mqtt311?.publisher} B (3.1.1) / ${mqtt0.publisher} B (5.0)${mqttAlias ? `, ${mqttAlias.publisher} B with a Topic Alias` : ''}; fixed header 2 B`, provenance: 'measured' }
      : { text: 'not measured', provenance: 'not measured' },
    Kafka: { text: `Produce request ${report.overhead.kafka.find((k) => k.batchSize === 1 && k.payloadBytes === size)!.produceRequest} B for 1 message; ${kafka100?.total} B/message both sides at batch 100 (61-byte batch header + ${report.overhead.kafka.find((k) => k.batchSize === 1 && k.payloadBytes === size)!.firstRecord - size} B per record)`, provenance: 'computed' },
    RabbitMQ:
      o.amqp.provenance === 'not measured'
        ? { text: `not measured (${o.amqp.reason}); spec: 8-byte frame overhead, 3 frames per message`, provenance: 'not measured' }
        : { text: `basic.publish + header + body = ${amqpPlain?.publisher} B; deliver + ack ${amqpPlain?.subscriber} B (8 B per frame, 3 frames per message)`, provenance: 'measured' },
    'Cloud Pub/Sub': { text: `REST ${rest?.publisher} B per publish (request + response, ${report.overhead.pubsub[0]!.rest.tokenBytes}-B token); gRPC ${grpcLater?.publisher} B on a warm connection`, provenance: 'computed' },
  };

  const lat = (m: LiveMeasurement | undefined) => (m ? `p50 ${m.latency.p50} ms, p99 ${m.latency.p99} ms` : undefined);
  const thr = (m: LiveMeasurement | undefined) => (m ? `${fmt(m.throughput.perSecond)} msg/s` : undefined);
  const mqttServers = [...new Set(report.live.measurements.filter((m) => m.system === 'MQTT').map((m) => m.server))];
  const mqttLat = mqttServers.map((s) => `${short(s)}: ${lat(report.live.measurements.find((m) => m.server === s && m.mode === 'QoS 1'))} (QoS 1)`).join('; ');
  const mqttThr = mqttServers.map((s) => `${short(s)}: ${thr(report.live.measurements.find((m) => m.server === s && m.mode === 'QoS 0'))} QoS 0, ${thr(report.live.measurements.find((m) => m.server === s && m.mode === 'QoS 1'))} QoS 1`).join('; ');
  const amqpLat = bestLive(report.live, 'AMQP 0-9-1', 'publisher confirms');
  const amqpThrPlain = bestLive(report.live, 'AMQP 0-9-1', 'no confirms');
  const loopback = ' — one host, loopback, one client each';

  const shared = report.scalability.distributions.find((d) => d.system === 'MQTT 5');
  const competing = report.scalability.distributions.find((d) => d.system === 'AMQP 0-9-1');
  const setupMqtt = o.setup.find((s) => s.id === 'mqtt-5.0-connect-publisher');
  const setupAmqp = o.setup.find((s) => s.id === 'amqp-connection-publisher');
  const startup = (match: string) => report.environment.servers.find((s) => s.server.includes(match));

  return [
    { dimension: 'Protocol type', cells: { MQTT: cited('Binary pub/sub (OASIS standard)'), Kafka: cited('Binary log-based streaming (custom protocol)'), RabbitMQ: cited('AMQP 0-9-1, also STOMP, MQTT adapters'), 'Cloud Pub/Sub': cited('HTTP/gRPC (Google proprietary)') } },
    { dimension: 'Protocol overhead', cells: overheadCells },
    {
      dimension: 'Throughput',
      cells: {
        MQTT: mqttServers.length ? { text: mqttThr + loopback, provenance: 'measured' } : cited('10K–100K+ msg/s per broker'),
        Kafka: cited('821K msg/s (1 producer) – 2.0M msg/s (3 producers, 3 machines); 605 MB/s peak', `${CITATIONS.kafkaLinkedIn.id}, ${CITATIONS.kafkaConfluent.id}`),
        RabbitMQ: amqpThrPlain ? { text: `${thr(amqpThrPlain)} no confirms, ${thr(amqpLat)} with confirms (window 100)${loopback}`, provenance: 'measured' } : { text: 'not measured (RabbitMQ not here); seed: 10K–50K msg/s per node', provenance: 'not measured', source: 'seed' },
        'Cloud Pub/Sub': cited('scales with the service, regional quotas; ~100K+ msg/s per subscription', `${CITATIONS.pubsubPricing.id}, seed`),
      },
    },
    {
      dimension: 'Latency',
      cells: {
        MQTT: mqttServers.length ? { text: mqttLat + loopback, provenance: 'measured' } : cited('sub-millisecond typical'),
        Kafka: cited('end-to-end 2 ms p50 / 3 ms p99 (2014); p99 5 ms at 200 MB/s', `${CITATIONS.kafkaLinkedIn.id}, ${CITATIONS.kafkaConfluent.id}`),
        RabbitMQ: amqpLat ? { text: `${lat(amqpLat)} (confirms)${loopback}`, provenance: 'measured' } : { text: 'not measured (RabbitMQ not here); seed: sub-ms to low ms', provenance: 'not measured', source: 'seed' },
        'Cloud Pub/Sub': cited('10–100 ms typical (network + HTTP)'),
      },
    },
    {
      dimension: 'Delivery guarantees',
      cells: {
        MQTT: mqtt0 ? { text: `QoS 0/1/2 per message: ${['0', '1', '2'].map((q) => `${report.delivery.modes.find((d) => d.system === 'MQTT' && d.mode === `QoS ${q}`)?.bytes ?? '?'} B`).join(' / ')} for both hops`, provenance: 'measured' } : cited('QoS 0/1/2 per message'),
        Kafka: cited('at-least-once by default; exactly-once with idempotence + transactions'),
        RabbitMQ: report.delivery.modes.some((d) => d.system === 'RabbitMQ' && d.provenance === 'measured') ? { text: `at-most-once or at-least-once (confirms: +${row('amqp-confirms')!.publisher! - amqpPlain!.publisher!} B per message); no exactly-once`, provenance: 'measured' } : cited('at-most-once or at-least-once (acks + persistent queues)'),
        'Cloud Pub/Sub': cited('at-least-once by default; exactly-once delivery as a subscription option'),
      },
    },
    { dimension: 'Message persistence / replay', cells: { MQTT: cited('retained: last message per topic; no log, no replay'), Kafka: cited('commit log with retention; replay by offset'), RabbitMQ: cited('queues hold unacked messages; no replay after ack'), 'Cloud Pub/Sub': cited('retained until acked (7 days default); seek to time/snapshot') } },
    { dimension: 'Ordering', cells: { MQTT: cited('per topic from one publisher (single broker)'), Kafka: cited('per partition'), RabbitMQ: cited('per queue FIFO (caveats with competing consumers)'), 'Cloud Pub/Sub': cited('per ordering key (optional)') } },
    {
      dimension: 'Consumer groups / load balancing',
      cells: {
        MQTT: shared ? { text: `shared subscriptions: ${shared.messages} messages over 3 members → ${shared.perMember.join('/')} (${short(shared.server)})`, provenance: 'measured' } : cited('shared subscriptions (MQTT 5)'),
        Kafka: cited('consumer groups with partition assignment and rebalancing'),
        RabbitMQ: competing ? { text: `competing consumers: ${competing.messages} messages over 3 consumers → ${competing.perMember.join('/')}`, provenance: 'measured' } : { text: 'not measured (RabbitMQ not here); competing consumers on a queue', provenance: 'not measured', source: 'seed' },
        'Cloud Pub/Sub': cited('many subscribers per subscription, automatic balancing'),
      },
    },
    {
      dimension: 'Connection model',
      cells: {
        MQTT: setupMqtt ? { text: `long-lived TCP; CONNECT/CONNACK ${setupMqtt.bytes} B (MQTT 5), keep-alive PINGREQ/PINGRESP 4 B`, provenance: 'measured' } : cited('long-lived TCP, keepalive'),
        Kafka: cited('long-lived TCP to each partition leader; consumer poll loop'),
        RabbitMQ: setupAmqp ? { text: `long-lived TCP, channels; connection setup ${setupAmqp.bytes} B (7 frames), heartbeat frame 8 B`, provenance: 'measured' } : { text: 'not measured (RabbitMQ not here); long-lived TCP + channels', provenance: 'not measured', source: 'seed' },
        'Cloud Pub/Sub': { text: `HTTPS per request or gRPC streams; HTTP/2 setup ${o.setup.find((s) => s.system === 'Cloud Pub/Sub')?.bytes} B before TLS`, provenance: 'computed' },
      },
    },
    { dimension: 'Topic/queue model', cells: { MQTT: cited('hierarchical topics, wildcards + and #, no pre-creation'), Kafka: cited('named topics with partitions, created up front'), RabbitMQ: cited('exchanges + queues + bindings'), 'Cloud Pub/Sub': cited('named topics + subscriptions, created up front') } },
    { dimension: 'Typical deployment', cells: { MQTT: cited('edge/IoT: thousands to millions of devices'), Kafka: cited('data-center streaming backbone'), RabbitMQ: cited('enterprise integration, task queues'), 'Cloud Pub/Sub': cited('cloud-native, fully managed') } },
    {
      dimension: 'Deployment complexity',
      cells: {
        MQTT: startup('mqttlab') || startup('Mosquitto') ? { text: ['mqttlab', 'Mosquitto'].map((n) => startup(n)).filter(Boolean).map((s) => `${short(s!.server)} ready in ${s!.startupMs} ms`).join('; ') + '; single binary', provenance: 'measured' } : cited('low: single binary'),
        Kafka: cited('high: multi-broker cluster, KRaft/ZooKeeper, topic management'),
        RabbitMQ: startup('RabbitMQ') ? { text: `Erlang VM + epmd + cookie; a node ready in ${fmt(startup('RabbitMQ')!.startupMs)} ms here`, provenance: 'measured' } : { text: 'not measured (RabbitMQ not here); medium: Erlang runtime, topology', provenance: 'not measured', source: 'seed' },
        'Cloud Pub/Sub': cited('none (managed): API calls'),
      },
    },
    { dimension: 'Best fit', cells: Object.fromEntries(SYSTEMS.map((s) => [s, cited(report.useCases.scenarios.find((x) => x.best.includes(s))?.scenario ?? '')])) as Record<System, Cell> },
  ];
}

function short(server: string): string {
  return server.replace('mqttlab embedded broker', 'embedded').replace(/^broker at /, '');
}

/** The seed's key question, answered with this run's numbers. */
export function keyQuestion(report: ComparisonReport): { question: string; answer: string[] } {
  const f = report.useCases.fleet;
  const fig = (id: OverheadRowId) => f.figures.find((x) => x.id === id);
  const q1 = fig('mqtt-5.0-qos1');
  const alias = fig('mqtt-5.0-qos0-alias');
  const amqpC = fig('amqp-confirms');
  const k1 = fig('kafka-batch-1');
  const k100 = fig('kafka-batch-100');
  const rest = fig('pubsub-rest');
  const kb = (b: number | null | undefined) => (b === null || b === undefined ? 'n/a' : `${(b / 1024).toFixed(b < 10 * 1024 ? 1 : 0)} KiB`);
  const mbs = (b: number | null | undefined) => (b === null || b === undefined ? 'n/a' : `${(b / 1e6).toFixed(2)} MB/s`);
  const embeddedLat = report.live.measurements.find((m) => m.system === 'MQTT' && m.mode === 'QoS 1');
  return {
    question: 'If you were designing an IoT fleet management system with 100K devices sending telemetry and a cloud backend doing analytics, which combination of protocols would you use and why?',
    answer: [
      `MQTT from the devices to a broker cluster, and Kafka (or Pub/Sub when managed is preferred) behind it for analytics. With this run's bytes, ${fmt(f.devices)} devices sending a ${f.payloadBytes}-byte reading every ${f.intervalSeconds} s (${fmt(f.messagesPerSecond)} msg/s):`,
      `  MQTT 5 QoS 1 costs ${q1?.bytesPerMessage ?? 'n/a'} B per reading on the device link (${kb(q1?.perDevicePerDay)}/device/day, ${mbs(q1?.fleetBytesPerSecond)} fleet ingress)${alias?.bytesPerMessage ? `, ${alias.bytesPerMessage} B at QoS 0 with a Topic Alias` : ''};`,
      `  AMQP with confirms ${amqpC?.bytesPerMessage ?? 'not measured'}${amqpC?.bytesPerMessage ? ' B' : ''}, Kafka producing one record per request ${k1?.bytesPerMessage} B, Pub/Sub REST ${rest?.bytesPerMessage} B (plus TLS and auth on every request).`,
      `  Behind the broker, a bridge that batches 100 readings into one Kafka Produce pays ${k100?.bytesPerMessage} B per reading (${mbs(k100?.fleetBytesPerSecond)}), and Kafka gives the analytics side partitions, replay and consumer groups.`,
      `Why not one protocol: devices need tiny packets, sessions, LWT/retained presence and per-message QoS (MQTT, ${embeddedLat ? `p50 ${embeddedLat.latency.p50} ms here` : 'sub-ms'}); analytics needs a replayable, partitioned log (Kafka); RabbitMQ fits the command/task side (routing, per-message acks), not 100K device sockets.`,
    ],
  };
}
