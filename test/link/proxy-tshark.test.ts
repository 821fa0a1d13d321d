import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { IClientOptions } from 'mqtt';
import { PACKET_TYPES } from '../../src/protocol/index.js';
import { createLinkProxy, PcapWriter, summarizePacket, type LinkPacket, type LinkProxy, type PacketSummary } from '../../src/link/index.js';
import { describeEachBroker, startBroker, type TestBroker } from '../helpers/brokers.js';
import { collect, connectClient, end, waitUntil } from '../helpers/clients.js';

// The proxy's decoding checked against an independent decoder: Wireshark's MQTT dissector (tshark),
// reading the pcap of the same bytes. A recorded session of MQTT 5 and 3.1.1 clients exercising
// every packet type is compared packet by packet, field by field.

/** mqtt-packet's table of property names to identifiers (MQTT 5.0 §2.2.2.2). */
const PROPERTY_IDS = (createRequire(import.meta.url)('mqtt-packet/constants.js') as { properties: Record<string, number> }).properties;

const tshark = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
const skip = tshark.error ? 'tshark is not installed (apt-get install tshark)' : false;

/** tshark fields read per MQTT packet; one TCP segment carries one packet, so one line is one packet. */
const FIELDS = [
  'mqtt.msgtype',
  'mqtt.len',
  'mqtt.dupflag',
  'mqtt.qos',
  'mqtt.retain',
  'mqtt.msgid',
  'mqtt.topic',
  'mqtt.msg',
  'mqtt.clientid',
  'mqtt.ver',
  'mqtt.kalive',
  'mqtt.conflag.cleansess',
  'mqtt.willtopic',
  'mqtt.willmsg',
  'mqtt.username',
  'mqtt.conack.flags.sp',
  'mqtt.property_id',
  'mqtt.prop_number',
  'mqtt.prop_key',
  'mqtt.prop_value',
  'mqtt.property.content_type',
  'mqtt.property.topic_alias',
  'mqtt.sub.qos',
  'mqtt.subscription_options_qos',
  'mqtt.subscription_options_nl',
  'mqtt.subscription_options_retain',
  'mqtt.suback.qos',
  'mqtt.conack.val',
  'mqtt.connack.reason_code',
  'mqtt.puback.reason_code',
  'mqtt.pubrec.reason_code',
  'mqtt.pubrel.reason_code',
  'mqtt.pubcomp.reason_code',
  'mqtt.suback.reason_code',
  'mqtt.unsuback.reason_code',
  'mqtt.disconnect.reason_code',
] as const;
type Field = (typeof FIELDS)[number];

/** Runs tshark on a pcap, MQTT decoded on `port`; one record of field → values per MQTT packet. */
function readWithTshark(pcap: string, port: number): Array<Record<Field, string[]>> {
  const args = [
    '-r',
    pcap,
    '-d',
    `tcp.port==${port},mqtt`,
    '-Y',
    'mqtt',
    '-T',
    'fields',
    '-E',
    'occurrence=a',
    '-E',
    'aggregator=|',
    '-E',
    'separator=;',
  ];
  const run = spawnSync('tshark', [...args, ...FIELDS.flatMap((f) => ['-e', f])], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout
    .trimEnd()
    .split('\n')
    .map((line) => {
      const cells = line.split(';');
      return Object.fromEntries(FIELDS.map((f, i) => [f, cells[i] ? cells[i]!.split('|') : []])) as Record<Field, string[]>;
    });
}

/** Property ids (sorted, one per user property pair) of a summary's properties. */
function propertyIds(properties: Record<string, unknown> | undefined): number[] {
  const ids: number[] = [];
  for (const [name, value] of Object.entries(properties ?? {})) {
    const id = PROPERTY_IDS[name];
    assert.ok(id !== undefined, `unknown property ${name}`);
    const count =
      name === 'userProperties'
        ? Object.values(value as Record<string, string | string[]>).flat().length
        : name === 'subscriptionIdentifier' && Array.isArray(value)
          ? value.length
          : 1;
    for (let i = 0; i < count; i++) ids.push(id);
  }
  return ids.sort((a, b) => a - b);
}

const NUMERIC = new Set([
  'sessionExpiryInterval',
  'willDelayInterval',
  'receiveMaximum',
  'maximumPacketSize',
  'topicAliasMaximum',
  'requestResponseInformation',
  'requestProblemInformation',
  'payloadFormatIndicator',
  'messageExpiryInterval',
  'maximumQoS',
  'retainAvailable',
  'wildcardSubscriptionAvailable',
  'subscriptionIdentifiersAvailable',
  'sharedSubscriptionAvailable',
  'serverKeepAlive',
  'subscriptionIdentifier',
]);
const bit = (b: boolean | undefined) => (b ? '1' : '0');
const sorted = (xs: Array<string | number>) => xs.map(String).sort();

/** What tshark must show for a packet the proxy decoded, in tshark's own terms. */
function expectedFields(p: LinkPacket, s: PacketSummary): Partial<Record<Field, string[]>> {
  const packet = p.packet!;
  const v5 = p.protocolVersion === 5;
  const out: Partial<Record<Field, string[]>> = {
    'mqtt.msgtype': [String(PACKET_TYPES.indexOf(s.type as (typeof PACKET_TYPES)[number]))],
    'mqtt.len': [String(packet.length ?? '?')],
  };
  if (s.packetId !== undefined) out['mqtt.msgid'] = [String(s.packetId)];
  if (s.type === 'PUBLISH') {
    Object.assign(out, {
      'mqtt.dupflag': [bit(s.dup)],
      'mqtt.qos': [String(s.qos)],
      'mqtt.retain': [bit(s.retain)],
      'mqtt.msg': p.packet!.cmd === 'publish' && p.packet!.payload.length > 0 ? [Buffer.from(p.packet!.payload).toString('hex')] : [],
    });
    if (s.topic) out['mqtt.topic'] = [s.topic];
  }
  if (packet.cmd === 'connect') {
    Object.assign(out, {
      'mqtt.clientid': [packet.clientId],
      'mqtt.ver': [String(packet.protocolVersion)],
      'mqtt.kalive': [String(packet.keepalive)],
      'mqtt.conflag.cleansess': [bit(packet.clean)],
    });
    if (packet.will)
      Object.assign(out, { 'mqtt.willtopic': [packet.will.topic], 'mqtt.willmsg': [Buffer.from(packet.will.payload).toString('hex')] });
    if (packet.username !== undefined) out['mqtt.username'] = [packet.username];
  }
  if (packet.cmd === 'connack') {
    out['mqtt.conack.flags.sp'] = [bit(packet.sessionPresent)];
    out[v5 ? 'mqtt.connack.reason_code' : 'mqtt.conack.val'] = [String(s.reasonCode)];
  }
  if (s.filters) out['mqtt.topic'] = s.filters.map((f) => f.topic);
  if (packet.cmd === 'subscribe') {
    if (v5)
      Object.assign(out, {
        'mqtt.subscription_options_qos': s.filters!.map((f) => String(f.qos)),
        'mqtt.subscription_options_nl': s.filters!.map((f) => bit(f.nl)),
        'mqtt.subscription_options_retain': s.filters!.map((f) => String(f.rh ?? 0)),
      });
    else out['mqtt.sub.qos'] = s.filters!.map((f) => String(f.qos));
  }
  if (packet.cmd === 'suback') out[v5 ? 'mqtt.suback.reason_code' : 'mqtt.suback.qos'] = s.reasonCodes!.map(String);
  if (packet.cmd === 'unsuback' && v5) out['mqtt.unsuback.reason_code'] = s.reasonCodes!.map(String);
  // An acknowledgement or DISCONNECT without the reason code byte means Success (MQTT 5.0 §3.4.2.1): tshark shows none.
  const ackField = {
    puback: 'mqtt.puback.reason_code',
    pubrec: 'mqtt.pubrec.reason_code',
    pubrel: 'mqtt.pubrel.reason_code',
    pubcomp: 'mqtt.pubcomp.reason_code',
    disconnect: 'mqtt.disconnect.reason_code',
  } as const;
  if (v5 && packet.cmd in ackField && (packet.length ?? 0) > (packet.cmd === 'disconnect' ? 0 : 2))
    out[ackField[packet.cmd as keyof typeof ackField]] = [String(s.reasonCode)];
  if (v5 && s.properties) {
    out['mqtt.property_id'] = propertyIds(s.properties).map((id) => `0x${id.toString(16).padStart(2, '0')}`);
    const numbers = Object.entries(s.properties)
      .filter(([k]) => NUMERIC.has(k))
      .flatMap(([, v]) => (Array.isArray(v) ? v : [v]).map((x) => (typeof x === 'boolean' ? Number(x) : x)));
    out['mqtt.prop_number'] = sorted(numbers as number[]);
    const pairs = Object.entries((s.properties.userProperties ?? {}) as Record<string, string | string[]>).flatMap(([k, v]) =>
      (Array.isArray(v) ? v : [v]).map((x) => [k, x] as const),
    );
    out['mqtt.prop_key'] = sorted(pairs.map(([k]) => k));
    out['mqtt.prop_value'] = sorted(pairs.map(([, v]) => v));
    if (s.properties.contentType !== undefined) out['mqtt.property.content_type'] = [String(s.properties.contentType)];
    if (s.properties.topicAlias !== undefined) out['mqtt.property.topic_alias'] = [String(s.properties.topicAlias)];
  }
  return out;
}

/** The same fields as tshark decoded them (order-free fields sorted like expectedFields sorts them). */
function actualFields(row: Record<Field, string[]>, expected: Partial<Record<Field, string[]>>): Partial<Record<Field, string[]>> {
  const out: Partial<Record<Field, string[]>> = {};
  for (const field of Object.keys(expected) as Field[]) {
    // tshark marks a zero-length payload as <MISSING> where it expected bytes.
    const values = row[field].filter((v) => v !== '<MISSING>');
    out[field] =
      field === 'mqtt.property_id'
        ? [...values].sort((a, b) => parseInt(a, 16) - parseInt(b, 16))
        : ['mqtt.prop_number', 'mqtt.prop_key', 'mqtt.prop_value'].includes(field)
          ? sorted(values)
          : values;
  }
  return out;
}

/** One client's session: every packet type, properties of each kind, all QoS levels, a topic alias. */
async function session(url: string, version: 4 | 5, tag: string): Promise<void> {
  const v5 = version === 5;
  const options: IClientOptions = {
    protocolVersion: version,
    clientId: `tshark-${tag}`,
    username: 'user',
    password: 'secret',
    keepalive: 42,
    will: { topic: `will/${tag}`, payload: Buffer.from('gone'), qos: 1, retain: true },
    ...(v5 && { properties: { sessionExpiryInterval: 30, receiveMaximum: 10, userProperties: { site: 'lab' } } }),
  };
  const client = await connectClient(url, options);
  const got = collect(client);
  await client.subscribeAsync(
    { [`t/${tag}/#`]: { qos: 2, ...(v5 && { rh: 1 }) }, [`u/${tag}/+`]: { qos: 1, ...(v5 && { nl: true }) } },
    v5 ? { properties: { subscriptionIdentifier: 7 } } : {},
  );
  const publishProperties = {
    messageExpiryInterval: 60,
    contentType: 'text/plain',
    userProperties: { k: ['v1', 'v2'] },
    responseTopic: `r/${tag}`,
    payloadFormatIndicator: true,
  };
  for (const qos of [0, 1, 2] as const)
    await client.publishAsync(`t/${tag}/${qos}`, `reading ${qos}`, {
      qos,
      retain: qos === 1,
      ...(v5 && { properties: publishProperties }),
    });
  if (v5) {
    await client.publishAsync(`t/${tag}/alias`, 'first', { qos: 1, properties: { topicAlias: 3 } });
    await client.publishAsync('', 'by alias', { qos: 1, properties: { topicAlias: 3 } });
  }
  await waitUntil(() => got.length >= (v5 ? 5 : 3), 3000, 'the session receiving its own messages');
  await client.unsubscribeAsync([`u/${tag}/+`]);
  await client.publishAsync(`t/${tag}/1`, '', { qos: 1, retain: true });
  await end(client);
}

describeEachBroker('the proxy decodes a recorded session as tshark does', (kind) => {
  let b: TestBroker;
  let proxy: LinkProxy;
  let dir: string;
  before(async () => {
    b = await startBroker(kind);
    proxy = await createLinkProxy({ to: b.url });
    dir = mkdtempSync(join(tmpdir(), 'mqttlab-tshark-'));
  });
  after(async () => {
    await proxy.close();
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every packet of an MQTT 5 and an MQTT 3.1.1 session: type, flags, ids, topics, properties, reason codes, payloads', {
    skip,
  }, async () => {
    const packets: LinkPacket[] = [];
    const pcapPath = join(dir, 'session.pcap');
    const pcap = new PcapWriter(pcapPath, proxy.port);
    proxy.on('packet', (p) => {
      packets.push({ ...p, raw: Buffer.from(p.raw) });
      pcap.packet(p);
    });
    proxy.on('link', (e) => pcap.event(e));
    await session(proxy.url, 5, `v5-${kind}`);
    await session(proxy.url, 4, `v4-${kind}`);
    await waitUntil(() => proxy.connections.size === 0, 3000, 'both connections closed');
    pcap.close();

    const rows = readWithTshark(pcapPath, proxy.port);
    const decoded = packets.filter((p) => p.fate === 'forwarded');
    assert.ok(
      decoded.every((p) => p.packet !== undefined),
      'the proxy decoded every packet',
    );
    const types = new Set(decoded.map((p) => `${p.type}/${p.protocolVersion}`));
    for (const t of [
      'CONNECT',
      'CONNACK',
      'SUBSCRIBE',
      'SUBACK',
      'PUBLISH',
      'PUBACK',
      'PUBREC',
      'PUBREL',
      'PUBCOMP',
      'UNSUBSCRIBE',
      'UNSUBACK',
      'DISCONNECT',
    ]) {
      assert.ok(types.has(`${t}/5`) && types.has(`${t}/4`), `the session has ${t} in both versions`);
    }
    assert.equal(rows.length, decoded.length, 'tshark found as many MQTT packets as the proxy forwarded');
    for (const [i, p] of decoded.entries()) {
      const expected = expectedFields(p, summarizePacket(p, 'hex'));
      assert.deepEqual(actualFields(rows[i]!, expected), expected, `packet ${i + 1}: ${p.type} ${p.direction} (MQTT ${p.protocolVersion})`);
    }
  });
});
