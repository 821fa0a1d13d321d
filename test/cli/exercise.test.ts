import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mosquittoPath, startBroker, type TestBroker } from '../helpers/brokers.js';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../../src/util/index.js';

// RabbitMQ counts as not installed here (exercise 5 then marks AMQP "not measured"): these tests are about
// how the runner reports, and a private RabbitMQ node would add seconds to each run.
const noRabbitMq = { RABBITMQ_SERVER_SCRIPT: '/nonexistent' };

describe('mqttlab exercise', { concurrency: true }, () => {
  // One Mosquitto per run: exercise 5 uses fixed client ids (their length is part of the bytes it counts).
  let mosquitto: TestBroker;
  let other: TestBroker;
  before(async () => {
    if (mosquittoPath) [mosquitto, other] = await Promise.all([startBroker('mosquitto'), startBroker('mosquitto')]);
  });
  after(() => Promise.all([mosquitto?.close(), other?.close()]));

  test('all, on Mosquitto: exit 0 listing the Receive Maximum deviations with their statements; --strict exits 1', {
    skip: mosquittoPath ? false : 'mosquitto is not installed',
  }, async () => {
    const [plain, strict] = await Promise.all([
      runCli(['exercise', 'all', '--broker', mosquitto.url], { env: noRabbitMq, timeoutMs: 300_000 }),
      // --strict on the one exercise that deviates on Mosquitto: the same verdict, half the work of a second 'all'.
      runCli(['exercise', 'mqtt5-features', '--broker', other.url, '--strict'], { env: noRabbitMq, timeoutMs: 300_000 }),
    ]);
    assert.equal(plain.status, 0, plain.stderr);
    assert.equal(plain.stderr, '');
    // Every heading names the broker from its $SYS/broker/version.
    const headings = plain.stdout.split('\n').filter((l) => l.startsWith('━━ Exercise'));
    assert.equal(headings.length, 5);
    for (const h of headings)
      assert.match(h, new RegExp(`\\(mosquitto version \\d+\\.\\d+\\.\\d+ at ${mosquitto.url.replaceAll('.', '\\.')}\\)$`));
    assert.match(
      plain.stdout,
      new RegExp(
        '⚠ deviation: the broker never had more than 2 unacknowledged PUBLISHes out to it ' +
          '\\[MQTT-3\\.3\\.4-9\\], \\[MQTT-4\\.9\\.0-2\\]: max in flight \\d+',
      ),
    );
    // The same statements again on the flaky link: its resumes send far more than Receive Maximum 10.
    assert.match(
      plain.stdout,
      /⚠ deviation: Receive Maximum 10: never more PUBLISHes on a connection before a PUBCOMP \[MQTT-3\.3\.4-9\], \[MQTT-4\.9\.0-2\]/,
    );
    assert.match(plain.stdout, /deviated from the spec in 2 place\(s\)/);
    assert.match(plain.stdout, /All 5 exercise\(s\) ran: every expectation held, 2 deviation\(s\) of the broker listed above\.\n$/);

    assert.equal(strict.status, 1);
    assert.match(strict.stdout, /mqtt5-features: the broker never had more than 2 unacknowledged PUBLISHes out to it \[MQTT-3\.3\.4-9\]/);
    assert.equal(strict.stderr, 'mqttlab: 2 deviation(s) from the spec, and --strict counts them as failures\n');
  });

  test('a partial name suggests the exercise; one line, exit 1', async () => {
    const r = await runCli(['exercise', 'qos']);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'mqttlab: unknown exercise "qos": did you mean "qos-levels"? (mqttlab exercise --list shows all)\n');
  });

  test('--list names every exercise with what it shows', async () => {
    const r = await runCli(['exercise', '--list']);
    assert.equal(r.status, 0);
    assert.deepEqual(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/)[0]),
      ['basic-pubsub', 'qos-levels', 'retained-lastwill', 'mqtt5-features', 'protocol-comparison'],
    );
  });

  test('an unreachable broker is one line, and the password in its URL is not printed', async () => {
    const port = await freePort();
    const r = await runCli(['exercise', 'basic-pubsub', '--broker', `mqtt://alice:s3cret@127.0.0.1:${port}`]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^mqttlab: cannot connect to mqtt://\\*\\*\\*@127\\.0\\.0\\.1:${port}: connection refused`));
    assert.ok(!r.stderr.includes('s3cret') && !r.stderr.includes('alice'));
  });

  test('exercise 5 fits an 80-column terminal (tables stack), and --json keeps the tables whole', async () => {
    const [text, json] = await Promise.all([
      runCli(['exercise', 'protocol-comparison'], { env: { ...noRabbitMq, COLUMNS: '80' }, timeoutMs: 120_000 }),
      runCli(['exercise', 'protocol-comparison', '--json'], { env: noRabbitMq, timeoutMs: 120_000 }),
    ]);
    assert.equal(text.status, 0, text.stderr);
    const widest = Math.max(...text.stdout.split('\n').map((l) => [...l].length));
    assert.ok(widest <= 80, `widest line ${widest}`);
    assert.match(text.stdout, /^ {2}MQTT\n {4}variant: +MQTT 3\.1\.1 QoS 0$/m);
    const sections = (JSON.parse(json.stdout) as Array<{ sections: Array<{ lines: unknown[] }> }>)[0]!.sections;
    const tables = sections.flatMap((s) => s.lines).filter((l): l is { header: string[]; rows: string[][] } => typeof l === 'object');
    assert.ok(
      tables.some((t) => t.header.includes('16 B pub') && t.rows.length > 5),
      'the bytes table, whole',
    );
  });

  test('on the embedded broker the heading names it from its own version', async () => {
    const r = await runCli(['exercise', 'basic-pubsub']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^━━ Exercise 1 .* \(mqttlab \d+\.\d+\.\d+, embedded, at mqtt:\/\/127\.0\.0\.1:\d+\)$/m);
    assert.match(r.stdout, /All 1 exercise\(s\) ran: every expectation held\.\n$/);
  });
});
