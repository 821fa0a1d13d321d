import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createLinkProxy, parseCutOn, type LinkEvent, type LinkPacket, type LinkProxy, type LinkFaults } from '../../src/link/index.js';
import { freePort, waitForPort } from '../../src/util/index.js';
import { startEmbedded, type TestBroker } from '../helpers/brokers.js';
import { collect, connectClient, end, waitUntil } from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';

const CLI = fileURLToPath(new URL('../../src/cli/index.js', import.meta.url));

let b: TestBroker;
before(async () => {
  b = await startEmbedded();
});
after(() => b.close());

/** A proxy to the test broker with these faults, recording its packets and events; closed after the test. */
async function withProxy(
  faults: LinkFaults,
  run: (proxy: LinkProxy, seen: { packets: LinkPacket[]; events: LinkEvent[] }) => Promise<void>,
  seed = 1,
): Promise<void> {
  const proxy = await createLinkProxy({ to: b.url, faults, seed });
  const seen = { packets: [] as LinkPacket[], events: [] as LinkEvent[] };
  proxy.on('packet', (p) => seen.packets.push({ ...p, raw: Buffer.from(p.raw) }));
  proxy.on('link', (e) => seen.events.push(e));
  try {
    await run(proxy, seen);
  } finally {
    await proxy.close();
  }
}

const trace = (packets: LinkPacket[]) =>
  packets.map((p) => `${p.direction === 'to-broker' ? '→' : '←'}${p.type}${p.fate === 'forwarded' ? '' : `:${p.fate}`}`);

describe('link proxy: relaying and decoding', () => {
  test("decodes both directions with the CONNECT's protocol level, and names the client", async () => {
    await withProxy({}, async (proxy, seen) => {
      for (const protocolVersion of [5, 4] as const) {
        const { client } = await RawClient.connect(proxy.port, { protocolVersion, clientId: `decode-${protocolVersion}` });
        client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'decode/#', qos: 1 }] });
        await client.expect('suback');
        client.send({ cmd: 'publish', topic: 'decode/x', payload: Buffer.from('hi'), qos: 1, messageId: 2, retain: false, dup: false });
        await client.expect('puback');
        await client.disconnect();
      }
      await waitUntil(() => proxy.connections.size === 0, 3000, 'connections closed');
      for (const version of [5, 4]) {
        const mine = seen.packets.filter((p) => p.clientId === `decode-${version}`);
        // The broker's PUBLISH to the subscriber and its PUBACK to the publisher may come in either order.
        assert.deepEqual(
          trace(mine).sort(),
          ['→CONNECT', '←CONNACK', '→SUBSCRIBE', '←SUBACK', '→PUBLISH', '←PUBLISH', '←PUBACK', '→DISCONNECT'].sort(),
        );
        assert.ok(
          mine.every((p) => p.protocolVersion === version && p.packet !== undefined),
          `all decoded as MQTT ${version}`,
        );
        const publish = mine.find((p) => p.type === 'PUBLISH' && p.direction === 'to-broker')!;
        assert.equal(publish.packet?.cmd === 'publish' && publish.packet.topic, 'decode/x');
      }
    });
  });

  test('bytes that do not decode are shown as MALFORMED and forwarded: the broker answers them [MQTT-1.5.5-1]', async () => {
    await withProxy({}, async (_proxy, seen) => {
      const { client } = await RawClient.connect(_proxy.port, { clientId: 'malformed' });
      client.sendBytes([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]);
      const disconnect = await client.expect('disconnect');
      assert.equal(disconnect.reasonCode, 0x81, 'the broker saw the bytes and answered Malformed Packet');
      const bad = seen.packets.find((p) => p.malformed !== undefined)!;
      assert.equal(bad.type, 'PUBLISH');
      assert.match(bad.malformed!, /Remaining Length/);
      assert.equal(bad.raw.toString('hex'), '30ffffffff01');
      assert.ok(seen.packets.some((p) => p.type === 'DISCONNECT' && p.direction === 'to-client' && p.fate === 'forwarded'));
    });
  });

  test('a broker that is not there: the client is closed and the event says why', async () => {
    const port = await freePort();
    const proxy = await createLinkProxy({ to: `mqtt://127.0.0.1:${port}` });
    const events: LinkEvent[] = [];
    proxy.on('link', (e) => events.push(e));
    try {
      const client = await RawClient.open(proxy.port);
      assert.ok(await client.closedWithin(3000));
      assert.match(events.map((e) => e.detail).join(' '), /broker unreachable .*ECONNREFUSED/);
    } finally {
      await proxy.close();
    }
  });
});

describe('link proxy: faults', () => {
  test('--cut-every N: N packets get through, the next breaks the link without DISCONNECT (the will is published)', async () => {
    await withProxy({ cutEvery: 4 }, async (proxy, seen) => {
      const watcher = await connectClient(b.url, { clientId: 'cut-every-watcher' });
      const wills = collect(watcher);
      await watcher.subscribeAsync('cut-every/will', { qos: 1 });
      const { client } = await RawClient.connect(proxy.port, {
        clientId: 'cut-every',
        will: { topic: 'cut-every/will', payload: Buffer.from('gone'), qos: 1, retain: false },
      });
      for (let i = 0; i < 5; i++)
        client.send({ cmd: 'publish', topic: 'cut-every/x', payload: Buffer.from(`m${i}`), qos: 0, retain: false, dup: false });
      assert.ok(await client.closedWithin(3000), 'the client was disconnected');
      assert.deepEqual(trace(seen.packets), ['→CONNECT', '←CONNACK', '→PUBLISH', '→PUBLISH', '→PUBLISH:cut']);
      assert.deepEqual(
        seen.events.filter((e) => e.kind === 'cut').map((e) => e.detail),
        ['on PUBLISH to-broker after 4 packets (cut-every)'],
      );
      await waitUntil(() => wills.length === 1, 3000, 'the will');
      await end(watcher);
      assert.equal(proxy.connections.size, 0);
    });
  });

  test('--cut-on puback:to-client: the PUBACK never arrives, the message did; the rule fires once', async () => {
    await withProxy({ cutOn: [parseCutOn('puback:to-client')] }, async (proxy, seen) => {
      const sub = await connectClient(b.url, { clientId: 'cut-on-sub' });
      const got = collect(sub);
      await sub.subscribeAsync('cut-on/#', { qos: 1 });
      const first = (await RawClient.connect(proxy.port, { clientId: 'cut-on-pub' })).client;
      first.send({ cmd: 'publish', topic: 'cut-on/a', payload: Buffer.from('one'), qos: 1, messageId: 7, retain: false, dup: false });
      assert.ok(await first.closedWithin(3000));
      assert.equal(first.all('puback').length, 0);
      const second = (await RawClient.connect(proxy.port, { clientId: 'cut-on-pub' })).client;
      second.send({ cmd: 'publish', topic: 'cut-on/a', payload: Buffer.from('two'), qos: 1, messageId: 8, retain: false, dup: false });
      assert.equal((await second.expect('puback')).messageId, 8);
      await second.disconnect();
      await waitUntil(() => got.length === 2, 3000, 'both messages');
      assert.deepEqual(
        got.map((m) => m.payload),
        ['one', 'two'],
      );
      assert.deepEqual(
        seen.packets.filter((p) => p.type === 'PUBACK').map((p) => p.fate),
        ['cut', 'forwarded'],
      );
      await end(sub);
    });
  });

  test('--cut-prob P with a seed: the same seed breaks the same packet, another seed another', async () => {
    const cutAt = async (seed: number) => {
      let at = -1;
      await withProxy(
        { cutProbability: 0.1 },
        async (_proxy, seen) => {
          const { client } = await RawClient.connect(_proxy.port, { clientId: `prob-${seed}` }).catch(() => ({ client: undefined }));
          for (let i = 0; client?.isOpen && i < 200; i++) {
            client.send({ cmd: 'pingreq' });
            await client.expect('pingresp', 1000).catch(() => undefined);
          }
          at = seen.packets.findIndex((p) => p.fate === 'cut');
        },
        seed,
      );
      return at;
    };
    const [a, again, other] = [await cutAt(7), await cutAt(7), await cutAt(8)];
    assert.ok(a > 0, `a cut happened (at packet ${a})`);
    assert.equal(again, a);
    assert.notEqual(other, a);
  });

  test('--delay and --rate slow every packet down, in order', async () => {
    await withProxy({ delayMs: 100, jitterMs: 30 }, async (proxy) => {
      const client = await connectClient(proxy.url, { clientId: 'delay' });
      const got = collect(client);
      await client.subscribeAsync('delay/#', { qos: 0 });
      const started = performance.now();
      for (let i = 0; i < 20; i++) client.publish('delay/x', String(i), { qos: 0 });
      await waitUntil(() => got.length === 20, 5000, '20 messages');
      assert.ok(performance.now() - started >= 200, 'each message crossed the link twice, 100 ms each way');
      assert.deepEqual(
        got.map((m) => Number(m.payload)),
        Array.from({ length: 20 }, (_, i) => i),
        'jitter never reorders',
      );
      await end(client);
    });
    await withProxy({ rateBytesPerSecond: 2000 }, async (proxy) => {
      const client = await connectClient(proxy.url, { clientId: 'rate' });
      const started = performance.now();
      for (let i = 0; i < 10; i++) client.publish('rate/x', Buffer.alloc(200), { qos: 0 });
      await client.publishAsync('rate/x', 'last', { qos: 1 });
      assert.ok(performance.now() - started >= 900, '2,000+ bytes at 2,000 B/s take at least a second');
      await end(client);
    });
  });

  test('--blackhole-after S: packets vanish both ways, sockets stay open; the broker gives up at 1.5 x keep alive', async () => {
    await withProxy({ blackholeAfterSeconds: 0.2 }, async (proxy, seen) => {
      const { client } = await RawClient.connect(proxy.port, { clientId: 'silent', keepalive: 1 });
      await new Promise((r) => setTimeout(r, 300));
      client.send({ cmd: 'pingreq' });
      assert.ok(!(await client.closedWithin(500)), 'our socket stays open');
      await waitUntil(
        () => seen.events.some((e) => e.kind === 'side-closed' && /broker/.test(e.detail)),
        4000,
        'the broker closing its side',
      );
      assert.ok(client.isOpen, 'the client never learns: its socket is still open');
      assert.deepEqual(seen.packets.filter((p) => p.fate !== 'forwarded').map((p) => `${p.type}:${p.fate}`)[0], 'PINGREQ:dropped');
      assert.ok(seen.events.some((e) => e.kind === 'silent'));
      client.destroy();
      await waitUntil(() => proxy.connections.size === 0, 3000, 'the connection gone');
    });
  });
});

describe('mqttlab proxy (CLI)', () => {
  test('--json prints one JSON object per packet; a bad --cut-on is one line of error', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'proxy', '--listen', `127.0.0.1:${port}`, '--to', b.url, '--json', '--payload', 'hex'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    try {
      await waitForPort(port, 10_000, () => child.exitCode !== null);
      const client = await connectClient(`mqtt://127.0.0.1:${port}`, { clientId: 'cli-json' });
      await client.publishAsync('cli/x', 'AB', { qos: 1 });
      await end(client);
      await waitUntil(() => stdout.includes('"DISCONNECT"'), 5000, 'the DISCONNECT line');
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    }
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const publish = lines.find((l) => l.type === 'PUBLISH')!;
    assert.deepEqual(
      { ...publish, time: undefined },
      {
        time: undefined,
        connection: publish.connection,
        clientId: 'cli-json',
        direction: 'to-broker',
        type: 'PUBLISH',
        bytes: publish.bytes,
        fate: 'forwarded',
        protocolVersion: 5,
        packetId: publish.packetId,
        qos: 1,
        dup: false,
        retain: false,
        topic: 'cli/x',
        payload: '4142',
      },
    );
    assert.deepEqual(
      lines.filter((l) => l.type).map((l) => l.type),
      ['CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'DISCONNECT'],
    );

    const bad = spawn(process.execPath, [CLI, 'proxy', '--cut-on', 'pubak'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    bad.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise((r) => bad.once('exit', r));
    assert.notEqual(code, 0);
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
    assert.match(stderr, /unknown packet type "pubak"/);
  });
});
