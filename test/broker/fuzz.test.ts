import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { startEmbedded, type TestBroker } from '../helpers/brokers.js';
import { collect, connectClient, end, waitUntil } from '../helpers/clients.js';
import { pkt, props, str, u16, varint } from '../helpers/wire-bytes.js';

// A seeded fuzzer over real sockets: thousands of malformed and mutated packets, each on its own
// connection (bounded concurrency), against the embedded broker. Families whose answer the spec fixes
// are asserted case by case; for the rest the broker must close or answer without an internal error,
// and afterwards serve a healthy client. `npm test` runs one fixed seed, so every run checks the same
// cases; FUZZ_SEED=<n> replays another, FUZZ_SEED=random draws a fresh one (printed) for exploring;
// FUZZ_COUNT sets the number of cases (default 3000, well under the 30 s budget of `npm test`).

const DEFAULT_SEED = 20261201;
const SEED =
  process.env.FUZZ_SEED === undefined ? DEFAULT_SEED : process.env.FUZZ_SEED === 'random' ? (Date.now() ^ (process.pid << 16)) >>> 0 : Number(process.env.FUZZ_SEED) >>> 0;
const COUNT = process.env.FUZZ_COUNT !== undefined ? Number(process.env.FUZZ_COUNT) : 3000;
const CONCURRENCY = 16;
/** The broker's Maximum Packet Size here, so "oversized remaining length" has a defined answer (0x95). */
const MAX_PACKET = 64 * 1024;
/** The broker's topic level limit (its default): the extreme families go past it. */
const MAX_LEVELS = 200;
/** Longest wait for the broker to close a connection after our FIN; more is a hang. */
const CLOSE_TIMEOUT_MS = 5000;

/** mulberry32: a small, fast 32-bit PRNG, so a seed replays the same cases on any machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = ReturnType<typeof makeRand>;
function makeRand(seed: number) {
  const next = prng(seed);
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(0, 255)));
  const word = () => Array.from({ length: int(1, 6) }, () => pick('abcdefghijklmnopqrstuvwxyz0123456789-_'.split(''))).join('');
  const topic = () => Array.from({ length: int(1, 4) }, word).join('/');
  return { next, int, pick, bytes, word, topic };
}

/** Property identifiers defined by MQTT 5.0 §2.2.2.2; any other is a Malformed Packet. */
const DEFINED_PROPERTIES = new Set([0x01, 0x02, 0x03, 0x08, 0x09, 0x0b, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1c, 0x1f, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a]);
const UNDEFINED_PROPERTIES = Array.from({ length: 0x80 }, (_, i) => i).filter((i) => !DEFINED_PROPERTIES.has(i));

/** Ill-formed UTF-8 sequences [MQTT-1.5.4-1] and U+0000 [MQTT-1.5.4-2]. */
const BAD_UTF8 = [[0xc0, 0x80], [0xff], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x00]];

/** One fuzz case: bytes sent after an optional valid CONNECT, and the DISCONNECT code the spec requires, if any. */
interface Case {
  family: string;
  /** 'none': the bytes open the connection; 5 / 4: a valid CONNECT of that version goes first. */
  after: 'none' | 5 | 4;
  bytes: Buffer;
  /** Reason code of the DISCONNECT the server must send (MQTT 5.0 §4.13: SHOULD, which we do). */
  disconnect?: number;
  /** The reason codes of the SUBACK the server must send. */
  suback?: number[];
  /** The reason code of the CONNACK the server must send. */
  connack?: number;
}

const connectBytes = (version: 4 | 5, clientId: string) =>
  Buffer.from(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, keepalive: 0, clientId }, { protocolVersion: version }));

/** A random valid packet a client may send after CONNECT (or a CONNECT), encoded by mqtt-packet. */
function validPacket(r: Rand, version: 4 | 5): Buffer {
  const id = r.int(1, 65535);
  const v5 = version === 5;
  const candidates: Array<() => Packet> = [
    () => ({
      cmd: 'publish', topic: r.topic(), payload: r.bytes(r.int(0, 40)), qos: r.pick([0, 1, 2] as const), retain: r.next() < 0.2, dup: false, messageId: id,
      ...(v5 && { properties: { ...(r.next() < 0.5 && { messageExpiryInterval: r.int(1, 100) }), ...(r.next() < 0.3 && { contentType: r.word() }), ...(r.next() < 0.3 && { userProperties: { [r.word()]: r.word() } }), ...(r.next() < 0.3 && { topicAlias: r.int(1, 10) }) } }),
    }),
    () => ({ cmd: 'subscribe', messageId: id, subscriptions: [{ topic: r.pick(['#', '+/x', r.topic(), `${r.word()}/#`]), qos: r.pick([0, 1, 2] as const), ...(v5 && { nl: r.next() < 0.3, rap: r.next() < 0.3, rh: r.pick([0, 1, 2] as const) }) }], ...(v5 && { properties: r.next() < 0.5 ? { subscriptionIdentifier: r.int(1, 1000) } : {} }) }),
    () => ({ cmd: 'unsubscribe', messageId: id, unsubscriptions: [r.topic()] }),
    () => ({ cmd: r.pick(['puback', 'pubrec', 'pubcomp'] as const), messageId: id, ...(v5 && { reasonCode: r.pick([0, 0x10, 0x80, 0x92]) }) }),
    () => ({ cmd: 'pubrel', messageId: id, ...(v5 && { reasonCode: r.pick([0, 0x92]) }) }),
    () => ({ cmd: 'pingreq' }),
    () => ({ cmd: 'disconnect', ...(v5 && { reasonCode: r.pick([0, 4, 0x80]), properties: r.next() < 0.5 ? { sessionExpiryInterval: 0 } : {} }) }),
    () => ({
      cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: r.next() < 0.7, keepalive: r.int(0, 120), clientId: r.word(),
      ...(r.next() < 0.3 && { username: r.word(), password: r.bytes(r.int(0, 8)) }),
      ...(r.next() < 0.3 && { will: { topic: r.topic(), payload: r.bytes(r.int(0, 8)), qos: r.pick([0, 1, 2] as const), retain: r.next() < 0.5 } }),
      ...(v5 && { properties: { ...(r.next() < 0.5 && { sessionExpiryInterval: r.int(0, 30) }), ...(r.next() < 0.5 && { receiveMaximum: r.int(1, 100) }) } }),
    }),
  ];
  return Buffer.from(mqttPacket.generate(r.pick(candidates)(), { protocolVersion: version }));
}

/** Families of cases; those with `disconnect` check the code the spec gives. */
function makeCase(r: Rand, n: number): Case {
  const family = r.int(0, 18);
  if (family > 12) return extremeCase(r, family);
  const qos = r.pick([1, 2]);
  switch (family) {
    case 0: {
      // [MQTT-3.3.2-2] a wildcard in a Topic Name → 0x90 Topic Name invalid.
      const levels = r.topic().split('/');
      levels.splice(r.int(0, levels.length), 0, r.pick(['+', '#', `${r.word()}+`, `#${r.word()}`]));
      const q = r.pick([0, 1, 2]);
      return { family: 'wildcard in PUBLISH topic', after: 5, bytes: pkt(0x30 | (q << 1), str(levels.join('/')), q > 0 ? u16(r.int(1, 65535)) : Buffer.alloc(0), props(), r.bytes(r.int(0, 20))), disconnect: 0x90 };
    }
    case 1:
      // [MQTT-2.2.1-3] QoS > 0 PUBLISH with Packet Identifier 0 → 0x82 Protocol Error.
      return { family: 'PUBLISH packet id 0 at QoS>0', after: 5, bytes: pkt(0x30 | (qos << 1), str(r.topic()), u16(0), props(), r.bytes(r.int(0, 20))), disconnect: 0x82 };
    case 2: {
      // [MQTT-2.2.1-3] SUBSCRIBE / UNSUBSCRIBE with Packet Identifier 0 → 0x82.
      const subscribe = r.next() < 0.5;
      const body = subscribe ? [u16(0), props(), str(r.topic()), Buffer.from([r.int(0, 2)])] : [u16(0), props(), str(r.topic())];
      return { family: 'SUBSCRIBE/UNSUBSCRIBE packet id 0', after: 5, bytes: pkt(subscribe ? 0x82 : 0xa2, ...body), disconnect: 0x82 };
    }
    case 3: {
      // [MQTT-2.2.2-2] a property other than User Property included twice → 0x82 Protocol Error (§2.2.2.2).
      const property = r.pick([
        () => Buffer.from([0x01, r.int(0, 1)]),
        () => Buffer.concat([Buffer.from([0x02]), Buffer.from([0, 0, 0, r.int(1, 200)])]),
        () => Buffer.concat([Buffer.from([0x03]), str(r.word())]),
        () => Buffer.concat([Buffer.from([0x08]), str(r.topic())]),
        () => Buffer.concat([Buffer.from([0x09]), str(r.bytes(r.int(0, 8)))]),
        () => Buffer.concat([Buffer.from([0x23]), u16(r.int(1, 10))]),
      ]);
      const q = r.pick([0, 1, 2]);
      return { family: 'duplicate PUBLISH property', after: 5, bytes: pkt(0x30 | (q << 1), str(r.topic()), q > 0 ? u16(r.int(1, 65535)) : Buffer.alloc(0), props(property(), property()), r.bytes(r.int(0, 10))), disconnect: 0x82 };
    }
    case 4: {
      // §2.2.2.2: an undefined property identifier → 0x81 Malformed Packet.
      const q = r.pick([0, 1, 2]);
      return { family: 'undefined property id', after: 5, bytes: pkt(0x30 | (q << 1), str(r.topic()), q > 0 ? u16(r.int(1, 65535)) : Buffer.alloc(0), props(Buffer.from([r.pick(UNDEFINED_PROPERTIES)]), r.bytes(r.int(0, 4))), r.bytes(r.int(0, 10))), disconnect: 0x81 };
    }
    case 5: {
      // [MQTT-1.5.4-1], [MQTT-1.5.4-2] ill-formed UTF-8 or U+0000 in a topic → 0x81 Malformed Packet.
      const t = Buffer.from(r.topic());
      const at = r.int(0, t.length);
      const topic = Buffer.concat([t.subarray(0, at), Buffer.from(r.pick(BAD_UTF8)), t.subarray(at)]);
      return r.next() < 0.5
        ? { family: 'invalid UTF-8 in PUBLISH topic', after: 5, bytes: pkt(0x30, str(topic), props(), r.bytes(r.int(0, 10))), disconnect: 0x81 }
        : { family: 'invalid UTF-8 in SUBSCRIBE filter', after: 5, bytes: pkt(0x82, u16(r.int(1, 65535)), props(), str(topic), Buffer.from([r.int(0, 2)])), disconnect: 0x81 };
    }
    case 6: {
      // Remaining Length beyond our Maximum Packet Size → 0x95 Packet too large [MQTT-3.2.2-15], before the body arrives.
      const declared = r.int(MAX_PACKET, 268_435_455);
      return { family: 'oversized remaining length', after: 5, bytes: Buffer.concat([Buffer.from([r.pick([0x30, 0x32, 0x82, 0xa2])]), varint(declared), r.bytes(r.int(0, 64))]), disconnect: 0x95 };
    }
    case 7: {
      // A topic length running past the end of the packet → 0x81 Malformed Packet.
      const t = Buffer.from(r.topic());
      return { family: 'truncated PUBLISH topic', after: 5, bytes: pkt(0x30, u16(t.length + r.int(1, 50)), t), disconnect: 0x81 };
    }
    case 8: {
      // A fifth Remaining Length byte [MQTT-1.5.5-1] → 0x81 Malformed Packet.
      return { family: 'five-byte remaining length', after: 5, bytes: Buffer.from([r.pick([0x30, 0x82, 0xc0]), 0x80 | r.int(0, 127), 0x80 | r.int(0, 127), 0x80 | r.int(0, 127), 0x80 | r.int(0, 127), r.int(0, 127)]), disconnect: 0x81 };
    }
    case 9: {
      // Random bit flips of valid packets, after a CONNECT of either version or as the first packet.
      const after = r.pick(['none', 5, 4] as const);
      const bytes = validPacket(r, after === 'none' ? r.pick([4, 5] as const) : after);
      for (let flips = r.int(1, 8); flips > 0; flips--) {
        const i = r.int(0, bytes.length - 1);
        bytes[i] = bytes[i]! ^ (1 << r.int(0, 7));
      }
      return { family: 'bit flips of a valid packet', after, bytes };
    }
    case 10: {
      // Valid packets cut short, with the Remaining Length fixed up to the shorter body (or left as it was).
      const after = r.pick([5, 4] as const);
      const whole = validPacket(r, after);
      let headerEnd = 1;
      while (headerEnd < whole.length && (whole[headerEnd]! & 0x80) !== 0) headerEnd++;
      const body = whole.subarray(headerEnd + 1, headerEnd + 1 + r.int(0, Math.max(0, whole.length - headerEnd - 2)));
      const bytes = r.next() < 0.7 ? pkt(whole[0]!, body) : whole.subarray(0, r.int(1, whole.length - 1));
      return { family: 'truncated valid packet', after, bytes };
    }
    case 11: {
      // Several valid packets spliced together with a few bytes overwritten.
      const after = r.pick([5, 4] as const);
      const bytes = Buffer.concat(Array.from({ length: r.int(2, 5) }, () => validPacket(r, after)));
      for (let k = r.int(1, 4); k > 0; k--) bytes[r.int(0, bytes.length - 1)] = r.int(0, 255);
      return { family: 'spliced and overwritten packets', after, bytes };
    }
    default:
      // Random bytes, after a CONNECT or as the first bytes of a connection (n keeps client ids apart).
      return { family: 'random bytes', after: r.pick(['none', 5, 4] as const), bytes: r.bytes(r.int(1, 64 + (n % 64))) };
  }
}

/** A topic (or filter) of `levels` short levels. */
const deepTopic = (r: Rand, levels: number) => Array.from({ length: levels }, () => r.pick(['a', 'b', 'c', '1'])).join('/');

/**
 * Well-formed packets of extreme shape (issue 11): deep and long topics, deep filters among valid ones, many
 * filters, many properties, big payloads, wills on deep topics. Valid MQTT, so each must get its answer and
 * none may cost an internal error.
 */
function extremeCase(r: Rand, family: number): Case {
  const q = r.pick([0, 1, 2]);
  const id = () => (q > 0 ? u16(r.int(1, 65535)) : Buffer.alloc(0));
  switch (family) {
    case 13:
      // Past maxTopicLevels → 0x90 Topic Name invalid (MQTT 5.0 §3.14.2.1).
      return {
        family: 'PUBLISH topic past the level limit',
        after: 5,
        bytes: pkt(0x30 | (q << 1) | (r.next() < 0.5 ? 1 : 0), str(deepTopic(r, r.int(MAX_LEVELS + 1, 20_000))), id(), props(), r.bytes(r.int(0, 20))),
        disconnect: 0x90,
      };
    case 14: {
      // Deep filters among valid ones: 0x8F for each deep one, the others granted.
      const filters = Array.from({ length: r.int(1, 8) }, () => (r.next() < 0.5 ? deepTopic(r, r.int(MAX_LEVELS + 1, 5000)) : `${r.topic()}/#`));
      const body = [u16(r.int(1, 65535)), props(), ...filters.flatMap((f) => [str(f), Buffer.from([1])])];
      return { family: 'SUBSCRIBE filters past the level limit', after: 5, bytes: pkt(0x82, ...body), suback: filters.map((f) => (f.endsWith('/#') ? 1 : 0x8f)) };
    }
    case 15: {
      // Long topics (up to 30 KB) within the level limit, big payloads, retained or not: accepted.
      const after = r.pick([5, 4] as const);
      const topic = str(`${r.topic()}/${'x'.repeat(r.int(1000, 30_000))}`);
      const payload = Buffer.alloc(r.int(0, 30_000), r.int(0, 255));
      const first = 0x30 | (q << 1) | (r.next() < 0.3 ? 1 : 0);
      return { family: 'long topic and big payload', after, bytes: after === 5 ? pkt(first, topic, id(), props(), payload) : pkt(first, topic, id(), payload) };
    }
    case 16: {
      // Many User Properties (up to 1,000): accepted (MQTT 5.0 §3.3.2.3.7 allows any number).
      const users = Array.from({ length: r.int(1, 1000) }, () => Buffer.concat([Buffer.from([0x26]), str(r.word()), str(r.word())]));
      return { family: 'PUBLISH with many user properties', after: 5, bytes: pkt(0x30 | (q << 1), str(r.topic()), id(), props(...users), r.bytes(r.int(0, 20))) };
    }
    case 17: {
      // Many filters in one SUBSCRIBE: one reason code each.
      const qos = Array.from({ length: r.int(50, 1500) }, () => r.int(0, 2));
      const body = [u16(r.int(1, 65535)), props(), ...qos.flatMap((granted) => [str(`${r.topic()}/+`), Buffer.from([granted])])];
      return { family: 'SUBSCRIBE with many filters', after: 5, bytes: pkt(0x82, ...body), suback: qos };
    }
    default: {
      // A will on a topic past the level limit → CONNACK 0x90.
      const will = deepTopic(r, r.int(MAX_LEVELS + 1, 10_000));
      const connect = mqttPacket.generate(
        { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: `deep-will-${r.word()}`, will: { topic: will, payload: r.bytes(4), qos: 0, retain: false } },
        { protocolVersion: 5 },
      );
      return { family: 'will topic past the level limit', after: 'none', bytes: Buffer.from(connect), connack: 0x90 };
    }
  }
}

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
test(`fuzz: ${COUNT} malformed and mutated packets over real sockets (FUZZ_SEED=${SEED})`, { timeout: Math.max(600_000, COUNT * 20) }, async (t) => {
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
      const c = makeCase(r, i);
      families.set(c.family, (families.get(c.family) ?? 0) + 1);
      const seen = await runCase(b.port, c, i);
      if (!seen.closed) failures.push(`${describeCase(i, c)}: not closed within ${CLOSE_TIMEOUT_MS} ms of our FIN`);
      const disconnect = seen.packets.find((p) => p.cmd === 'disconnect');
      const code = disconnect?.cmd === 'disconnect' ? disconnect.reasonCode ?? 0 : undefined;
      if (code === 0x83) failures.push(`${describeCase(i, c)}: DISCONNECT 0x83 (an internal error, not a checked violation)`);
      if (c.suback !== undefined) {
        const suback = seen.packets.find((p) => p.cmd === 'suback');
        const granted = suback?.cmd === 'suback' ? suback.granted : undefined;
        if (JSON.stringify(granted) !== JSON.stringify(c.suback)) failures.push(`${describeCase(i, c)}: expected SUBACK ${JSON.stringify(c.suback)}, got ${JSON.stringify(granted)}`);
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
