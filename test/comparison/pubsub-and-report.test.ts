import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import {
  generateComparisonReport,
  openComparison,
  renderHtml,
  renderMarkdown,
  renderText,
  type ComparisonReport,
} from '../../src/comparison/index.js';
import {
  encodePublishRequest,
  grpcFrame,
  measurePubsubGrpcPublish,
  pubsubRestPublish,
  pubsubTopicName,
} from '../../src/comparison/pubsub-publish.js';
import { samplePayload } from '../../src/comparison/model.js';

test('Pub/Sub REST publish body: {"messages":[{"data":"<24 base64 chars>"}]} = 22 + 24 + 4 = 50 bytes', () => {
  const rest = pubsubRestPublish(samplePayload(16), { tokenBytes: 256 });
  assert.equal(rest.request.bodyBytes, 50);
  assert.match(rest.request.text, /^POST \/v1\/projects\/mqttlab-demo\/topics\/sensors\.temperature\.room1:publish HTTP\/1\.1\r\n/);
  // Every REST request carries the whole token: one more token byte, one more request byte.
  assert.equal(pubsubRestPublish(samplePayload(16), { tokenBytes: 257 }).request.bytes, rest.request.bytes + 1);
});

test('Pub/Sub gRPC Publish: protobuf 2 + 54 (topic) + 2 + 2 + 16 = 76 bytes, DATA frame 9 + 5 + 76 = 90', async () => {
  assert.equal(pubsubTopicName().length, 54);
  const proto = encodePublishRequest(pubsubTopicName(), [samplePayload(16)]);
  assert.equal(proto.length, 76);
  assert.equal(grpcFrame(proto).length, 81);
  const grpc = await measurePubsubGrpcPublish(samplePayload(16));
  assert.deepEqual(
    grpc.first.frames.filter((f) => f.direction === '→').map((f) => f.type),
    ['HEADERS', 'DATA'],
  );
  assert.equal(grpc.first.frames.find((f) => f.type === 'DATA' && f.direction === '→')!.bytes, 90);
  // HPACK: the second call on the connection sends smaller request headers than the first.
  assert.ok(grpc.later.frames[0]!.bytes < grpc.first.frames[0]!.bytes);
  // Connection preface (24) + empty SETTINGS (9) from the client is where every HTTP/2 connection starts.
  assert.equal(grpc.setup.frames[0]!.type, 'preface');
});

// The report without RabbitMQ (as on a machine where rabbitmq-server is not installed): AMQP is "not measured".
let report: ComparisonReport;
let close: () => Promise<void>;
before(async () => {
  const opened = await openComparison({ rabbitmq: false, messages: 200, latencySamples: 20 });
  close = opened.close;
  report = await generateComparisonReport(opened.ctx, { command: 'test' });
});
after(() => close?.());

test('without RabbitMQ the report marks AMQP "not measured" in the byte table, the dimension table and every rendering', () => {
  const amqpRows = report.overhead.rows.filter((r) => r.system === 'RabbitMQ');
  assert.deepEqual(
    amqpRows.map((r) => r.provenance),
    ['not measured'],
  );
  assert.ok(!('publishes' in report.overhead.amqp));
  const throughput = report.dimensions.find((d) => d.dimension === 'Throughput')!;
  assert.equal(throughput.cells.RabbitMQ.provenance, 'not measured');
  assert.match(throughput.cells.RabbitMQ.text, /^not measured/);
  assert.equal(throughput.cells.MQTT.provenance, 'measured');
  assert.equal(throughput.cells.Kafka.provenance, 'cited');
  assert.ok(report.live.measurements.every((m) => m.system === 'MQTT'));
  assert.match(renderText(report), /RabbitMQ\s+– AMQP 0-9-1|– not measured/);
  assert.match(renderMarkdown(report), /\| RabbitMQ \| AMQP 0-9-1 \| – not measured \|/);
  assert.match(renderHtml(report), /not measured/);
});

test("the report: measured MQTT bytes agree with the spec, Kafka/Pub/Sub are computed, the key question uses the run's numbers", () => {
  assert.ok(report.checks.length > 10 && report.checks.every((c) => c.ok), JSON.stringify(report.checks.filter((c) => !c.ok)));
  assert.ok(report.overhead.rows.filter((r) => r.system === 'MQTT').every((r) => r.provenance === 'measured'));
  assert.ok(
    report.overhead.rows.filter((r) => r.system === 'Kafka' || r.system === 'Cloud Pub/Sub').every((r) => r.provenance === 'computed'),
  );
  assert.equal(report.dimensions.length, 13);
  const q1 = report.overhead.rows.find((r) => r.variant === 'MQTT 5.0 QoS 1')!.bySize[0]!.publisher;
  assert.equal(q1, 52);
  assert.ok(report.keyQuestion.answer.join(' ').includes(`${q1} B per reading`));
  assert.ok(JSON.parse(JSON.stringify(report)).overhead.kafka.length === 6);
});

test('the HTML page is self-contained: inline SVG bar charts, no scripts, no external resources', () => {
  const html = renderHtml(report);
  assert.ok((html.match(/<svg /g) ?? []).length >= 4);
  assert.doesNotMatch(html, /<script|<link|src="http|@import/);
  assert.match(html, /<rect x="\d+" y="\d+" width="[\d.]+"/);
});

test('`mqttlab compare --no-rabbitmq --json` prints the report as JSON and exits 0', () => {
  const cli = fileURLToPath(new URL('../../src/cli/index.js', import.meta.url));
  const r = spawnSync(process.execPath, [cli, 'compare', '--no-rabbitmq', '--json', '--messages', '100', '--latency-samples', '10'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const json = JSON.parse(r.stdout) as ComparisonReport;
  assert.equal(json.command, 'mqttlab compare --no-rabbitmq --json --messages 100 --latency-samples 10');
  assert.equal(json.overhead.rows.find((x) => x.system === 'RabbitMQ')!.provenance, 'not measured');
});

test('exercise runner entry: runProtocolComparison measures the exercise broker and reports checks that hold', async () => {
  const { ExerciseContext } = await import('../../src/exercises/index.js');
  const { runProtocolComparison } = await import('../../src/exercises/protocol-comparison.js');
  const { createBroker } = await import('../../src/broker/index.js');
  const broker = await createBroker({ host: '127.0.0.1', port: 0, wsPort: false, sysInterval: 0 });
  const ctx = new ExerciseContext(broker.url!);
  try {
    const r = await runProtocolComparison(ctx);
    assert.equal(r.exercise, 'protocol-comparison');
    assert.ok(r.checks.length > 0 && r.checks.every((c) => c.ok), JSON.stringify(r.checks.filter((c) => !c.ok)));
    assert.equal(r.data.overhead.mqtt[0]!.broker, 'exercise broker');
    assert.ok(r.sections.some((s) => s.title.startsWith('Bytes per message')));
    assert.match(r.keyQuestion.answer[0]!, /100,000 devices/);
  } finally {
    await ctx.closeAll();
    await broker.close();
  }
});
