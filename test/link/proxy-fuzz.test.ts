import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, test } from 'node:test';
import { createLinkProxy, type LinkPacket, type LinkProxy } from '../../src/link/index.js';
import { connectBytes, makeCase, makeRand, type Case } from '../helpers/fuzz-cases.js';

// The fuzz corpus of the broker's fuzzer, sent through the proxy to a sink that records what arrives:
// the proxy must forward every byte untouched, in order, report every byte in its packet events
// (decoded or MALFORMED), pass the FIN on, and never throw (an exception would end this process).

const SEED = 20261201;
const COUNT = 2000;
const CONCURRENCY = 16;
const MAX_PACKET = 4096;

let sink: Server;
let proxy: LinkProxy;
/** Bytes each sink connection received. */
const arrived = new Map<number, Buffer[]>();
let sinkConnections = 0;

before(async () => {
  // The sink ends its side when the proxy passes the client's FIN on, as a broker that reads to the end would.
  sink = createServer({ allowHalfOpen: true }, (socket) => {
    const id = ++sinkConnections;
    const chunks: Buffer[] = [];
    arrived.set(id, chunks);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('end', () => socket.end());
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', () => resolve()));
  proxy = await createLinkProxy({ to: `127.0.0.1:${(sink.address() as AddressInfo).port}`, maxPacketSize: MAX_PACKET });
});
after(async () => {
  await proxy.close();
  await new Promise<void>((resolve) => sink.close(() => resolve()));
});

/** Sends one case through the proxy and half-closes; resolves when the proxy closes our socket. */
function send(bytes: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(proxy.port, '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, 5000);
    socket.on('error', () => {});
    socket.on('data', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.on('connect', () => socket.end(bytes));
  });
}

test(`${COUNT} fuzz cases through the proxy: every byte forwarded untouched and accounted for, no crash`, {
  timeout: 120_000,
}, async () => {
  const r = makeRand(SEED);
  const cases: Case[] = Array.from({ length: COUNT }, (_, n) => makeCase(r, n, { maxPacketSize: MAX_PACKET, maxTopicLevels: 200 }));
  const inputs = cases.map((c, i) => Buffer.concat([c.after === 'none' ? Buffer.alloc(0) : connectBytes(c.after, `fuzz-${i}`), c.bytes]));
  const reported = new Map<number, LinkPacket[]>();
  proxy.on('packet', (p) => {
    const list = reported.get(p.connection) ?? [];
    list.push({ ...p, raw: Buffer.from(p.raw) });
    reported.set(p.connection, list);
  });
  const hung: number[] = [];
  let next = 0;
  async function worker(): Promise<void> {
    while (next < inputs.length) {
      const i = next++;
      if (!(await send(inputs[i]!))) hung.push(i);
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  assert.deepEqual(hung, [], 'the proxy closed every connection after the sink closed');

  // Connections and sink connections pair up by content: compare as multisets of byte strings.
  const sent = inputs.map((b) => b.toString('hex')).sort();
  const received = [...arrived.values()].map((chunks) => Buffer.concat(chunks).toString('hex')).sort();
  assert.equal(received.length, sent.length, 'one sink connection per case');
  assert.deepEqual(received, sent, 'the sink received exactly the bytes sent, in order');

  const accounted = [...reported.values()].map((ps) =>
    Buffer.concat(ps.filter((p) => p.direction === 'to-broker').map((p) => p.raw)).toString('hex'),
  );
  assert.deepEqual(
    accounted.filter((hex) => hex !== '').sort(),
    sent.filter((hex) => hex !== '').sort(),
    'the packet events cover every byte',
  );
  const all = [...reported.values()].flat();
  assert.ok(
    all.every((p) => p.fate === 'forwarded'),
    'nothing cut or dropped without faults',
  );
  const malformed = all.filter((p) => p.malformed !== undefined);
  assert.ok(malformed.length > COUNT / 10, `the corpus shows as MALFORMED packets (${malformed.length})`);
  assert.ok(
    malformed.some((p) => /Remaining Length/.test(p.malformed!)) && malformed.some((p) => /larger than 4096/.test(p.malformed!)),
    'framing failures are named',
  );
});
