import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { findNatsServer } from '../../src/util/index.js';

const cli = fileURLToPath(new URL('../../src/cli/index.js', import.meta.url));

/** Runs `mqttlab bench ...args` and returns exit status, stdout and stderr. */
function bench(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, 'bench', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('mqttlab bench: argument errors are one line on stderr, nothing on stdout', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['unknown scenario', ['fan-sideways'], /unknown scenario "fan-sideways"/],
    ['QoS 3', ['fan-in', '--qos', '3'], /--qos must be 0, 1 or 2/],
    ['not a number', ['fan-in', '--count', 'many'], /"many" is not a non-negative integer/],
    ['zero publishers', ['fan-in', '--publishers', '0'], /--publishers must be a whole number from 1/],
    ['compare with 2 rounds', ['fan-in', '--compare', 'embedded,mosquitto', '--rounds', '2'], /at least 3 for ratios of medians/],
    ['compare with one broker', ['fan-in', '--compare', 'embedded'], /give two to 4 brokers/],
    [
      'compare with five brokers',
      ['fleet', '--compare', 'embedded,mosquitto,relay,mqtt://[::1]:1,mqtt://[::1]:2'],
      /give two to 4 brokers/,
    ],
    ['fleet without devices', ['fleet', '--devices', '0'], /--devices must be a whole number from 1/],
    ['fleet payload too small', ['fleet', '--payload', '7'], /fleet needs --payload of at least 8 bytes/],
    ['a broker off loopback', ['fan-in', '--broker', 'mqtt://10.1.2.3:1883'], /loopback only/],
    ['a broker that is not a URL', ['fan-in', '--broker', 'rabbit'], /not embedded, mosquitto, relay, cluster or an mqtt:\/\/ URL/],
    ['latency payload too small', ['latency', '--payload', '4'], /at least 8 bytes/],
  ];
  for (const [title, args, expected] of cases) {
    test(title, () => {
      const r = bench(...args);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, expected);
    });
  }
});

describe('mqttlab bench: tiny real runs against the embedded broker (counts, not timings)', () => {
  test('fan-in, 2 publishers, 500 messages at QoS 1: --json alone on stdout, received == sent', () => {
    const r = bench('fan-in', '--broker', 'embedded', '--publishers', '2', '--count', '500', '--qos', '1', '--rounds', '1', '--json');
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.settings.scenario, 'fan-in');
    assert.equal(report.rounds.length, 1);
    const m = report.rounds[0].metrics;
    assert.equal(m.sent, 500);
    assert.equal(m.received, 500);
    assert.equal(m.lost, 0);
    assert.deepEqual(report.rounds[0].errors, {});
    assert.equal(report.summary.embedded.received.median, 500);
    assert.equal(typeof m.brokerCpuPercent, 'number');
    assert.equal(typeof m.generatorCpuPercent, 'number');
  });

  test('fan-out, 3 subscribers, 300 messages at QoS 2: every subscriber gets every message once', () => {
    const r = bench('fan-out', '--subscribers', '3', '--count', '300', '--qos', '2', '--rounds', '1', '--json');
    assert.equal(r.status, 0, r.stderr);
    const m = JSON.parse(r.stdout).rounds[0].metrics;
    assert.equal(m.sent, 300);
    assert.equal(m.received, 900);
    assert.equal(m.lost, 0);
  });

  test('connections: 50 idle clients held 1 s, with the broker memory per connection', () => {
    const r = bench('connections', '--clients', '50', '--hold', '1', '--rounds', '1', '--json');
    assert.equal(r.status, 0, r.stderr);
    const m = JSON.parse(r.stdout).rounds[0].metrics;
    assert.equal(m.connected, 50);
    assert.equal(m.failed, 0);
    assert.equal(m.heldOpen, 50);
    assert.equal(typeof m.kbPerConnection, 'number');
  });
});

describe('mqttlab bench --broker cluster: tiny real runs on 3 nodes and a nats-server (counts, not timings)', {
  skip: findNatsServer() ? false : 'nats-server is not installed',
}, () => {
  test('connections: 300 clients over the 3 nodes, all connected and held, memory summed over the nodes', () => {
    const r = bench('connections', '--broker', 'cluster', '--clients', '300', '--hold', '1', '--rounds', '1', '--json');
    assert.equal(r.status, 0, r.stderr);
    const m = JSON.parse(r.stdout).rounds[0].metrics;
    assert.equal(m.connected, 300);
    assert.equal(m.failed, 0);
    assert.equal(m.heldOpen, 300);
    assert.ok(m.rssAfterMb > m.rssBeforeMb, JSON.stringify(m));
  });

  test('fan-in across nodes (publishers on node 1, subscriber on node 2), 400 messages at QoS 1: received == sent', () => {
    const r = bench('fan-in', '--broker', 'cluster', '--publishers', '2', '--count', '400', '--qos', '1', '--rounds', '1', '--json');
    assert.equal(r.status, 0, r.stderr);
    const m = JSON.parse(r.stdout).rounds[0].metrics;
    assert.equal(m.sent, 400);
    assert.equal(m.received, 400);
    assert.equal(m.lost, 0);
  });
});
