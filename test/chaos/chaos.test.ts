import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { CHAOS_DEFAULTS, runChaos, type ChaosReport, type QosOutcome } from '../../src/chaos/index.js';
import { waitForPort } from '../../src/util/index.js';
import { describeEachBroker, startBroker, type TestBroker } from '../helpers/brokers.js';
import { createVethLink, netnsUnavailable, type VethLink } from '../helpers/netns.js';

const CLI = fileURLToPath(new URL('../../src/cli/index.js', import.meta.url));

const outcome = (report: ChaosReport, qos: number): QosOutcome => report.outcomes.find((o) => o.qos === qos)!;
const summary = (report: ChaosReport) =>
  JSON.stringify({
    outcomes: report.outcomes,
    kills: report.kills,
    cuts: report.cuts,
    faultsMs: report.faultsMs,
    errors: report.brokerErrors,
  });

describe('mqttlab chaos: the QoS contracts through broken links and broker crashes', () => {
  test('--data-dir: 2,000 QoS 2 messages, cuts every 50 packets, 3 SIGKILLs: none lost or duplicated; QoS 1: none acknowledged lost', {
    timeout: 240_000,
  }, async () => {
    const report = await runChaos({
      ...CHAOS_DEFAULTS,
      broker: 'embedded',
      qos: [1, 2],
      messages: 2000,
      faults: { cutEvery: 50 },
      killBroker: 3,
      timeoutMs: 200_000,
    });
    const [q1, q2] = [outcome(report, 1), outcome(report, 2)];
    assert.equal(report.kills.length, 3, summary(report));
    assert.ok(report.cuts >= 100, `the links broke again and again (${report.cuts} cuts)`);
    assert.deepEqual(
      { acknowledged: q2.acknowledged, received: q2.received, lost: q2.lost, duplicated: q2.duplicated },
      { acknowledged: 2000, received: 2000, lost: 0, duplicated: 0 },
      summary(report),
    );
    assert.ok(q2.dupFlags > 0, 'QoS 2 PUBLISHes were resent with DUP=1 and still delivered once');
    assert.deepEqual({ acknowledged: q1.acknowledged, lost: q1.lost }, { acknowledged: 2000, lost: 0 }, summary(report));
    assert.ok(q1.duplicated > 0, `QoS 1 delivered duplicates, as at-least-once allows (${q1.duplicated})`);
    assert.deepEqual(
      report.outcomes.map((o) => o.verdict),
      ['pass', 'pass'],
    );
  });

  describeEachBroker('through cuts only, by URL', (kind) => {
    let b: TestBroker;
    before(async () => {
      b = await startBroker(kind);
    });
    after(() => b.close());

    test('QoS 0 never duplicates, QoS 1 loses nothing acknowledged, QoS 2 delivers exactly once', { timeout: 120_000 }, async () => {
      const report = await runChaos({ ...CHAOS_DEFAULTS, broker: b.url, messages: 300, faults: { cutEvery: 40 }, timeoutMs: 90_000 });
      assert.ok(report.cuts > 10, `links were cut (${report.cuts})`);
      assert.equal(outcome(report, 0).duplicated, 0, summary(report));
      assert.equal(outcome(report, 1).lost, 0, summary(report));
      assert.deepEqual([outcome(report, 2).lost, outcome(report, 2).duplicated, outcome(report, 2).received], [0, 0, 300], summary(report));
    });
  });
});

const netns = netnsUnavailable();
/** 3% loss and 10 ± 5 ms delay each way (NETNS_QDISC replaces it, e.g. with tbf where netem is missing, to try the rest). */
const QDISC = process.env.NETNS_QDISC?.split(' ') ?? ['netem', 'loss', '3%', 'delay', '10ms', '5ms'];
describe('chaos over a veth pair with tc netem loss and delay (real TCP retransmission)', {
  skip: process.env.NETNS_QDISC ? false : (netns ?? false),
}, () => {
  let link: VethLink;
  let dataDir: string;
  let broker: ReturnType<typeof spawn>;
  let url: string;
  before(async () => {
    link = createVethLink(QDISC);
    dataDir = mkdtempSync(join(tmpdir(), 'mqttlab-netns-'));
    const port = 1883;
    broker = spawn(
      link.exec[0]!,
      [
        ...link.exec.slice(1),
        process.execPath,
        CLI,
        'broker',
        '-H',
        link.namespaceAddress,
        '-p',
        String(port),
        '-w',
        '0',
        '--sys-interval',
        '0',
        '--data-dir',
        dataDir,
      ],
      { stdio: 'ignore' },
    );
    await waitForPort(port, 15_000, () => broker.exitCode !== null, link.namespaceAddress);
    url = `mqtt://${link.namespaceAddress}:${port}`;
  });
  after(async () => {
    if (broker && broker.exitCode === null) {
      const exited = new Promise((r) => broker.once('exit', r));
      broker.kill('SIGTERM');
      await exited;
    }
    link?.close();
    rmSync(dataDir, { recursive: true, force: true });
    assert.equal(spawnSync('ip', ['netns', 'list']).stdout.toString().includes(link.namespace), false, 'the namespace is gone');
  });

  test(`QoS 1 and 2 through ${QDISC.join(' ')} each way, links also cut every 50 packets`, { timeout: 180_000 }, async () => {
    const report = await runChaos({
      ...CHAOS_DEFAULTS,
      broker: url,
      qos: [1, 2],
      messages: 500,
      faults: { cutEvery: 50 },
      timeoutMs: 150_000,
    });
    assert.deepEqual([outcome(report, 1).acknowledged, outcome(report, 1).lost], [500, 0], summary(report));
    assert.deepEqual([outcome(report, 2).received, outcome(report, 2).lost, outcome(report, 2).duplicated], [500, 0, 0], summary(report));
  });
});

describe('mqttlab chaos (CLI)', () => {
  test('--json prints the report; --kill-broker with a URL is refused in one line', { timeout: 60_000 }, async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [CLI, 'chaos', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.once('exit', (code) => resolve({ code, stdout, stderr }));
      });
    const ok = await run(['--qos', '2', '--messages', '100', '--cut-every', '30', '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    const report = JSON.parse(ok.stdout) as ChaosReport;
    assert.deepEqual(
      report.outcomes.map((o) => [o.qos, o.received, o.lost, o.duplicated, o.verdict]),
      [[2, 100, 0, 0, 'pass']],
    );

    const refused = await run(['--broker', 'mqtt://127.0.0.1:1', '--kill-broker', '1']);
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    assert.match(refused.stderr, /--kill-broker needs --broker embedded or mosquitto/);
  });
});
