import { isUtf8 } from 'node:buffer';
import type { Packet } from 'mqtt-packet';
import { propertyProblem } from './frame-properties.js';
import { bodyStart, frameTopicStrings, PacketType, publishTopicBytes } from '../protocol/index.js';
import { ProtocolViolation } from './protocol-violation.js';
import { ReasonCode } from '../protocol/index.js';

/*
 * Checks on received packets that mqtt-packet's parser does not make. Each throws a ProtocolViolation
 * with the reason code the spec gives; the connection turns it into DISCONNECT (or CONNACK).
 */

/**
 * The properties of a parsed MQTT 5 frame, on its bytes: a malformed value is a Malformed Packet (§2.2.2,
 * [MQTT-1.5.4-1]); a property other than User Property appearing twice is a Protocol Error [MQTT-2.2.2-2].
 */
export function checkPropertyBytes(frame: Buffer, protocolVersion: number): void {
  if (protocolVersion !== 5) return;
  const problem = propertyProblem(frame);
  if (problem?.kind === 'malformed') throw new ProtocolViolation(ReasonCode.MalformedPacket, problem.detail);
  if (problem?.kind === 'repeated')
    throw new ProtocolViolation(ReasonCode.ProtocolError, `property 0x${problem.id.toString(16).padStart(2, '0')} included more than once`);
}

/**
 * What mqtt-packet's parser lets through: an AUTH we never negotiated, ill-formed UTF-8 or U+0000 in
 * topics, and SUBSCRIBE option values the spec calls Protocol Errors (it reports them as parse errors).
 */
export function checkFrame(frame: Buffer, protocolVersion: number): void {
  const topic = publishTopicBytes(frame);
  if (topic) return checkUtf8(topic);
  const type = frame[0]! >> 4;
  if (type >= 4 && type <= 7 && frame.length - bodyStart(frame) < 2) {
    // §3.4.2, §3.5.2, §3.6.2, §3.7.2: PUBACK, PUBREC, PUBREL and PUBCOMP start with a two-byte Packet Identifier
    // (mqtt-packet reads a shorter one as id -1).
    throw new ProtocolViolation(ReasonCode.MalformedPacket, 'acknowledgement without a whole packet identifier');
  }
  if (type === PacketType.AUTH && protocolVersion === 5) {
    // §4.12: a client that sent no Authentication Method in CONNECT must not send AUTH (even a 0-length one).
    throw new ProtocolViolation(ReasonCode.ProtocolError, 'AUTH without an authentication method in CONNECT');
  }
  const { strings, subscriptionOptions } = frameTopicStrings(frame, protocolVersion);
  for (const bytes of strings) checkUtf8(bytes);
  if (protocolVersion !== 5) return;
  for (const options of subscriptionOptions) {
    // §3.8.3.1: Maximum QoS 3 and Retain Handling 3 are Protocol Errors.
    if ((options & 0x03) === 3 || ((options >> 4) & 0x03) === 3) {
      throw new ProtocolViolation(ReasonCode.ProtocolError, 'subscription option QoS or Retain Handling of 3');
    }
  }
}

/** [MQTT-1.5.4-1] ill-formed UTF-8 and [MQTT-1.5.4-2] U+0000 make a Malformed Packet. */
function checkUtf8(bytes: Buffer): void {
  if (!isUtf8(bytes) || bytes.includes(0))
    throw new ProtocolViolation(ReasonCode.MalformedPacket, 'topic is not well-formed UTF-8 or contains U+0000');
}

/** Properties a client may put in each packet (MQTT 5.0 §2.2.2.2); any other is a Malformed Packet. */
const ALLOWED_PROPERTIES: Partial<Record<string, ReadonlySet<string>>> = {
  connect: new Set([
    'sessionExpiryInterval',
    'authenticationMethod',
    'authenticationData',
    'requestProblemInformation',
    'requestResponseInformation',
    'receiveMaximum',
    'topicAliasMaximum',
    'userProperties',
    'maximumPacketSize',
  ]),
  publish: new Set([
    'payloadFormatIndicator',
    'messageExpiryInterval',
    'contentType',
    'responseTopic',
    'correlationData',
    'subscriptionIdentifier',
    'topicAlias',
    'userProperties',
  ]),
  puback: new Set(['reasonString', 'userProperties']),
  pubrec: new Set(['reasonString', 'userProperties']),
  pubrel: new Set(['reasonString', 'userProperties']),
  pubcomp: new Set(['reasonString', 'userProperties']),
  subscribe: new Set(['subscriptionIdentifier', 'userProperties']),
  unsubscribe: new Set(['userProperties']),
  disconnect: new Set(['sessionExpiryInterval', 'serverReference', 'reasonString', 'userProperties']),
  auth: new Set(['authenticationMethod', 'authenticationData', 'reasonString', 'userProperties']),
};
const WILL_PROPERTIES: ReadonlySet<string> = new Set([
  'willDelayInterval',
  'payloadFormatIndicator',
  'messageExpiryInterval',
  'contentType',
  'responseTopic',
  'correlationData',
  'userProperties',
]);

/** A property identifier not valid for its packet type makes a Malformed Packet (MQTT 5.0 §2.2.2.2). */
export function checkPropertiesAllowed(packet: Packet): void {
  const allowed = ALLOWED_PROPERTIES[packet.cmd];
  if (!allowed) return;
  const check = (properties: object | undefined, names: ReadonlySet<string>, where: string) => {
    for (const name of Object.keys(properties ?? {})) {
      if (!names.has(name)) throw new ProtocolViolation(ReasonCode.MalformedPacket, `property ${name} is not allowed in ${where}`);
    }
  };
  check((packet as { properties?: object }).properties, allowed, packet.cmd);
  if (packet.cmd === 'connect') check(packet.will?.properties, WILL_PROPERTIES, 'will properties');
}
