import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../src/util/index.js';
import { mosquittoPath, startFromConfig, type TestBroker } from '../helpers/brokers.js';
import { makeCertificates, openssl, type TestCertificates } from '../helpers/certs.js';
import { runCli, runTool, spawnCli, Spawned } from '../helpers/cli.js';

// `mqttlab pub`, `sub` and `req` against both brokers and crossed with Debian's mosquitto_pub, mosquitto_sub
// and mosquitto_rr. Each broker has a plain and a TLS listener (certificates made by openssl now), a
// password file (alice) and an ACL: anonymous clients may use cli/#, alice also alice/#.

const TOOLS = {
  pub: '/usr/bin/mosquitto_pub',
  sub: '/usr/bin/mosquitto_sub',
  rr: '/usr/bin/mosquitto_rr',
  passwd: '/usr/bin/mosquitto_passwd',
  stdbuf: '/usr/bin/stdbuf',
};
const missing = [...Object.values(TOOLS).filter((t) => spawnSync(t, ['--help']).error !== undefined), ...(openssl ? [] : ['openssl'])];
const skipAll = missing.length > 0 ? `not installed: ${missing.join(', ')} (apt-get install mosquitto mosquitto-clients openssl)` : false;

let certs: TestCertificates;
before(() => {
  if (skipAll) return;
  certs = makeCertificates();
  const r = spawnSync(TOOLS.passwd, ['-c', '-b', certs.file('passwd'), 'alice', 's3cret']);
  assert.equal(r.status, 0, r.stderr?.toString());
  writeFileSync(certs.file('acl'), 'topic readwrite cli/#\nuser alice\ntopic readwrite cli/#\ntopic readwrite alice/#\n');
});
after(() => certs?.remove());

/** A JSON line of `mqttlab sub --json`. */
interface JsonMessage {
  topic: string;
  qos: number;
  retain: boolean;
  payload?: string;
  properties?: Record<string, unknown>;
}
const jsonLines = (out: string) =>
  out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as JsonMessage);

// Both brokers at once, and every test of a broker at once: the time goes into starting processes.
describe('mqttlab pub/sub/req', { concurrency: true }, () => {
  for (const kind of ['embedded', 'mosquitto'] as const) {
    const skip = skipAll || (kind === 'mosquitto' && !mosquittoPath ? 'mosquitto is not installed' : false);
    describe(`mqttlab pub/sub/req [${kind}]`, { skip, concurrency: 3 }, () => {
      let broker: TestBroker;
      let tlsUrl: string;
      before(async () => {
        const [plain, tls] = [await freePort(), await freePort()];
        broker = await startFromConfig(kind, [
          `listener ${plain} 127.0.0.1`,
          `listener ${tls} 127.0.0.1`,
          `certfile ${certs.file('server.pem')}`,
          `keyfile ${certs.file('server.key')}`,
          'allow_anonymous true',
          `password_file ${certs.file('passwd')}`,
          `acl_file ${certs.file('acl')}`,
        ]);
        tlsUrl = `mqtts://127.0.0.1:${tls}`;
      });
      after(() => broker?.close());
      const topic = (name: string) => `cli/${kind}/${name}`;
      const b = () => ['-b', broker.url];
      const port = () => ['-p', String(broker.port)];

      /** `mqttlab sub` running with --trace, resolved once its SUBACK arrived (so nothing published after is missed). */
      async function ourSub(args: string[]): Promise<Spawned> {
        const p = spawnCli(['sub', ...b(), '--trace', ...args], { timeoutMs: 120_000 });
        await p.waitFor(/← SUBACK/, 'stderr', 60_000);
        return p;
      }
      /**
       * mosquitto_sub -d printing `MSG|topic|qos|retain|user properties|content type|payload`, resolved once
       * subscribed. Its stdout is a pipe here, which stdio buffers: stdbuf makes it line by line.
       */
      async function theirSub(args: string[], format = 'MSG|%t|%q|%r|%P|%C|%p'): Promise<Spawned> {
        const p = new Spawned(TOOLS.stdbuf, ['-oL', TOOLS.sub, '-V', 'mqttv5', ...port(), '-d', '-F', format, ...args], {
          timeoutMs: 120_000,
        });
        await p.waitFor(/received SUBACK/, 'stdout', 60_000);
        return p;
      }
      const msgLines = (out: string) =>
        out
          .split('\n')
          .filter((l) => l.startsWith('MSG|'))
          .map((l) => l.split('|'));

      test('QoS 0, 1 and 2 both ways: mqttlab pub and mosquitto_pub → mqttlab sub and mosquitto_sub', async () => {
        const t = topic('qos');
        const ours = await ourSub(['-t', t, '-q', '2', '-C', '6', '--json']);
        const theirs = await theirSub(['-t', t, '-q', '2', '-C', '6']);
        // All six at once (fewer seconds for the subscribers to wait on a loaded machine); compared as sets.
        const published = await Promise.all(
          ['0', '1', '2'].flatMap((qos) => [
            runCli(['pub', ...b(), '-t', t, '-q', qos, '-m', `mqttlab q${qos}`, '--trace']),
            runTool(TOOLS.pub, ['-V', 'mqttv5', ...port(), '-t', t, '-q', qos, '-m', `mosquitto q${qos}`]),
          ]),
        );
        for (const p of published) assert.equal(p.status, 0, p.stderr);
        const [o, m] = [await ours.done, await theirs.done];
        assert.equal(o.status, 0, `mqttlab sub: ${o.stderr}`);
        const expected = [0, 1, 2].flatMap((q) => [`mqttlab q${q} at ${q}`, `mosquitto q${q} at ${q}`]).sort();
        assert.deepEqual(
          jsonLines(o.stdout)
            .map((j) => `${j.payload} at ${j.qos}`)
            .sort(),
          expected,
        );
        assert.equal(m.status, 0, m.stderr);
        assert.deepEqual(
          msgLines(m.stdout)
            .map((f) => `${f[6]} at ${f[2]}`)
            .sort(),
          expected,
        );
        // Our QoS 2 publish and delivery went through the whole handshake, as --trace shows.
        assert.match(o.stderr, /→ PUBREC/);
        assert.match(published[4]!.stderr, /← PUBREC[\s\S]*→ PUBREL[\s\S]*← PUBCOMP/);
      });

      test('retained both ways: pub -r reaches a later sub, flagged retained; --null-message -r clears', async () => {
        const [ours, theirs] = [topic('retained/ours'), topic('retained/theirs')];
        assert.equal((await runCli(['pub', ...b(), '-t', ours, '-m', 'kept', '-r', '-q', '1'])).status, 0);
        assert.equal((await runTool(TOOLS.pub, ['-V', 'mqttv5', ...port(), '-t', theirs, '-m', 'kept too', '-r', '-q', '1'])).status, 0);
        const m = await runTool(TOOLS.sub, ['-V', 'mqttv5', ...port(), '-t', ours, '-C', '1', '-W', '5', '-F', '%r|%p']);
        assert.equal(m.stdout, '1|kept\n');
        const o = await runCli(['sub', ...b(), '-t', theirs, '-C', '1', '-W', '5', '--json']);
        assert.equal(o.status, 0, o.stderr);
        assert.deepEqual(
          jsonLines(o.stdout).map((j) => [j.payload, j.retain]),
          [['kept too', true]],
        );
        assert.equal((await runCli(['pub', ...b(), '-t', ours, '--null-message', '-r', '-q', '1'])).status, 0);
        const cleared = await runCli(['sub', ...b(), '-t', ours, '-W', '1']);
        assert.equal(cleared.status, 27, 'timed out: nothing retained any more');
        assert.equal(cleared.stdout, '');
        assert.equal(cleared.stderr, 'mqttlab: timed out after 1 s (0 message(s))\n');
      });

      test('user properties and content type cross both ways, a repeated name included', async () => {
        const t = topic('props');
        const ours = await ourSub(['-t', t, '-C', '2', '--json']);
        const theirs = await theirSub(['-t', t, '-C', '2']);
        assert.equal(
          (
            await runCli([
              'pub',
              ...b(),
              '-t',
              t,
              '-m',
              'a',
              '--user-property',
              'unit=C',
              '--user-property',
              'unit=K',
              '--user-property',
              'site=lab',
              '--content-type',
              'text/plain',
            ])
          ).status,
          0,
        );
        assert.equal(
          (
            await runTool(TOOLS.pub, [
              '-V',
              'mqttv5',
              ...port(),
              '-t',
              t,
              '-m',
              'b',
              '-D',
              'publish',
              'user-property',
              'origin',
              'debian',
              '-D',
              'publish',
              'content-type',
              'text/x',
            ])
          ).status,
          0,
        );
        const [o, m] = [await ours.done, await theirs.done];
        assert.deepEqual(
          jsonLines(o.stdout).map((j) => j.properties),
          [
            { contentType: 'text/plain', userProperties: { unit: ['C', 'K'], site: 'lab' } },
            { contentType: 'text/x', userProperties: { origin: 'debian' } },
          ],
        );
        assert.deepEqual(
          msgLines(m.stdout).map((f) => [f[4], f[5], f[6]]),
          [
            ['unit:C unit:K site:lab', 'text/plain', 'a'],
            ['origin:debian', 'text/x', 'b'],
          ],
        );
      });

      test('request/reply: req ↔ sub --reply, mosquitto_rr → sub --reply, req → a mosquitto_sub + mosquitto_pub responder', async () => {
        const service = topic('svc/echo');
        const responder = await ourSub(['-t', service, '--reply', 'echo {payload}', '-C', '2']);
        const req = await runCli([
          'req',
          ...b(),
          '-t',
          service,
          '-m',
          'one',
          '-e',
          topic('replies/one'),
          '--correlation-data',
          'c-1',
          '--json',
          '-q',
          '1',
        ]);
        assert.equal(req.status, 0, req.stderr);
        assert.deepEqual(
          jsonLines(req.stdout).map((j) => [j.topic, j.payload, j.properties?.correlationData]),
          [[topic('replies/one'), 'echo one', 'c-1']],
        );
        const rr = await runTool(TOOLS.rr, ['-V', 'mqttv5', ...port(), '-t', service, '-e', topic('replies/rr'), '-m', 'two', '-W', '5']);
        assert.equal(rr.status, 0, rr.stderr);
        assert.equal(rr.stdout, 'echo two\n');
        assert.equal((await responder.done).status, 0);

        // Debian's clients as the responder: mosquitto_sub prints the request's Response Topic and Correlation
        // Data, mosquitto_pub answers with them.
        const asked = topic('svc/debian');
        const listener = await theirSub(['-t', asked, '-C', '1'], 'REQ|%R|%D|%p');
        const request = spawnCli(['req', ...b(), '-t', asked, '-e', topic('replies/debian'), '-m', 'three', '-W', '10']);
        const [, responseTopic, correlation, payload] = await listener.waitFor(/^REQ\|(.*)\|(.*)\|(.*)$/m);
        assert.equal(responseTopic, topic('replies/debian'));
        assert.match(correlation!, /^[0-9a-f]{16}$/);
        const answer = await runTool(TOOLS.pub, [
          '-V',
          'mqttv5',
          ...port(),
          '-t',
          responseTopic!,
          '-m',
          `answer to ${payload}`,
          '-D',
          'publish',
          'correlation-data',
          correlation!,
        ]);
        assert.equal(answer.status, 0, answer.stderr);
        const result = await request.done;
        assert.equal(result.status, 0, result.stderr);
        assert.equal(result.stdout, 'answer to three\n');
      });

      test('TLS, generated certificates: pub --cafile → mosquitto_sub, mosquitto_pub → sub --cafile; untrusted: one line', async () => {
        const t = topic('tls');
        const tlsPort = new URL(tlsUrl).port;
        const ca = ['--cafile', certs.file('ca.pem')];
        const theirs = new Spawned(
          TOOLS.stdbuf,
          ['-oL', TOOLS.sub, '-V', 'mqttv5', '-h', '127.0.0.1', '-p', tlsPort, ...ca, '-d', '-t', t, '-C', '1', '-F', 'MSG|%p'],
          { timeoutMs: 60_000 },
        );
        await theirs.waitFor(/received SUBACK/);
        const p = await runCli(['pub', '-b', tlsUrl, ...ca, '-t', t, '-m', 'over tls', '-q', '1']);
        assert.equal(p.status, 0, p.stderr);
        assert.match((await theirs.done).stdout, /^MSG\|over tls$/m);

        const ours = spawnCli(['sub', '-b', tlsUrl, ...ca, '--trace', '-t', t, '-C', '1', '--json']);
        await ours.waitFor(/← SUBACK/, 'stderr');
        assert.equal(
          (await runTool(TOOLS.pub, ['-V', 'mqttv5', '-h', '127.0.0.1', '-p', tlsPort, ...ca, '-t', t, '-m', 'back over tls'])).status,
          0,
        );
        assert.deepEqual(
          jsonLines((await ours.done).stdout).map((j) => j.payload),
          ['back over tls'],
        );

        const untrusted = await runCli(['pub', '-b', tlsUrl, '-t', t, '-m', 'x']);
        assert.equal(untrusted.status, 1);
        assert.equal(
          untrusted.stderr,
          `mqttlab: cannot connect to ${tlsUrl}: the broker's certificate is not trusted ` +
            '(pass --cafile <ca.pem>, or --insecure to skip the check)\n',
        );
        assert.equal((await runCli(['pub', '-b', tlsUrl, '--insecure', '-t', t, '-m', 'x'])).status, 0);
        const plainUrl = await runCli(['pub', ...b(), ...ca, '-t', t, '-m', 'x']);
        assert.equal(
          plainUrl.stderr,
          'mqttlab: --cafile, --cert, --key and --insecure are for TLS: use an mqtts:// (or wss://) broker URL\n',
        );
      });

      const grantsAll =
        kind === 'mosquitto'
          ? 'Mosquitto 2.0.11 grants every SUBSCRIBE and applies its ACL per message (see test/broker/auth.test.ts)'
          : false;
      test('a refused subscription names its filter; a partly refused one warns and goes on', { skip: grantsAll }, async () => {
        const refused = await runCli(['sub', ...b(), '-t', 'secret/#']);
        assert.equal(refused.status, 1);
        assert.equal(refused.stderr, 'mqttlab: the broker refused the subscription to "secret/#": NotAuthorized (0x87)\n');
        const v311 = await runCli(['sub', ...b(), '-V', '311', '-t', 'secret/#']);
        assert.equal(v311.stderr, 'mqttlab: the broker refused the subscription to "secret/#": Failure (0x80)\n');
        const partly = await runCli(['sub', ...b(), '-t', 'secret/#', '-t', topic('open'), '-W', '1']);
        assert.equal(partly.status, 27);
        assert.match(
          partly.stderr,
          /^mqttlab: the broker refused the subscription to "secret\/#": NotAuthorized \(0x87\)\nmqttlab: timed out after 1 s/,
        );
        const invalid = await runCli(['sub', ...b(), '-t', 'a/#/b']);
        assert.equal(
          invalid.stderr,
          'mqttlab: "a/#/b" is not a valid topic filter (# only last, + and # alone in their level, no empty filter)\n',
        );
      });

      test('credentials: a wrong password is one line, never printed; user:password in the URL works, not printed by --trace', async () => {
        const wrong = await runCli(['pub', ...b(), '-u', 'alice', '-P', 'not-her-password', '-t', 'alice/x', '-m', 'x']);
        assert.equal(wrong.status, 1);
        // Either code fits (MQTT 5.0 §3.2.2.2): ours says 0x86 Bad User Name or Password, Mosquitto 0x87 Not authorized.
        const refusal = kind !== 'mosquitto' ? 'BadUserNameOrPassword (0x86)' : 'NotAuthorized (0x87)';
        assert.equal(
          wrong.stderr,
          `mqttlab: cannot connect to ${broker.url}: refused by the broker: ${refusal} ` +
            `(check the user name and password${kind !== 'mosquitto' ? '' : '; a broker with allow_anonymous false wants them'})\n`,
        );
        const inUrl = broker.url.replace('mqtt://', 'mqtt://alice:wrong-too@');
        const wrongInUrl = await runCli(['pub', '-b', inUrl, '-t', 'alice/x', '-m', 'x']);
        assert.match(
          wrongInUrl.stderr,
          new RegExp(
            `^mqttlab: cannot connect to mqtt://\\*\\*\\*@127\\.0\\.0\\.1:${broker.port}: ` +
              `refused by the broker: ${refusal.replace(/[()]/g, '\\$&')}`,
          ),
        );
        assert.ok(
          !wrong.stderr.includes('not-her-password') && !wrongInUrl.stderr.includes('wrong-too') && !wrongInUrl.stderr.includes('alice'),
        );
        const ok = await runCli([
          'pub',
          '-b',
          broker.url.replace('mqtt://', 'mqtt://alice:s3cret@'),
          '-t',
          'alice/x',
          '-m',
          'x',
          '-q',
          '1',
          '--trace',
        ]);
        assert.equal(ok.status, 0, ok.stderr);
        assert.match(ok.stderr, /← PUBACK/);
        assert.ok(!ok.stderr.includes('s3cret') && !ok.stdout.includes('s3cret'));
        const denied = await runCli(['pub', ...b(), '-t', 'alice/x', '-m', 'x', '-q', '1']);
        assert.equal(denied.status, 1);
        assert.equal(denied.stderr, 'mqttlab: the broker refused the message on "alice/x": NotAuthorized (0x87)\n');
      });

      test('a will with delay and properties: mqttlab sub killed without DISCONNECT, mosquitto_sub gets the will', async () => {
        const will = topic('will');
        const watcher = await theirSub(['-t', will, '-C', '1']);
        const doomed = await ourSub([
          '-t',
          topic('anything'),
          '--will-topic',
          will,
          '--will-payload',
          'gone',
          '--will-qos',
          '1',
          '--will-delay',
          '0',
          '--will-user-property',
          'why=killed',
          '-x',
          '10',
        ]);
        doomed.signal('SIGKILL');
        assert.deepEqual(
          msgLines((await watcher.done).stdout).map((f) => [f[4], f[6]]),
          [['why:killed', 'gone']],
        );
      });

      test('MQTT 3.1.1 (-V 311) both ways at QoS 1, and MQTT 5 options refused with it in one line', async () => {
        const t = topic('v311');
        const ours = await ourSub(['-V', '311', '-t', t, '-q', '1', '-C', '2', '-v']);
        assert.equal((await runCli(['pub', ...b(), '-V', '311', '-t', t, '-q', '1', '-m', 'from mqttlab'])).status, 0);
        assert.equal((await runTool(TOOLS.pub, ['-V', 'mqttv311', ...port(), '-t', t, '-q', '1', '-m', 'from mosquitto_pub'])).status, 0);
        assert.equal((await ours.done).stdout, `${t} from mqttlab\n${t} from mosquitto_pub\n`);
        const v5only = await runCli(['pub', ...b(), '-V', '311', '-t', t, '-m', 'x', '--user-property', 'a=b']);
        assert.equal(
          v5only.stderr,
          'mqttlab: PUBLISH properties (--content-type, --message-expiry, --user-property, …) are MQTT 5 only (leave out -V 311)\n',
        );
      });

      test('--trace shows the topic alias at work; hex output; -l a message per line, -s all of stdin, -f a file', async () => {
        const t = topic('alias');
        const ours = await ourSub(['-t', t, '-C', '5', '--format', 'hex', '-v']);
        const p = await runCli(['pub', ...b(), '-t', t, '-l', '--topic-alias', '1', '--trace'], { input: 'one\ntwo\nthree\n' });
        assert.equal(p.status, 0, p.stderr);
        const publishes = p.stderr.split('\n').filter((l) => l.includes('→ PUBLISH'));
        assert.equal(publishes.length, 3);
        assert.match(publishes[0]!, new RegExp(`${t} \\(\\d+ B\\) topicAlias=1$`));
        assert.match(publishes[1]!, /\(topic via alias\) \(\d+ B\) topicAlias=1$/);
        assert.equal((await runCli(['pub', ...b(), '-t', t, '-s'], { input: 'all\nof it' })).status, 0);
        writeFileSync(certs.file(`payload-${kind}`), Buffer.from([0, 1, 2, 0xff]));
        assert.equal((await runCli(['pub', ...b(), '-t', t, '-f', certs.file(`payload-${kind}`)])).status, 0);
        const expected = ['one', 'two', 'three', 'all\nof it'].map((w) => Buffer.from(w).toString('hex')).concat('000102ff');
        assert.equal((await ours.done).stdout, expected.map((h) => `${t} ${h}\n`).join(''));
      });

      test('Retain Handling, Retain As Published, Subscription Identifier, a resumed session with an expiring message', async () => {
        const r = topic('options/retained');
        assert.equal((await runCli(['pub', ...b(), '-t', r, '-m', 'kept', '-r'])).status, 0);
        const none = await runCli(['sub', ...b(), '-t', r, '--retain-handling', '2', '-W', '1']);
        assert.equal(none.status, 27, 'Retain Handling 2: no retained message on subscribe');
        const flagged = await runCli([
          'sub',
          ...b(),
          '-t',
          r,
          '--retain-as-published',
          '--subscription-identifier',
          '7',
          '-C',
          '1',
          '--json',
        ]);
        const [m] = jsonLines(flagged.stdout);
        assert.equal(m?.retain, true);
        assert.deepEqual(m?.properties?.subscriptionIdentifier, 7);

        const q = topic('options/session');
        const session = ['-i', `cli-session-${kind}`, '--no-clean', '-x', '60', '-q', '1', '-t', q];
        assert.equal((await runCli(['sub', ...b(), ...session, '-W', '1'])).status, 27);
        assert.equal((await runCli(['pub', ...b(), '-t', q, '-q', '1', '-m', 'queued while away', '--message-expiry', '600'])).status, 0);
        const resumed = await runCli(['sub', ...b(), ...session, '-C', '1', '--json', '--trace']);
        assert.match(resumed.stderr, /← CONNACK .*session-present/);
        const [queued] = jsonLines(resumed.stdout);
        assert.equal(queued?.payload, 'queued while away');
        const left = queued?.properties?.messageExpiryInterval as number;
        assert.ok(left <= 600 && left >= 590, `remaining expiry ${left}`);
      });
    });
  }
});
