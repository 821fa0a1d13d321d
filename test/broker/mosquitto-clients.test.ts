import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { describeEachBroker, startBroker, type TestBroker } from '../helpers/brokers.js';

// Debian's command line clients (package mosquitto-clients) against each broker: an independent,
// widely deployed client implementation of MQTT 5 and 3.1.1.

/** The path of a client binary on PATH or in /usr/bin, or undefined when it is not installed. */
function findBinary(name: string): string | undefined {
  for (const candidate of [name, `/usr/bin/${name}`]) {
    if (!spawnSync(candidate, ['--help'], { encoding: 'utf8' }).error) return candidate;
  }
  return undefined;
}
const MOSQUITTO_PUB = findBinary('mosquitto_pub');
const MOSQUITTO_SUB = findBinary('mosquitto_sub');
// mosquitto_sub's stdout is block-buffered into a pipe; `stdbuf -oL` (coreutils) makes it line-buffered,
// so its debug line for the SUBACK is seen before anything is published.
const STDBUF = findBinary('stdbuf');
const missing =
  !MOSQUITTO_PUB || !MOSQUITTO_SUB || !STDBUF
    ? 'mosquitto_pub/mosquitto_sub (mosquitto-clients) or stdbuf (coreutils) not installed'
    : false;

/** Every process is killed after this long, whatever its own timeout (-W) says. */
const KILL_AFTER_MS = 10_000;
/** mosquitto_sub's exit status when -W runs out before -C messages arrived. */
const EXIT_TIMED_OUT = 27;
/** mosquitto_sub -F format: one line per message with topic, QoS, retain flag, user properties, payload. */
const FORMAT = 'MSG|%t|%q|%r|%P|%p';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Sub {
  /** Resolves once mosquitto_sub's debug output (-d) shows the SUBACK. */
  subscribed: Promise<void>;
  done: Promise<Run>;
}

function run(binary: string, args: string[], onStdout?: (all: string) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      onStdout?.(stdout);
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts mosquitto_sub with debug output, a message format and a timeout of `waitSeconds`. */
function sub(b: TestBroker, args: string[], waitSeconds = 5): Sub {
  let onSuback!: () => void;
  const subscribed = new Promise<void>((resolve) => (onSuback = resolve));
  const done = run(
    STDBUF!,
    ['-oL', MOSQUITTO_SUB!, '-h', b.host, '-p', String(b.port), '-d', '-W', String(waitSeconds), '-F', FORMAT, ...args],
    (out) => {
      if (out.includes('received SUBACK')) onSuback();
    },
  );
  // A sub that exits early must not leave the test waiting for the SUBACK.
  void done.then(() => onSuback());
  return { subscribed, done };
}

function pub(b: TestBroker, args: string[]): Promise<Run> {
  return run(MOSQUITTO_PUB!, ['-h', b.host, '-p', String(b.port), '-d', ...args]);
}

/** The message lines of mosquitto_sub's output, split into fields. */
function messages(out: string): Array<{ topic: string; qos: number; retain: number; userProperties: string; payload: string }> {
  return out
    .split('\n')
    .filter((l) => l.startsWith('MSG|'))
    .map((l) => {
      const [, topic, qos, retain, userProperties, ...payload] = l.split('|');
      return { topic: topic!, qos: Number(qos), retain: Number(retain), userProperties: userProperties!, payload: payload.join('|') };
    });
}

describeEachBroker('Debian mosquitto_pub / mosquitto_sub', (kind) => {
  let b: TestBroker;
  before(async () => {
    if (!missing) b = await startBroker(kind);
  });
  after(async () => {
    if (!missing) await b.close();
  });

  for (const version of ['mqttv5', 'mqttv311'] as const) {
    for (const qos of [0, 1, 2] as const) {
      test(`-V ${version} QoS ${qos}: mosquitto_pub reaches mosquitto_sub once, at QoS ${qos}`, { skip: missing }, async () => {
        const topic = `deb/${version}/q${qos}`;
        const s = sub(b, ['-V', version, '-q', String(qos), '-t', topic, '-C', '1']);
        await s.subscribed;
        const p = await pub(b, ['-V', version, '-q', String(qos), '-t', topic, '-m', `hello ${version} ${qos}`]);
        assert.equal(p.code, 0, p.stderr);
        // The publisher's side of the QoS flow, as its debug output shows it.
        if (qos === 1) assert.match(p.stdout, /received PUBACK/);
        if (qos === 2) {
          assert.match(p.stdout, /received PUBREC/);
          assert.match(p.stdout, /received PUBCOMP/);
        }
        const r = await s.done;
        assert.equal(r.code, 0, `mosquitto_sub exit ${r.code}: ${r.stderr}`);
        assert.deepEqual(
          messages(r.stdout).map((m) => [m.topic, m.qos, m.retain, m.payload]),
          [[topic, qos, 0, `hello ${version} ${qos}`]],
        );
        if (qos === 2) assert.match(r.stdout, /received PUBREL/);
      });
    }
  }

  test('a QoS 2 message to a QoS 0 subscription arrives at QoS 0 [MQTT-3.8.4-8]', { skip: missing }, async () => {
    const s = sub(b, ['-V', 'mqttv5', '-q', '0', '-t', 'deb/downgrade', '-C', '1']);
    await s.subscribed;
    const p = await pub(b, ['-V', 'mqttv5', '-q', '2', '-t', 'deb/downgrade', '-m', 'down']);
    assert.equal(p.code, 0, p.stderr);
    const r = await s.done;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      messages(r.stdout).map((m) => [m.qos, m.payload]),
      [[0, 'down']],
    );
  });

  test('-r: a retained message reaches a later mosquitto_sub with RETAIN=1, 3.1.1 and 5 [MQTT-3.3.1-5], [MQTT-3.3.1-9]', {
    skip: missing,
  }, async () => {
    const p = await pub(b, ['-V', 'mqttv5', '-q', '1', '-r', '-t', 'deb/retained', '-m', 'kept']);
    assert.equal(p.code, 0, p.stderr);
    for (const version of ['mqttv311', 'mqttv5']) {
      const r = await sub(b, ['-V', version, '-q', '1', '-t', 'deb/retained', '-C', '1']).done;
      assert.equal(r.code, 0, `${version}: ${r.stderr}`);
      assert.deepEqual(
        messages(r.stdout).map((m) => [m.topic, m.qos, m.retain, m.payload]),
        [['deb/retained', 1, 1, 'kept']],
      );
    }
  });

  test('-r -n: an empty retained message clears the topic, so a later mosquitto_sub times out (-W) [MQTT-3.3.1-6]', {
    skip: missing,
  }, async () => {
    assert.equal((await pub(b, ['-V', 'mqttv311', '-r', '-t', 'deb/cleared', '-m', 'soon gone'])).code, 0);
    assert.equal((await pub(b, ['-V', 'mqttv311', '-r', '-t', 'deb/cleared', '-n'])).code, 0);
    const r = await sub(b, ['-V', 'mqttv5', '-t', 'deb/cleared', '-C', '1'], 1).done;
    assert.equal(r.code, EXIT_TIMED_OUT, `expected the -W timeout, got exit ${r.code}: ${r.stdout}`);
    assert.deepEqual(messages(r.stdout), []);
  });

  test('-V mqttv5 -D user-property: user properties arrive unaltered and in order [MQTT-3.3.2-17], [MQTT-3.3.2-18]', {
    skip: missing,
  }, async () => {
    const s = sub(b, ['-V', 'mqttv5', '-q', '1', '-t', 'deb/props', '-C', '1']);
    await s.subscribed;
    const p = await pub(b, [
      '-V',
      'mqttv5',
      '-q',
      '1',
      '-t',
      'deb/props',
      '-m',
      'with props',
      '-D',
      'publish',
      'user-property',
      'site',
      'lab',
      '-D',
      'publish',
      'user-property',
      'site',
      'roof',
      '-D',
      'publish',
      'user-property',
      'unit',
      'C',
    ]);
    assert.equal(p.code, 0, p.stderr);
    const r = await s.done;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      messages(r.stdout).map((m) => [m.userProperties, m.payload]),
      [['site:lab site:roof unit:C', 'with props']],
    );
  });

  test('-c -i with -x: a persistent mosquitto_sub session receives QoS 1 messages published while it was away', {
    skip: missing,
  }, async () => {
    const session = ['-V', 'mqttv5', '-c', '-i', `deb-persist-${kind}`, '-x', '60', '-q', '1', '-t', 'deb/persist'];
    // First connection creates the session and its subscription, then leaves (-E: exit after SUBACK).
    const first = await run(MOSQUITTO_SUB!, ['-h', b.host, '-p', String(b.port), '-E', ...session]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal((await pub(b, ['-V', 'mqttv5', '-q', '1', '-t', 'deb/persist', '-m', 'while away'])).code, 0);
    const r = await sub(b, [...session, '-C', '1']).done;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      messages(r.stdout).map((m) => [m.qos, m.payload]),
      [[1, 'while away']],
    );
  });
});
