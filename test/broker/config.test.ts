import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { IConnectPacket, IPublishPacket } from 'mqtt-packet';
import { brokerOptionsFromConfig, loadMosquittoConf, parseMosquittoConf } from '../../src/broker/index.js';
import { freePort } from '../../src/util/index.js';
import { describeEachBroker, mosquittoPath, startFromConfig, type BrokerKind, type TestBroker } from '../helpers/brokers.js';
import { collect, connectClient, end, waitUntil } from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';

// `mqttlab broker -c mosquitto.conf`: the Mosquitto directives we read, their errors, and the settings
// applied on the wire, each differential test run against Mosquitto 2.0.11 with the same lines.

const REPO_CONF = resolve('mosquitto/config/mosquitto.conf');
const CLI = resolve('dist/src/cli/index.js');

let dir: string;
before(() => (dir = mkdtempSync(join(tmpdir(), 'mqttlab-config-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

function writeConf(name: string, lines: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

describe('Mosquitto config: parsing (embedded)', () => {
  test("the repository's mosquitto/config/mosquitto.conf loads: two listeners, anonymous, persistence directory", () => {
    const { options, dataDir } = loadMosquittoConf(REPO_CONF);
    assert.deepEqual(options.listeners, [
      { host: '0.0.0.0', port: 1883, protocol: 'mqtt' },
      { host: '0.0.0.0', port: 9001, protocol: 'websockets' },
    ]);
    assert.equal(options.allowAnonymous, true);
    // Recorded for the persistence, not created or opened here: /mosquitto/data exists only in the container.
    assert.equal(dataDir, '/mosquitto/data');
  });

  test('an unknown directive is an error naming file and line', () => {
    assert.throws(() => parseMosquittoConf('listener 1883\n\n# comment\nbogus_option 3\n', 'my.conf'), {
      message: 'my.conf:4: unknown directive "bogus_option"',
    });
  });

  test('malformed directives are errors naming file and line', () => {
    const cases: Array<[string, RegExp]> = [
      ['protocol websockets', /^Error: c:1: "protocol" applies to a listener/],
      ['listener', /^Error: c:1: expected "listener <port> \[bind address\]"/],
      ['listener 99999', /^Error: c:1: "99999" is not a port number/],
      ['listener 1883\nprotocol mqtts', /^Error: c:2: protocol must be mqtt or websockets/],
      ['allow_anonymous yes', /^Error: c:1: "allow_anonymous" must be true or false/],
      ['max_keepalive -5', /^Error: c:1: "max_keepalive" must be an integer from 0 to 65535/],
      ['password_file', /^Error: c:1: "password_file" needs a value/],
      ['per_listener_settings true', /^Error: c:1: per_listener_settings true is not supported/],
    ];
    for (const [text, error] of cases) assert.throws(() => parseMosquittoConf(text, 'c'), error, text);
  });

  test('files named by the config are read when loaded: a missing one is an error naming it', () => {
    const missing = join(dir, 'no-such-passwd');
    assert.throws(() => loadMosquittoConf(writeConf('missing.conf', [`password_file ${missing}`])), {
      message: `cannot read password_file ${missing}: ENOENT`,
    });
    assert.throws(
      () => brokerOptionsFromConfig(parseMosquittoConf('listener 8883\ncertfile /x.pem', 't.conf')),
      /^Error: t.conf:1: a TLS listener needs both certfile and keyfile/,
    );
    assert.throws(
      () => brokerOptionsFromConfig(parseMosquittoConf('listener 8883\nrequire_certificate true', 't.conf')),
      /^Error: t.conf:1: cafile and require_certificate need certfile and keyfile/,
    );
  });

  test("Mosquitto 2's defaults: no listener → 127.0.0.1:1883 with anonymous access; a listener → anonymous off", () => {
    const local = parseMosquittoConf('', 'empty.conf');
    assert.deepEqual(
      local.listeners.map((l) => [l.host, l.port]),
      [['127.0.0.1', 1883]],
    );
    assert.equal(local.allowAnonymous, true);
    assert.equal(parseMosquittoConf('listener 1883', 'l.conf').allowAnonymous, false);
  });

  test('relative paths are resolved against the config file directory', () => {
    const config = parseMosquittoConf('password_file passwd\nacl_file ../acl\npersistence true', '/etc/mqttlab/broker.conf');
    assert.equal(config.passwordFile, '/etc/mqttlab/passwd');
    assert.equal(config.aclFile, '/etc/acl');
    assert.equal(config.dataDir, '/etc/mqttlab', 'persistence without persistence_location: next to the config');
  });

  test('`mqttlab broker -c` with an unknown directive prints one line and exits 1; so does mosquitto', () => {
    const file = writeConf('bad.conf', ['listener 1883 127.0.0.1', 'bogus_option 3']);
    const r = spawnSync(process.execPath, [CLI, 'broker', '-c', file], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `mqttlab: ${file}:2: unknown directive "bogus_option"\n`);
    if (mosquittoPath) {
      const m = spawnSync(mosquittoPath, ['-c', file], { encoding: 'utf8', timeout: 10_000 });
      assert.notEqual(m.status, 0, 'mosquitto refuses the same file');
      assert.match(m.stderr, /bogus_option/);
    }
  });
});

/** The CONNACK reason code, or 'closed' when the broker closes without one. */
async function connectCode(port: number, connect: Partial<IConnectPacket>): Promise<{ code: number | 'closed'; client?: RawClient }> {
  try {
    const { client, connack } = await RawClient.connect(port, connect);
    return { code: connack.reasonCode ?? connack.returnCode ?? 0, client };
  } catch (error) {
    if (/connection closed/.test((error as Error).message)) return { code: 'closed' };
    throw error;
  }
}

describeEachBroker(
  'Mosquitto config: several listeners',
  (kind: BrokerKind) => {
    let b: TestBroker;
    let ports: number[];
    before(async () => {
      ports = [await freePort(), await freePort(), await freePort()];
      b = await startFromConfig(kind, [
        `listener ${ports[0]} 127.0.0.1`,
        `listener ${ports[1]} 127.0.0.1`,
        'protocol mqtt',
        `listener ${ports[2]} 127.0.0.1`,
        'protocol websockets',
        'allow_anonymous true',
      ]);
    });
    after(() => b.close());

    test('messages flow between clients on two TCP listeners and a WebSocket listener', async () => {
      const sub = await connectClient(`mqtt://127.0.0.1:${ports[1]}`, { clientId: 'multi-sub' });
      const tcp = await connectClient(`mqtt://127.0.0.1:${ports[0]}`, { clientId: 'multi-tcp' });
      const ws = await connectClient(`ws://127.0.0.1:${ports[2]}`, { clientId: 'multi-ws' });
      try {
        const got = collect(sub);
        await sub.subscribeAsync('multi/#', { qos: 1 });
        await tcp.publishAsync('multi/tcp', 'from tcp', { qos: 1 });
        await ws.publishAsync('multi/ws', 'from ws', { qos: 1 });
        await waitUntil(() => got.length === 2, 3000, 'both messages');
        assert.deepEqual(got.map((m) => [m.topic, m.payload]).sort(), [
          ['multi/tcp', 'from tcp'],
          ['multi/ws', 'from ws'],
        ]);
      } finally {
        await Promise.all([end(sub), end(tcp), end(ws)]);
      }
    });
  },
  { notOnCluster: 'the cluster target balances one plain MQTT listener (TLS and WebSocket listeners are per node)' },
);

describeEachBroker(
  'Mosquitto config: max_connections',
  (kind: BrokerKind) => {
    test('with max_connections 2 a third client is refused: CONNACK 0x97 Quota exceeded (Mosquitto: closed); a slot frees', async () => {
      const port = await freePort();
      const b = await startFromConfig(kind, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'max_connections 2']);
      const open: RawClient[] = [];
      try {
        // Connect until the first refusal (bounded).
        let refusal: number | 'closed' | undefined;
        for (let i = 0; i < 6 && refusal === undefined; i++) {
          const r = await connectCode(port, { clientId: `mc-${i}` });
          if (r.code === 0) open.push(r.client!);
          else refusal = r.code;
        }
        // The spec leaves the choice to the server: a CONNACK with 0x97 (§3.2.2.2: "an implementation or
        // administrative imposed limit has been exceeded") or closing without one [MQTT-3.1.4-1]. Mosquitto
        // closes the socket as it accepts it, before reading the CONNECT; ours answers it.
        assert.equal(refusal, kind === 'mosquitto' ? 'closed' : 0x97);
        if (kind !== 'mosquitto') {
          assert.equal(open.length, 2);
        } else {
          // Mosquitto 2.0.11 miscounts: a socket that closes before CONNECT (here the harness's port probe)
          // lowers its count, so it lets in more than max_connections. Recorded, not asserted exactly.
          assert.ok(open.length >= 2, `mosquitto admitted ${open.length}`);
        }
        const refused311 = await connectCode(port, { clientId: 'mc-311', protocolVersion: 4 });
        assert.equal(refused311.code, kind === 'mosquitto' ? 'closed' : 3, '3.1.1: Server unavailable');
        await open.shift()!.disconnect();
        // The broker may take a moment to notice the close; a new client gets in within a few tries.
        let code: number | 'closed' = 'closed';
        for (let attempt = 0; attempt < 20 && code !== 0; attempt++) {
          const r = await connectCode(port, { clientId: `mc-again-${attempt}` });
          code = r.code;
          if (r.client) open.push(r.client);
          if (code !== 0) await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.equal(code, 0, 'a slot freed by a disconnect can be used');
      } finally {
        for (const c of open) c.destroy();
        await b.close();
      }
    });
  },
  { notOnCluster: 'max_connections is per node: three nodes behind the balancer take three times as many clients' },
);

describeEachBroker('Mosquitto config: message_size_limit, max_keepalive, max_inflight_messages', (kind: BrokerKind) => {
  let b: TestBroker;
  before(async () => {
    const port = await freePort();
    b = await startFromConfig(kind, [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'message_size_limit 10',
      'max_keepalive 30',
      'max_inflight_messages 5',
    ]);
  });
  after(() => b.close());

  test('max_keepalive caps the keep alive (Server Keep Alive) and max_inflight_messages is the CONNACK Receive Maximum', async () => {
    const { client, connack } = await RawClient.connect(b.port, { clientId: 'limits-connack', keepalive: 60 });
    assert.equal(connack.properties?.serverKeepAlive, 30);
    assert.equal(connack.properties?.receiveMaximum, 5);
    await client.disconnect();
  });

  test('a PUBLISH with a payload over message_size_limit is not delivered; QoS 1 gets PUBACK 0x97 (Mosquitto: closed)', async () => {
    const sub = await RawClient.connect(b.port, { clientId: 'size-sub' });
    sub.client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'size/#', qos: 1 }] });
    await sub.client.expect('suback');
    const publish = (payload: string, messageId: number): IPublishPacket => ({
      cmd: 'publish',
      topic: 'size/t',
      payload: Buffer.from(payload),
      qos: 1,
      retain: false,
      dup: false,
      messageId,
    });
    const big = await RawClient.connect(b.port, { clientId: 'size-big' });
    big.client.send(publish('01234567890', 1));
    if (kind !== 'mosquitto') {
      // PUBACK may carry 0x97 Quota exceeded (§3.4.2.1: "an implementation or administrative imposed limit").
      assert.equal((await big.client.expect('puback')).reasonCode, 0x97);
      await big.client.disconnect();
    } else {
      // Mosquitto 2.0.11 closes the MQTT 5 connection without a DISCONNECT, though it announced no
      // Maximum Packet Size the client could have kept to (3.1.1 clients get a PUBACK).
      assert.ok(await big.client.closedWithin(3000));
      assert.equal(big.client.all('puback').length, 0);
    }
    const { client } = await RawClient.connect(b.port, { clientId: 'size-pub' });
    client.send(publish('0123456789', 2));
    assert.ok(((await client.expect('puback')).reasonCode ?? 0) < 0x80);
    const delivered = (await sub.client.expect('publish')) as IPublishPacket;
    assert.equal(delivered.payload.toString(), '0123456789', 'only the message within the limit arrives');
    await client.disconnect();
    await sub.client.disconnect();
  });
});
