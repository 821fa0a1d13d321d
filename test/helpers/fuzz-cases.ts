/**
 * The fuzz corpus: seeded generators of malformed, mutated and extreme MQTT packets, shared by the
 * broker's fuzzer (test/broker/fuzz.test.ts) and the link proxy's (test/link/proxy-fuzz.test.ts).
 */
import mqttPacket, { type Packet } from 'mqtt-packet';
import { pkt, props, str, u16, varint } from './wire-bytes.js';

/** mulberry32: a small, fast 32-bit PRNG, so a seed replays the same cases on any machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The random draws the generators use. */
export type Rand = ReturnType<typeof makeRand>;
/** Draws from a seeded PRNG: integers, picks, bytes, topic words. */
export function makeRand(seed: number) {
  const next = prng(seed);
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(0, 255)));
  const word = () => Array.from({ length: int(1, 6) }, () => pick('abcdefghijklmnopqrstuvwxyz0123456789-_'.split(''))).join('');
  const topic = () => Array.from({ length: int(1, 4) }, word).join('/');
  return { next, int, pick, bytes, word, topic };
}

/** Property identifiers defined by MQTT 5.0 §2.2.2.2; any other is a Malformed Packet. */
const DEFINED_PROPERTIES = new Set([
  0x01, 0x02, 0x03, 0x08, 0x09, 0x0b, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1c, 0x1f, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26,
  0x27, 0x28, 0x29, 0x2a,
]);
const UNDEFINED_PROPERTIES = Array.from({ length: 0x80 }, (_, i) => i).filter((i) => !DEFINED_PROPERTIES.has(i));

/** Ill-formed UTF-8 sequences [MQTT-1.5.4-1] and U+0000 [MQTT-1.5.4-2]. */
const BAD_UTF8 = [[0xc0, 0x80], [0xff], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x00]];

/** One fuzz case: bytes sent after an optional valid CONNECT, and the DISCONNECT code the spec requires, if any. */
export interface Case {
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

/** A valid CONNECT of that version, encoded by mqtt-packet. */
export const connectBytes = (version: 4 | 5, clientId: string) =>
  Buffer.from(
    mqttPacket.generate(
      { cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, keepalive: 0, clientId },
      { protocolVersion: version },
    ),
  );

/** A random valid packet a client may send after CONNECT (or a CONNECT), encoded by mqtt-packet. */
export function validPacket(r: Rand, version: 4 | 5): Buffer {
  const id = r.int(1, 65535);
  const v5 = version === 5;
  const candidates: Array<() => Packet> = [
    () => ({
      cmd: 'publish',
      topic: r.topic(),
      payload: r.bytes(r.int(0, 40)),
      qos: r.pick([0, 1, 2] as const),
      retain: r.next() < 0.2,
      dup: false,
      messageId: id,
      ...(v5 && {
        properties: {
          ...(r.next() < 0.5 && { messageExpiryInterval: r.int(1, 100) }),
          ...(r.next() < 0.3 && { contentType: r.word() }),
          ...(r.next() < 0.3 && { userProperties: { [r.word()]: r.word() } }),
          ...(r.next() < 0.3 && { topicAlias: r.int(1, 10) }),
        },
      }),
    }),
    () => ({
      cmd: 'subscribe',
      messageId: id,
      subscriptions: [
        {
          topic: r.pick(['#', '+/x', r.topic(), `${r.word()}/#`]),
          qos: r.pick([0, 1, 2] as const),
          ...(v5 && { nl: r.next() < 0.3, rap: r.next() < 0.3, rh: r.pick([0, 1, 2] as const) }),
        },
      ],
      ...(v5 && { properties: r.next() < 0.5 ? { subscriptionIdentifier: r.int(1, 1000) } : {} }),
    }),
    () => ({ cmd: 'unsubscribe', messageId: id, unsubscriptions: [r.topic()] }),
    () => ({
      cmd: r.pick(['puback', 'pubrec', 'pubcomp'] as const),
      messageId: id,
      ...(v5 && { reasonCode: r.pick([0, 0x10, 0x80, 0x92]) }),
    }),
    () => ({ cmd: 'pubrel', messageId: id, ...(v5 && { reasonCode: r.pick([0, 0x92]) }) }),
    () => ({ cmd: 'pingreq' }),
    () => ({
      cmd: 'disconnect',
      ...(v5 && { reasonCode: r.pick([0, 4, 0x80]), properties: r.next() < 0.5 ? { sessionExpiryInterval: 0 } : {} }),
    }),
    () => ({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: version,
      clean: r.next() < 0.7,
      keepalive: r.int(0, 120),
      clientId: r.word(),
      ...(r.next() < 0.3 && { username: r.word(), password: r.bytes(r.int(0, 8)) }),
      ...(r.next() < 0.3 && {
        will: { topic: r.topic(), payload: r.bytes(r.int(0, 8)), qos: r.pick([0, 1, 2] as const), retain: r.next() < 0.5 },
      }),
      ...(v5 && {
        properties: {
          ...(r.next() < 0.5 && { sessionExpiryInterval: r.int(0, 30) }),
          ...(r.next() < 0.5 && { receiveMaximum: r.int(1, 100) }),
        },
      }),
    }),
  ];
  return Buffer.from(mqttPacket.generate(r.pick(candidates)(), { protocolVersion: version }));
}

/** The limits of the broker under test, which decide the answers to some families. */
export interface BrokerLimits {
  maxPacketSize: number;
  maxTopicLevels: number;
}

/** Families of cases; those with `disconnect` check the code the spec gives. */
export function makeCase(r: Rand, n: number, limits: BrokerLimits): Case {
  const family = r.int(0, 18);
  if (family > 12) return extremeCase(r, family, limits.maxTopicLevels);
  const qos = r.pick([1, 2]);
  switch (family) {
    case 0: {
      // [MQTT-3.3.2-2] a wildcard in a Topic Name → 0x90 Topic Name invalid.
      const levels = r.topic().split('/');
      levels.splice(r.int(0, levels.length), 0, r.pick(['+', '#', `${r.word()}+`, `#${r.word()}`]));
      const q = r.pick([0, 1, 2]);
      return {
        family: 'wildcard in PUBLISH topic',
        after: 5,
        bytes: pkt(0x30 | (q << 1), str(levels.join('/')), q > 0 ? u16(r.int(1, 65535)) : Buffer.alloc(0), props(), r.bytes(r.int(0, 20))),
        disconnect: 0x90,
      };
    }
    case 1:
      // [MQTT-2.2.1-3] QoS > 0 PUBLISH with Packet Identifier 0 → 0x82 Protocol Error.
      return {
        family: 'PUBLISH packet id 0 at QoS>0',
        after: 5,
        bytes: pkt(0x30 | (qos << 1), str(r.topic()), u16(0), props(), r.bytes(r.int(0, 20))),
        disconnect: 0x82,
      };
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
      return {
        family: 'duplicate PUBLISH property',
        after: 5,
        bytes: pkt(
          0x30 | (q << 1),
          str(r.topic()),
          q > 0 ? u16(r.int(1, 65535)) : Buffer.alloc(0),
          props(property(), property()),
          r.bytes(r.int(0, 10)),
        ),
        disconnect: 0x82,
      };
    }
    case 4: {
      // §2.2.2.2: an undefined property identifier → 0x81 Malformed Packet.
      const q = r.pick([0, 1, 2]);
      return {
        family: 'undefined property id',
        after: 5,
        bytes: pkt(
          0x30 | (q << 1),
          str(r.topic()),
          q > 0 ? u16(r.int(1, 65535)) : Buffer.alloc(0),
          props(Buffer.from([r.pick(UNDEFINED_PROPERTIES)]), r.bytes(r.int(0, 4))),
          r.bytes(r.int(0, 10)),
        ),
        disconnect: 0x81,
      };
    }
    case 5: {
      // [MQTT-1.5.4-1], [MQTT-1.5.4-2] ill-formed UTF-8 or U+0000 in a topic → 0x81 Malformed Packet.
      const t = Buffer.from(r.topic());
      const at = r.int(0, t.length);
      const topic = Buffer.concat([t.subarray(0, at), Buffer.from(r.pick(BAD_UTF8)), t.subarray(at)]);
      return r.next() < 0.5
        ? {
            family: 'invalid UTF-8 in PUBLISH topic',
            after: 5,
            bytes: pkt(0x30, str(topic), props(), r.bytes(r.int(0, 10))),
            disconnect: 0x81,
          }
        : {
            family: 'invalid UTF-8 in SUBSCRIBE filter',
            after: 5,
            bytes: pkt(0x82, u16(r.int(1, 65535)), props(), str(topic), Buffer.from([r.int(0, 2)])),
            disconnect: 0x81,
          };
    }
    case 6: {
      // Remaining Length beyond our Maximum Packet Size → 0x95 Packet too large [MQTT-3.2.2-15], before the body arrives.
      const declared = r.int(limits.maxPacketSize, 268_435_455);
      return {
        family: 'oversized remaining length',
        after: 5,
        bytes: Buffer.concat([Buffer.from([r.pick([0x30, 0x32, 0x82, 0xa2])]), varint(declared), r.bytes(r.int(0, 64))]),
        disconnect: 0x95,
      };
    }
    case 7: {
      // A topic length running past the end of the packet → 0x81 Malformed Packet.
      const t = Buffer.from(r.topic());
      return { family: 'truncated PUBLISH topic', after: 5, bytes: pkt(0x30, u16(t.length + r.int(1, 50)), t), disconnect: 0x81 };
    }
    case 8: {
      // A fifth Remaining Length byte [MQTT-1.5.5-1] → 0x81 Malformed Packet.
      return {
        family: 'five-byte remaining length',
        after: 5,
        bytes: Buffer.from([
          r.pick([0x30, 0x82, 0xc0]),
          0x80 | r.int(0, 127),
          0x80 | r.int(0, 127),
          0x80 | r.int(0, 127),
          0x80 | r.int(0, 127),
          r.int(0, 127),
        ]),
        disconnect: 0x81,
      };
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
function extremeCase(r: Rand, family: number, maxTopicLevels: number): Case {
  const q = r.pick([0, 1, 2]);
  const id = () => (q > 0 ? u16(r.int(1, 65535)) : Buffer.alloc(0));
  switch (family) {
    case 13:
      // Past maxTopicLevels → 0x90 Topic Name invalid (MQTT 5.0 §3.14.2.1).
      return {
        family: 'PUBLISH topic past the level limit',
        after: 5,
        bytes: pkt(
          0x30 | (q << 1) | (r.next() < 0.5 ? 1 : 0),
          str(deepTopic(r, r.int(maxTopicLevels + 1, 20_000))),
          id(),
          props(),
          r.bytes(r.int(0, 20)),
        ),
        disconnect: 0x90,
      };
    case 14: {
      // Deep filters among valid ones: 0x8F for each deep one, the others granted.
      const filters = Array.from({ length: r.int(1, 8) }, () =>
        r.next() < 0.5 ? deepTopic(r, r.int(maxTopicLevels + 1, 5000)) : `${r.topic()}/#`,
      );
      const body = [u16(r.int(1, 65535)), props(), ...filters.flatMap((f) => [str(f), Buffer.from([1])])];
      return {
        family: 'SUBSCRIBE filters past the level limit',
        after: 5,
        bytes: pkt(0x82, ...body),
        suback: filters.map((f) => (f.endsWith('/#') ? 1 : 0x8f)),
      };
    }
    case 15: {
      // Long topics (up to 30 KB) within the level limit, big payloads, retained or not: accepted.
      const after = r.pick([5, 4] as const);
      const topic = str(`${r.topic()}/${'x'.repeat(r.int(1000, 30_000))}`);
      const payload = Buffer.alloc(r.int(0, 30_000), r.int(0, 255));
      const first = 0x30 | (q << 1) | (r.next() < 0.3 ? 1 : 0);
      return {
        family: 'long topic and big payload',
        after,
        bytes: after === 5 ? pkt(first, topic, id(), props(), payload) : pkt(first, topic, id(), payload),
      };
    }
    case 16: {
      // Many User Properties (up to 1,000): accepted (MQTT 5.0 §3.3.2.3.7 allows any number).
      const users = Array.from({ length: r.int(1, 1000) }, () => Buffer.concat([Buffer.from([0x26]), str(r.word()), str(r.word())]));
      return {
        family: 'PUBLISH with many user properties',
        after: 5,
        bytes: pkt(0x30 | (q << 1), str(r.topic()), id(), props(...users), r.bytes(r.int(0, 20))),
      };
    }
    case 17: {
      // Many filters in one SUBSCRIBE: one reason code each.
      const qos = Array.from({ length: r.int(50, 1500) }, () => r.int(0, 2));
      const body = [u16(r.int(1, 65535)), props(), ...qos.flatMap((granted) => [str(`${r.topic()}/+`), Buffer.from([granted])])];
      return { family: 'SUBSCRIBE with many filters', after: 5, bytes: pkt(0x82, ...body), suback: qos };
    }
    default: {
      // A will on a topic past the level limit → CONNACK 0x90.
      const will = deepTopic(r, r.int(maxTopicLevels + 1, 10_000));
      const connect = mqttPacket.generate(
        {
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 5,
          clean: true,
          keepalive: 0,
          clientId: `deep-will-${r.word()}`,
          will: { topic: will, payload: r.bytes(4), qos: 0, retain: false },
        },
        { protocolVersion: 5 },
      );
      return { family: 'will topic past the level limit', after: 'none', bytes: Buffer.from(connect), connack: 0x90 };
    }
  }
}
