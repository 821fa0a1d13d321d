import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { startEmbedded, type TestBroker } from '../helpers/brokers.js';
import { collect, connectClient, end, waitUntil } from '../helpers/clients.js';
import { connectBytes, makeCase, makeRand, type Case } from '../helpers/fuzz-cases.js';

// A seeded fuzzer over real sockets: thousands of malformed and mutated packets, each on its own
// connection (bounded concurrency), against the embedded broker. Families whose answer the spec fixes
// are asserted case by case; for the rest the broker must close or answer without an internal error,
// and afterwards serve a healthy client. `npm test` runs one fixed seed, so every run checks the same
// cases; FUZZ_SEED=<n> replays another, FUZZ_SEED=random draws a fresh one (printed) for exploring;
// FUZZ_COUNT sets the number of cases (default 3000, well under the 30 s budget of `npm test`).

const DEFAULT_SEED = 20261201;
const SEED =
  process.env.FUZZ_SEED === undefined
    ? DEFAULT_SEED
    : process.env.FUZZ_SEED === 'random'
      ? (Date.now() ^ (process.pid << 16)) >>> 0
      : Number(process.env.FUZZ_SEED) >>> 0;
const COUNT = process.env.FUZZ_COUNT !== undefined ? Number(process.env.FUZZ_COUNT) : 3000;
const CONCURRENCY = 16;
/** The broker's Maximum Packet Size here, so "oversized remaining length" has a defined answer (0x95). */
const MAX_PACKET = 64 * 1024;
/** The broker's topic level limit (its default): the extreme families go past it. */
const MAX_LEVELS = 200;
/** Longest wait for the broker to close a connection after our FIN; more is a hang. */
const CLOSE_TIMEOUT_MS = 5000;

/** What came back on one connection before the broker closed it. */
interface Seen {
  packets: Packet[];
  closed: boolean;
}

/** Sends the case (CONNECT first if asked) then FIN, and collects the answers until the broker closes. */
function runCase(port: number, c: Case, index: number): Promise<Seen> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const packets: Packet[] = [];
    const parser = mqttPacket.parser({ protocolVersion: c.after === 4 ? 4 : 5 });
    parser.on('packet', (p: Packet) => packets.push(p));
    parser.on('error', () => {});
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ packets, closed: false });
    }, CLOSE_TIMEOUT_MS);
    socket.on('data', (d) => parser.parse(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ packets, closed: true });
    });
    socket.on('connect', () => {
      const prefix = c.after === 'none' ? Buffer.alloc(0) : connectBytes(c.after, `fuzz-${index}`);
      socket.end(Buffer.concat([prefix, c.bytes]));
    });
  });
}

let b: TestBroker;
const internalErrors: string[] = [];
before(async () => {
  b = await startEmbedded({ embedded: { maximumPacketSize: MAX_PACKET } });
  b.broker!.events.on('connectionError', (_address, error) => internalErrors.push(error.stack ?? error.message));
});
after(() => b.close());

// Long runs (FUZZ_COUNT=200000) take minutes on a loaded machine: allow 20 ms a case, at least 10 minutes.
test(`fuzz: ${COUNT} malformed and mutated packets over real sockets (FUZZ_SEED=${SEED})`, {
  timeout: Math.max(600_000, COUNT * 20),
}, async (t) => {
  console.log(`fuzz: FUZZ_SEED=${SEED} FUZZ_COUNT=${COUNT}`);
  const r = makeRand(SEED);
  const failures: string[] = [];
  const families = new Map<string, number>();
  let next = 0;
  const describeCase = (i: number, c: Case) => `case ${i} (${c.family}, after ${c.after}): ${c.bytes.toString('hex').slice(0, 600)}`;
  async function worker(): Promise<void> {
    while (next < COUNT && failures.length < 20) {
      // Made when taken (in index order, so a seed replays the same cases), not all up front: a long run's
      // cases would not fit in memory.
      const i = next++;
      const c = makeCase(r, i, { maxPacketSize: MAX_PACKET, maxTopicLevels: MAX_LEVELS });
      families.set(c.family, (families.get(c.family) ?? 0) + 1);
      const seen = await runCase(b.port, c, i);
      if (!seen.closed) failures.push(`${describeCase(i, c)}: not closed within ${CLOSE_TIMEOUT_MS} ms of our FIN`);
      const disconnect = seen.packets.find((p) => p.cmd === 'disconnect');
      const code = disconnect?.cmd === 'disconnect' ? (disconnect.reasonCode ?? 0) : undefined;
      if (code === 0x83) failures.push(`${describeCase(i, c)}: DISCONNECT 0x83 (an internal error, not a checked violation)`);
      if (c.suback !== undefined) {
        const suback = seen.packets.find((p) => p.cmd === 'suback');
        const granted = suback?.cmd === 'suback' ? suback.granted : undefined;
        if (JSON.stringify(granted) !== JSON.stringify(c.suback))
          failures.push(`${describeCase(i, c)}: expected SUBACK ${JSON.stringify(c.suback)}, got ${JSON.stringify(granted)}`);
      }
      if (c.connack !== undefined) {
        const connack = seen.packets.find((p) => p.cmd === 'connack');
        const rc = connack?.cmd === 'connack' ? connack.reasonCode : undefined;
        if (rc !== c.connack) failures.push(`${describeCase(i, c)}: expected CONNACK 0x${c.connack.toString(16)}, got ${rc}`);
      }
      if (c.disconnect !== undefined && code !== c.disconnect) {
        const got = code === undefined ? `[${seen.packets.map((p) => p.cmd).join(', ')}]` : `0x${code.toString(16)}`;
        failures.push(`${describeCase(i, c)}: expected DISCONNECT 0x${c.disconnect.toString(16)}, got ${got}`);
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  t.diagnostic(`families: ${[...families].map(([f, n]) => `${f} ${n}`).join(', ')}`);
  assert.deepEqual(failures, [], `seed ${SEED}`);
  assert.deepEqual(internalErrors, [], 'no packet reached an unchecked exception (connectionError)');
  // Every fuzz connection is gone from the broker's books.
  await waitUntil(() => b.broker!.connections.size === 0, 5000, 'all fuzz connections closed');
});

test('after the fuzzing a healthy client still subscribes and receives at QoS 0, 1 and 2', async () => {
  const client = await connectClient(b.url, { clientId: 'healthy-after-fuzz' });
  try {
    const got = collect(client);
    await client.subscribeAsync('healthy/#', { qos: 2 });
    for (const qos of [0, 1, 2] as const) await client.publishAsync(`healthy/${qos}`, `qos ${qos}`, { qos });
    await waitUntil(() => got.length === 3, 3000, 'three messages');
    assert.deepEqual(got.map((m) => m.payload).sort(), ['qos 0', 'qos 1', 'qos 2']);
  } finally {
    await end(client);
  }
});
