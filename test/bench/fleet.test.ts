import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../src/util/index.js';
import { describeEachBroker, startFromConfig, type BrokerKind, type TestBroker } from '../helpers/brokers.js';

const cli = fileURLToPath(new URL('../../src/cli/index.js', import.meta.url));

// 20 devices × one message per 100 ms for 1 s: each device sends 10, so 200 messages on the wire in all (the
// schedule fixes the count, not the clock: sends that fall due late are still sent).
const SMALL_FLEET = ['--devices', '20', '--interval', '100', '--duration', '1', '--rounds', '1', '--json'];

interface FleetRound {
  metrics: Record<string, number | null>;
  errors: Record<string, number>;
}

/** Runs `mqttlab bench fleet ...args` without blocking this process (a broker may run in it) and parses its one round. */
function fleet(...args: string[]): Promise<FleetRound> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'bench', 'fleet', ...SMALL_FLEET, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`bench fleet exited with ${code}: ${stderr}`));
      resolve(JSON.parse(stdout).rounds[0] as FleetRound);
    });
  });
}

describe('mqttlab bench fleet: messages counted on the wire', () => {
  test('embedded, QoS 1, 2 subscribers: every one of the 200 sends reaches both, none skipped', async () => {
    const round = await fleet('--broker', 'embedded', '--qos', '1', '--subscribers', '2');
    const m = round.metrics;
    assert.deepEqual(round.errors, {});
    assert.equal(m.connected, 20);
    assert.equal(m.failed, 0);
    assert.equal(m.sent, 200);
    assert.equal(m.skipped, 0);
    assert.equal(m.received, 400);
    assert.equal(m.lost, 0);
    assert.ok(m.p50Ms! > 0 && m.p99Ms! >= m.p50Ms!, `p50 ${m.p50Ms}, p99 ${m.p99Ms}`);
    assert.equal(typeof m.brokerCpuPercent, 'number');
    assert.equal(typeof m.brokerRssMb, 'number');
  });

  test('relay, QoS 2, one $share group of 3: each message reaches exactly one member', async () => {
    const round = await fleet('--broker', 'relay', '--qos', '2', '--subscribers', '3', '--share');
    const m = round.metrics;
    assert.deepEqual(round.errors, {});
    assert.equal(m.sent, 200);
    assert.equal(m.received, 200);
    assert.equal(m.lost, 0);
  });

  test('relay, QoS 0, 2 subscribers: the relay forwards each message to both', async () => {
    const round = await fleet('--broker', 'relay', '--subscribers', '2');
    assert.equal(round.metrics.sent, 200);
    assert.equal(round.metrics.received, 400);
    assert.equal(round.metrics.lost, 0);
  });
});

// A broker that may not deliver device 0's topic (an ACL deny rule): its 10 messages are sent and never
// arrive, and the bench must say so — lost counts what the devices wrote against what the subscribers read.
describeEachBroker('mqttlab bench fleet: a message that never arrives is counted lost', (kind: BrokerKind) => {
  let b: TestBroker;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqttlab-fleet-acl-'));
    const aclFile = join(dir, 'acl');
    writeFileSync(aclFile, 'topic readwrite fleet/#\ntopic deny fleet/+/0/temp\n');
    // Mosquitto started as root reads its files as the mosquitto user.
    chmodSync(dir, 0o755);
    chmodSync(aclFile, 0o644);
    const port = await freePort();
    b = await startFromConfig(kind, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', `acl_file ${aclFile}`]);
  });
  after(async () => {
    await b?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('QoS 1: 200 sent, 190 received, 10 lost', async () => {
    const round = await fleet('--broker', b.url, '--qos', '1');
    assert.equal(round.metrics.sent, 200);
    assert.equal(round.metrics.received, 190);
    assert.equal(round.metrics.lost, 10);
  });
});
