import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { describeEachBroker, startBroker, type BrokerKind, type TestBroker } from '../helpers/brokers.js';
import { collect, connectClient, end, waitUntil } from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';
import { pkt, props, str, u16 } from '../helpers/wire-bytes.js';

// Malformed packets and protocol errors (MQTT 5.0 §4.13). mqtt-packet's generator refuses to encode
// almost all of these, so every packet here is written byte by byte (test/helpers/wire-bytes.ts).

/** An MQTT 5 CONNECT: protocol name/level, connect flags, keep alive 0, properties, client id, then `rest`. */
const connect5 = (flags: number, properties: Buffer, clientId: string, ...rest: Buffer[]): Buffer =>
  pkt(0x10, str('MQTT'), [5, flags, 0, 0], properties, str(clientId), ...rest);
const NO_PROPS = [0x00];

/**
 * What the broker did with a bad packet: closed after a DISCONNECT (v5, after CONNACK) or a CONNACK
 * with that code, closed without a word, or kept the connection open (only ever as a recorded
 * Mosquitto deviation).
 */
type Outcome = { disconnect: number } | { connack: number } | 'close' | 'open';

interface Case {
  name: string;
  /** 'none': the bytes are the first on the connection; 'v5' / 'v311': sent after a successful CONNECT. */
  after: 'none' | 'v5' | 'v311';
  bytes: Buffer;
  /** What the spec asks of the server (asserted on the embedded broker). */
  embedded: Outcome;
  /** What Mosquitto 2.0.11 does; a comment explains each difference from `embedded`. */
  mosquitto?: Outcome;
}

const CASES: Case[] = [
  // ---- Before or in CONNECT: closed without CONNACK (the version is unknown or the CONNECT unreadable).
  {
    name: 'CONNECT cut short: protocol name length runs past the packet (§1.5.4)',
    after: 'none',
    bytes: pkt(0x10, [0x00, 0x04, 0x4d, 0x51, 0x54]), // "MQT" of a 4-byte name
    embedded: 'close',
  },
  {
    name: 'CONNECT cut short after the protocol level',
    after: 'none',
    bytes: pkt(0x10, str('MQTT'), [5]),
    embedded: 'close',
  },
  {
    name: 'Remaining Length with a fifth byte (§1.5.5)',
    after: 'none',
    bytes: Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f]),
    embedded: 'close',
  },
  {
    name: 'CONNECT with protocol name "MQTX" [MQTT-3.1.2-1]',
    after: 'none',
    bytes: pkt(0x10, str('MQTX'), [5, 0x02, 0, 0], NO_PROPS, str('bad-name')),
    embedded: 'close',
  },
  {
    name: 'CONNECT with reserved connect flag bit 0 set [MQTT-3.1.2-3]',
    after: 'none',
    bytes: connect5(0x03, Buffer.from(NO_PROPS), 'reserved-flag'),
    embedded: 'close',
  },
  {
    name: 'CONNECT with fixed header flags 0x1 [MQTT-2.1.3-1]',
    after: 'none',
    bytes: pkt(0x11, str('MQTT'), [5, 0x02, 0, 0], NO_PROPS, str('header-flags')),
    embedded: 'close',
  },
  {
    name: 'CONNECT with Will Flag 0 and Will QoS 1 [MQTT-3.1.2-11]',
    after: 'none',
    bytes: connect5(0x0a, Buffer.from(NO_PROPS), 'will-qos-no-will'),
    embedded: 'close',
  },
  {
    name: 'CONNECT with Will Flag 0 and Will Retain 1 [MQTT-3.1.2-13]',
    after: 'none',
    bytes: connect5(0x22, Buffer.from(NO_PROPS), 'will-retain-no-will'),
    embedded: 'close',
  },
  {
    // The CONNECT is readable, so the server answers in MQTT 5 with CONNACK 0x81 (§4.13.1).
    name: 'CONNECT with Will QoS 3 [MQTT-3.1.2-12]',
    after: 'none',
    bytes: connect5(0x1e, Buffer.from(NO_PROPS), 'will-qos-3', Buffer.from(NO_PROPS), str('will/t'), str('bye')),
    embedded: { connack: 0x81 },
    // Mosquitto closes without a CONNACK: allowed, the CONNACK is a MAY [MQTT-3.1.4-1] and §4.13.1.
    mosquitto: 'close',
  },
  {
    name: 'CONNECT with Receive Maximum 0 (§3.1.2.11.3)',
    after: 'none',
    bytes: connect5(0x02, props([0x21, 0x00, 0x00]), 'rm-zero'),
    embedded: { connack: 0x82 },
    // Mosquitto closes without a CONNACK: allowed, the CONNACK is a MAY [MQTT-3.1.4-1] and §4.13.1.
    mosquitto: 'close',
  },
  {
    name: 'CONNECT with Maximum Packet Size 0 (§3.1.2.11.4)',
    after: 'none',
    bytes: connect5(0x02, props([0x27, 0, 0, 0, 0]), 'mps-zero'),
    embedded: { connack: 0x82 },
    // Mosquitto closes without a CONNACK: allowed, the CONNACK is a MAY [MQTT-3.1.4-1] and §4.13.1.
    mosquitto: 'close',
  },
  {
    // Property checks run before the CONNECT is handled, so the embedded broker closes without a
    // CONNACK, which the spec allows (the CONNACK is a MAY [MQTT-3.1.4-1], §4.13.1).
    name: 'CONNECT with Session Expiry Interval twice (§2.2.2.2)',
    after: 'none',
    bytes: connect5(0x02, props([0x11, 0, 0, 0, 5], [0x11, 0, 0, 0, 6]), 'twice-prop'),
    embedded: 'close',
    // Mosquitto closes without a CONNACK: allowed, the CONNACK is a MAY [MQTT-3.1.4-1] and §4.13.1.
    mosquitto: 'close',
  },
  {
    name: 'CONNECT with a property not allowed in CONNECT (Topic Alias) (§2.2.2.2)',
    after: 'none',
    bytes: connect5(0x02, props([0x23, 0x00, 0x01]), 'alias-in-connect'),
    embedded: 'close',
    // Mosquitto closes without a CONNACK: allowed, the CONNACK is a MAY [MQTT-3.1.4-1] and §4.13.1.
    mosquitto: 'close',
  },
  {
    name: '3.1.1 CONNECT with Password Flag but no User Name Flag [MQTT-3.1.2-22]',
    after: 'none',
    bytes: pkt(0x10, str('MQTT'), [4, 0x42, 0, 0], str('pw-no-user'), str('secret')),
    embedded: 'close',
  },
  {
    name: 'first packet is a PUBLISH, not CONNECT [MQTT-3.1.0-1]',
    after: 'none',
    bytes: pkt(0x30, str('a/b'), Buffer.from('x')),
    embedded: 'close',
  },
  {
    name: 'first packet is a reserved type 0 (§2.1.2)',
    after: 'none',
    bytes: Buffer.from([0x00, 0x00]),
    embedded: 'close',
  },
  {
    name: 'junk: an HTTP request on the MQTT port',
    after: 'none',
    bytes: Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'),
    embedded: 'close',
  },
  {
    name: 'junk: the start of a TLS ClientHello',
    after: 'none',
    bytes: Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]),
    embedded: 'close',
  },
  {
    name: 'junk: sixteen 0xFF bytes',
    after: 'none',
    bytes: Buffer.alloc(16, 0xff),
    embedded: 'close',
  },

  // ---- After CONNACK on MQTT 5: DISCONNECT with the reason code, then close [MQTT-4.13.1-1].
  {
    name: 'SUBSCRIBE with fixed header flags 0 [MQTT-3.8.1-1]',
    after: 'v5',
    bytes: pkt(0x80, u16(1), NO_PROPS, str('a/b'), [0x00]),
    embedded: { disconnect: 0x81 },
  },
  {
    name: 'UNSUBSCRIBE with fixed header flags 0 [MQTT-3.10.1-1]',
    after: 'v5',
    bytes: pkt(0xa0, u16(1), NO_PROPS, str('a/b')),
    embedded: { disconnect: 0x81 },
  },
  {
    name: 'PUBREL of one byte: a Packet Identifier cut short (§3.6.2)',
    after: 'v5',
    bytes: pkt(0x62, [0x2d]),
    embedded: { disconnect: 0x81 },
    // Mosquitto closes without a DISCONNECT: allowed, the DISCONNECT is a SHOULD (§4.13.1).
    mosquitto: 'close',
  },
  {
    name: 'PUBREC with Remaining Length 0: no Packet Identifier (§3.5.2)',
    after: 'v5',
    bytes: pkt(0x50, []),
    embedded: { disconnect: 0x81 },
    // Mosquitto closes without a DISCONNECT: allowed, the DISCONNECT is a SHOULD (§4.13.1).
    mosquitto: 'close',
  },
  {
    name: 'PUBREL with fixed header flags 0 [MQTT-3.6.1-1]',
    after: 'v5',
    bytes: pkt(0x60, u16(1)),
    embedded: { disconnect: 0x81 },
    // Mosquitto closes without a DISCONNECT: allowed, the DISCONNECT is a SHOULD (§4.13.1).
    mosquitto: 'close',
  },
  {
    name: 'PINGREQ with fixed header flags 1 [MQTT-2.1.3-1]',
    after: 'v5',
    bytes: Buffer.from([0xc1, 0x00]),
    embedded: { disconnect: 0x81 },
    // Mosquitto 2.0.11 ignores the reserved flags of PINGREQ and keeps serving the connection, against
    // [MQTT-2.1.3-1] (invalid reserved flags make a Malformed Packet, §2.1.3).
    mosquitto: 'open',
  },
  {
    name: 'PUBLISH with QoS 3 [MQTT-3.3.1-4]',
    after: 'v5',
    bytes: pkt(0x36, str('a/b'), u16(1), NO_PROPS, Buffer.from('x')),
    embedded: { disconnect: 0x81 },
  },
  {
    name: 'PUBLISH whose topic length runs past the packet',
    after: 'v5',
    bytes: pkt(0x30, [0x00, 0x20, 0x61]),
    embedded: { disconnect: 0x81 },
  },
  {
    name: 'PUBLISH whose Property Length runs past the packet',
    after: 'v5',
    bytes: pkt(0x30, str('a/b'), [0x10, 0x01]),
    embedded: { disconnect: 0x81 },
  },
  {
    name: 'PUBLISH with an unknown property identifier 0x7F (§2.2.2.2)',
    after: 'v5',
    bytes: pkt(0x30, str('a/b'), props([0x7f, 0x01]), Buffer.from('x')),
    embedded: { disconnect: 0x81 },
  },
  {
    name: 'PUBLISH with a property not allowed in PUBLISH (Session Expiry Interval) (§2.2.2.2)',
    after: 'v5',
    bytes: pkt(0x30, str('a/b'), props([0x11, 0, 0, 0, 10]), Buffer.from('x')),
    embedded: { disconnect: 0x81 },
  },
  {
    name: 'PUBLISH with Message Expiry Interval twice (§2.2.2.2)',
    after: 'v5',
    bytes: pkt(0x30, str('a/b'), props([0x02, 0, 0, 0, 10], [0x02, 0, 0, 0, 20]), Buffer.from('x')),
    embedded: { disconnect: 0x82 },
    // Mosquitto closes without a DISCONNECT: allowed, the DISCONNECT is a SHOULD (§4.13.1).
    mosquitto: 'close',
  },
  {
    // Found by test/broker/fuzz.test.ts: mqtt-packet keeps only the second of two repeats when the first
    // value is falsy, so repeats are found on the bytes.
    name: 'PUBLISH with Payload Format Indicator 0 twice (§2.2.2.2)',
    after: 'v5',
    bytes: pkt(0x30, str('a/b'), props([0x01, 0x00], [0x01, 0x01]), Buffer.from('x')),
    embedded: { disconnect: 0x82 },
    // Mosquitto closes without a DISCONNECT: allowed, the DISCONNECT is a SHOULD (§4.13.1).
    mosquitto: 'close',
  },
  {
    // Found by test/broker/fuzz.test.ts: mqtt-packet reads a string property past the Property Length
    // (here into the payload; at the end of the packet it yields null, which later broke delivering the
    // retained message to a subscriber with DISCONNECT 0x83).
    name: 'PUBLISH with a User Property value running past the Property Length (§2.2.2.1)',
    after: 'v5',
    bytes: pkt(0x30, str('a/b'), props([0x26], str('k'), [0x00, 0x05, 0x61]), Buffer.from('bcdefgh')),
    embedded: { disconnect: 0x81 },
  },
  {
    name: 'PUBLISH with ill-formed UTF-8 in the Content Type [MQTT-1.5.4-1]',
    after: 'v5',
    bytes: pkt(0x30, str('a/b'), props([0x03], str(Buffer.from([0x61, 0xc0, 0x80]))), Buffer.from('x')),
    embedded: { disconnect: 0x81 },
    // Mosquitto closes without a DISCONNECT: allowed, the DISCONNECT is a SHOULD (§4.13.1).
    mosquitto: 'close',
  },
  {
    name: 'CONNECT with Session Expiry Interval 0 twice (§2.2.2.2)',
    after: 'none',
    bytes: connect5(0x02, props([0x11, 0, 0, 0, 0], [0x11, 0, 0, 0, 0]), 'sei-zero-twice'),
    embedded: 'close',
  },
  {
    name: 'PUBLISH with Topic Alias 0 [MQTT-3.3.2-8]',
    after: 'v5',
    bytes: pkt(0x30, str('a/b'), props([0x23, 0x00, 0x00]), Buffer.from('x')),
    embedded: { disconnect: 0x94 },
    // Mosquitto rejects the property value 0 while reading properties: 0x81. §3.3.2.3.4 names no code
    // for alias 0; the embedded broker uses 0x94 (Topic Alias invalid) as for an alias above the maximum.
    mosquitto: { disconnect: 0x81 },
  },
  {
    name: 'PUBLISH with a Topic Alias above the server Topic Alias Maximum [MQTT-3.3.2-8]',
    after: 'v5',
    bytes: pkt(0x30, str('a/b'), props([0x23, 0x7f, 0xff]), Buffer.from('x')),
    embedded: { disconnect: 0x94 },
  },
  {
    name: 'PUBLISH with an empty topic and no Topic Alias (§3.3.2.1)',
    after: 'v5',
    bytes: pkt(0x30, str(''), NO_PROPS, Buffer.from('x')),
    embedded: { disconnect: 0x82 },
  },
  {
    name: 'PUBLISH with an empty topic and a Topic Alias never set (§3.3.2.3.4)',
    after: 'v5',
    bytes: pkt(0x30, str(''), props([0x23, 0x00, 0x01]), Buffer.from('x')),
    embedded: { disconnect: 0x82 },
  },
  {
    name: 'PUBLISH QoS 1 with Packet Identifier 0 [MQTT-2.2.1-3]',
    after: 'v5',
    bytes: pkt(0x32, str('a/b'), u16(0), NO_PROPS, Buffer.from('x')),
    embedded: { disconnect: 0x82 },
  },
  {
    name: 'PUBLISH with a wildcard in the topic name [MQTT-3.3.2-2]',
    after: 'v5',
    bytes: pkt(0x30, str('a/+'), NO_PROPS, Buffer.from('x')),
    embedded: { disconnect: 0x90 },
    // The spec names no code for this; Mosquitto says Protocol Error, the embedded broker Topic Name invalid.
    mosquitto: { disconnect: 0x82 },
  },
  {
    name: 'PUBLISH with ill-formed UTF-8 in the topic name [MQTT-1.5.4-1]',
    after: 'v5',
    bytes: pkt(0x30, str(Buffer.from([0x61, 0xc3, 0x28])), NO_PROPS, Buffer.from('x')),
    embedded: { disconnect: 0x81 },
  },
  {
    name: 'PUBLISH with U+0000 in the topic name [MQTT-1.5.4-2]',
    after: 'v5',
    bytes: pkt(0x30, str(Buffer.from([0x61, 0x00, 0x62])), NO_PROPS, Buffer.from('x')),
    embedded: { disconnect: 0x81 },
  },
  {
    name: 'SUBSCRIBE with no topic filter [MQTT-3.8.3-2]',
    after: 'v5',
    bytes: pkt(0x82, u16(1), NO_PROPS),
    embedded: { disconnect: 0x82 },
    // Mosquitto 2.0.11 sends 0x81 (Malformed Packet) where §3.8.3 [MQTT-3.8.3-2] calls this a Protocol Error (0x82).
    mosquitto: { disconnect: 0x81 },
  },
  {
    name: 'SUBSCRIBE with Packet Identifier 0 [MQTT-2.2.1-3]',
    after: 'v5',
    bytes: pkt(0x82, u16(0), NO_PROPS, str('a/b'), [0x00]),
    embedded: { disconnect: 0x82 },
    // The spec names no reason code for a zero Packet Identifier; Mosquitto uses 0x81.
    mosquitto: { disconnect: 0x81 },
  },
  {
    name: 'SUBSCRIBE with reserved subscription option bits set [MQTT-3.8.3-5]',
    after: 'v5',
    bytes: pkt(0x82, u16(1), NO_PROPS, str('a/b'), [0xc0]),
    embedded: { disconnect: 0x81 },
  },
  {
    name: 'SUBSCRIBE with Maximum QoS 3 (§3.8.3.1)',
    after: 'v5',
    bytes: pkt(0x82, u16(1), NO_PROPS, str('a/b'), [0x03]),
    embedded: { disconnect: 0x82 },
    // Mosquitto 2.0.11 sends 0x81 (Malformed Packet) where §3.8.3.1 calls this a Protocol Error (0x82).
    mosquitto: { disconnect: 0x81 },
  },
  {
    name: 'SUBSCRIBE with Retain Handling 3 (§3.8.3.1)',
    after: 'v5',
    bytes: pkt(0x82, u16(1), NO_PROPS, str('a/b'), [0x30]),
    embedded: { disconnect: 0x82 },
    // Mosquitto 2.0.11 sends 0x81 (Malformed Packet) where §3.8.3.1 calls this a Protocol Error (0x82).
    mosquitto: { disconnect: 0x81 },
  },
  {
    name: 'SUBSCRIBE with Subscription Identifier 0 (§3.8.2.1.2)',
    after: 'v5',
    bytes: pkt(0x82, u16(1), props([0x0b, 0x00]), str('a/b'), [0x00]),
    embedded: { disconnect: 0x82 },
    // Mosquitto 2.0.11 sends 0x81 (Malformed Packet) where §3.8.2.1.2 calls this a Protocol Error (0x82).
    mosquitto: { disconnect: 0x81 },
  },
  {
    name: 'UNSUBSCRIBE with no topic filter [MQTT-3.10.3-2]',
    after: 'v5',
    bytes: pkt(0xa2, u16(1), NO_PROPS),
    embedded: { disconnect: 0x82 },
    // Mosquitto 2.0.11 sends 0x81 (Malformed Packet) where §3.10.3 [MQTT-3.10.3-2] calls this a Protocol Error (0x82).
    mosquitto: { disconnect: 0x81 },
  },
  {
    name: 'UNSUBSCRIBE with Packet Identifier 0 [MQTT-2.2.1-3]',
    after: 'v5',
    bytes: pkt(0xa2, u16(0), NO_PROPS, str('a/b')),
    embedded: { disconnect: 0x82 },
    // The spec names no reason code for a zero Packet Identifier; Mosquitto uses 0x81.
    mosquitto: { disconnect: 0x81 },
  },
  {
    name: 'AUTH without an Authentication Method in CONNECT (§4.12)',
    after: 'v5',
    bytes: pkt(0xf0, [0x18], NO_PROPS),
    embedded: { disconnect: 0x82 },
    // Mosquitto closes without a DISCONNECT: allowed, the DISCONNECT is a SHOULD (§4.13.1).
    mosquitto: 'close',
  },
  {
    // Remaining Length 0 means Reason Code 0x00 and no properties (§3.15.2.1).
    name: 'AUTH with Remaining Length 0 without an Authentication Method (§4.12)',
    after: 'v5',
    bytes: Buffer.from([0xf0, 0x00]),
    embedded: { disconnect: 0x82 },
    // Mosquitto closes without a DISCONNECT: allowed, the DISCONNECT is a SHOULD (§4.13.1).
    mosquitto: 'close',
  },
  {
    name: 'DISCONNECT with a reason code that does not exist (0x03) [MQTT-3.14.2-1]',
    after: 'v5',
    bytes: pkt(0xe0, [0x03], NO_PROPS),
    embedded: { disconnect: 0x81 },
    // Mosquitto closes without a DISCONNECT: allowed, the DISCONNECT is a SHOULD (§4.13.1).
    mosquitto: 'close',
  },
  {
    name: 'CONNACK sent by a client',
    after: 'v5',
    bytes: pkt(0x20, [0x00, 0x00], NO_PROPS),
    embedded: { disconnect: 0x82 },
    // Mosquitto closes without a DISCONNECT: allowed, the DISCONNECT is a SHOULD (§4.13.1).
    mosquitto: 'close',
  },
  {
    name: 'SUBACK sent by a client',
    after: 'v5',
    bytes: pkt(0x90, u16(1), NO_PROPS, [0x00]),
    embedded: { disconnect: 0x82 },
    // Mosquitto 2.0.11 ignores this server-to-client packet (§2.1.2 gives its direction) and keeps serving.
    mosquitto: 'open',
  },
  {
    name: 'UNSUBACK sent by a client',
    after: 'v5',
    bytes: pkt(0xb0, u16(1), NO_PROPS, [0x00]),
    embedded: { disconnect: 0x82 },
    // Mosquitto 2.0.11 ignores this server-to-client packet (§2.1.2 gives its direction) and keeps serving.
    mosquitto: 'open',
  },
  {
    name: 'PINGRESP sent by a client',
    after: 'v5',
    bytes: Buffer.from([0xd0, 0x00]),
    embedded: { disconnect: 0x82 },
    // Mosquitto 2.0.11 ignores this server-to-client packet (§2.1.2 gives its direction) and keeps serving.
    mosquitto: 'open',
  },
  {
    name: 'reserved packet type 0 after CONNECT (§2.1.2)',
    after: 'v5',
    bytes: Buffer.from([0x00, 0x00]),
    embedded: { disconnect: 0x81 },
    // The spec names no code for a reserved packet type; Mosquitto says Protocol Error.
    mosquitto: { disconnect: 0x82 },
  },
  {
    name: 'a second CONNECT [MQTT-3.1.0-2]',
    after: 'v5',
    bytes: connect5(0x02, Buffer.from(NO_PROPS), 'second-connect'),
    embedded: { disconnect: 0x82 },
    // Mosquitto closes without a DISCONNECT: allowed, the DISCONNECT is a SHOULD (§4.13.1).
    mosquitto: 'close',
  },

  // ---- MQTT 3.1.1 has no server DISCONNECT: the connection is just closed [MQTT-4.8.0-1 (3.1.1)].
  {
    name: '3.1.1: SUBSCRIBE with fixed header flags 0 [MQTT-3.8.1-1]',
    after: 'v311',
    bytes: pkt(0x80, u16(1), str('a/b'), [0x00]),
    embedded: 'close',
  },
  {
    name: '3.1.1: PUBLISH with QoS 3 [MQTT-3.3.1-4]',
    after: 'v311',
    bytes: pkt(0x36, str('a/b'), u16(1), Buffer.from('x')),
    embedded: 'close',
  },
  {
    name: '3.1.1: SUBSCRIBE with reserved option bits set [MQTT-3.8.3-4]',
    after: 'v311',
    bytes: pkt(0x82, u16(1), str('a/b'), [0x04]),
    embedded: 'close',
  },
  {
    name: '3.1.1: packet type 15 (reserved in 3.1.1)',
    after: 'v311',
    bytes: pkt(0xf0, [0x00], [0x00]),
    embedded: 'close',
  },
];

/** Sends one bad packet on its own connection and reports what the broker did. */
async function observe(b: TestBroker, c: Case, index: number, expected: Outcome): Promise<Outcome> {
  let client: RawClient;
  if (c.after === 'none') {
    client = await RawClient.open(b.port, 5);
  } else {
    const protocolVersion = c.after === 'v5' ? 5 : 4;
    const r = await RawClient.connect(b.port, { clientId: `malformed-${index}`, protocolVersion });
    assert.equal(r.connack.reasonCode ?? r.connack.returnCode, 0, 'setup CONNECT accepted');
    client = r.client;
  }
  const before = client.received.length;
  client.sendBytes(c.bytes);
  // Where the connection is expected to stay open (a recorded Mosquitto deviation) a shorter wait,
  // then a PINGREQ shows the broker still serves it.
  const closed = await client.closedWithin(expected === 'open' ? 1000 : 3000);
  if (!closed) {
    client.send({ cmd: 'pingreq' });
    await client.expect('pingresp', 2000);
    client.destroy();
    return 'open';
  }
  const answers = client.received.slice(before);
  const disconnect = answers.find((p) => p.cmd === 'disconnect');
  if (disconnect && disconnect.cmd === 'disconnect') return { disconnect: disconnect.reasonCode ?? 0 };
  const connack = answers.find((p) => p.cmd === 'connack');
  if (connack && connack.cmd === 'connack') return { connack: connack.reasonCode ?? connack.returnCode ?? 0 };
  return 'close';
}

const describeOutcome = (o: Outcome) =>
  typeof o === 'string' ? o : JSON.stringify(o, (_k, v) => (typeof v === 'number' ? `0x${v.toString(16)}` : v));

/** A well-behaved MQTT.js client still connects, subscribes and round-trips a message. */
async function assertHealthy(b: TestBroker): Promise<void> {
  const client = await connectClient(b.url, { clientId: 'healthy-after-malformed' });
  try {
    const got = collect(client);
    await client.subscribeAsync('healthy/check', { qos: 1 });
    await client.publishAsync('healthy/check', 'still alive', { qos: 1 });
    await waitUntil(() => got.length === 1, 3000, 'the round trip');
    assert.equal(got[0]!.payload, 'still alive');
  } finally {
    await end(client);
  }
}

describeEachBroker('Malformed packets and protocol errors close the connection', (kind: BrokerKind) => {
  let b: TestBroker;
  before(async () => (b = await startBroker(kind)));
  after(() => b.close());

  CASES.forEach((c, index) => {
    test(c.name, async () => {
      const expected = kind === 'mosquitto' && c.mosquitto !== undefined ? c.mosquitto : c.embedded;
      const outcome = await observe(b, c, index, expected);
      assert.deepEqual(outcome, expected, `got ${describeOutcome(outcome)}, expected ${describeOutcome(expected)}`);
    });
  });

  test('after every bad packet the broker still serves a healthy client', async () => {
    await assertHealthy(b);
  });
});
