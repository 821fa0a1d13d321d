import type { IPublishPacket, Packet, QoS } from 'mqtt-packet';
import {
  decodeVariableByteInteger,
  PacketType,
  variableByteIntegerEnd,
  variableByteIntegerSize,
  writeVariableByteInteger,
} from '../protocol/index.js';
import type { Message, MessageProperties } from './message.js';

/*
 * Fast paths for the packets of the message flow, beside mqtt-packet (which stays in charge of every
 * other packet and of any PUBLISH or acknowledgement carrying properties): a PUBLISH without
 * properties and a bare 2-byte PUBACK/PUBREC/PUBREL/PUBCOMP are read straight from the frame, and a
 * PUBLISH whose only properties are the per-subscriber ones (Message Expiry Interval, Subscription
 * Identifier, Topic Alias) is written straight into one buffer. A QoS 0 PUBLISH without those is
 * encoded once per message and the same bytes go to every subscriber. Acknowledgements without properties
 * are written as their four (or six) bytes.
 */

const ACK_TYPES: Record<number, 'puback' | 'pubrec' | 'pubrel' | 'pubcomp'> = { 4: 'puback', 5: 'pubrec', 6: 'pubrel', 7: 'pubcomp' };

/**
 * Reads a PUBLISH without properties or a 2-byte acknowledgement from a whole frame; undefined for
 * anything else (or anything unusual), which then goes through mqtt-packet's parser.
 */
export function parseFlowPacket(frame: Buffer, protocolVersion: number): Packet | undefined {
  const first = frame[0]!;
  const type = first >> 4;
  const i = variableByteIntegerEnd(frame, 1);
  if (i < 0) return undefined;
  const length = decodeVariableByteInteger(frame, 1);
  if (i + length !== frame.length) return undefined;
  if (type === PacketType.PUBLISH) {
    const qos = (first >> 1) & 3;
    if (qos === 3 || i + 2 > frame.length) return undefined;
    const topicEnd = i + 2 + frame.readUInt16BE(i);
    let p = topicEnd;
    let messageId: number | undefined;
    if (qos > 0) {
      if (p + 2 > frame.length) return undefined;
      messageId = frame.readUInt16BE(p);
      p += 2;
    }
    if (protocolVersion === 5) {
      // Only a Property Length of 0; any property takes the full parser and its checks.
      if (frame[p] !== 0) return undefined;
      p++;
    }
    if (p > frame.length) return undefined;
    const packet: IPublishPacket = {
      cmd: 'publish',
      topic: frame.toString('utf8', i + 2, topicEnd),
      // A copy, so that a kept message does not pin the whole socket chunk.
      payload: Buffer.from(frame.subarray(p)),
      qos: qos as QoS,
      retain: (first & 1) !== 0,
      dup: (first & 8) !== 0,
      length,
    };
    if (messageId !== undefined) packet.messageId = messageId;
    return packet;
  }
  const cmd = ACK_TYPES[type];
  // Reserved flag bits must be 0010 for PUBREL and 0000 for the others [MQTT-2.1.3-1].
  if (!cmd || length !== 2 || (first & 0x0f) !== (type === PacketType.PUBREL ? 2 : 0)) return undefined;
  const ack = { cmd, messageId: frame.readUInt16BE(i), length } as Packet;
  if (protocolVersion === 5) (ack as { reasonCode?: number }).reasonCode = 0;
  return ack;
}

const ACK_FIRST_BYTES: Partial<Record<Packet['cmd'], number>> = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 };

/**
 * The bytes of a PUBACK, PUBREC, PUBREL or PUBCOMP without properties, as mqtt-packet writes them: MQTT 5
 * with Success given in the 4-byte form, any other (or no) reason code with a Property Length of 0 (MQTT 5.0
 * §3.4.2.1), 3.1.1 the packet id only; undefined for any other packet, or one with properties.
 */
export function encodeAck(packet: Packet, protocolVersion: number): Buffer | undefined {
  const first = ACK_FIRST_BYTES[packet.cmd];
  if (first === undefined || (packet as { properties?: object }).properties !== undefined) return undefined;
  const id = (packet as { messageId?: number }).messageId ?? 0;
  const reasonCode = (packet as { reasonCode?: number }).reasonCode;
  if (protocolVersion !== 5 || reasonCode === 0) return Buffer.from([first, 2, id >> 8, id & 0xff]);
  return Buffer.from([first, 4, id >> 8, id & 0xff, reasonCode ?? 0, 0]);
}

/** A PUBLISH to write, with the only properties this encoder writes: the per-subscriber ones. */
export interface PublishFields {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  packetId?: number;
  /** MQTT 5 only. */
  messageExpiryInterval?: number;
  subscriptionIds: readonly number[];
  topicAlias?: number;
}

/** The PUBLISH as an mqtt-packet object: for its generator (forwarded properties) and `packetOut` listeners. */
export function publishPacket(f: PublishFields, forwarded: MessageProperties, v5: boolean): IPublishPacket {
  const p: IPublishPacket = {
    cmd: 'publish',
    topic: f.topic,
    payload: f.payload,
    qos: f.qos,
    retain: f.retain,
    dup: f.dup,
    messageId: f.packetId,
  };
  if (v5) {
    const properties: NonNullable<IPublishPacket['properties']> = { ...forwarded };
    if (f.messageExpiryInterval !== undefined) properties.messageExpiryInterval = f.messageExpiryInterval;
    if (f.subscriptionIds.length === 1) properties.subscriptionIdentifier = f.subscriptionIds[0];
    else if (f.subscriptionIds.length > 1) properties.subscriptionIdentifier = [...f.subscriptionIds];
    if (f.topicAlias !== undefined) properties.topicAlias = f.topicAlias;
    p.properties = properties;
  }
  return p;
}

/** Encodes a PUBLISH (MQTT 3.1.1 or 5) into one buffer. */
export function encodePublish(f: PublishFields, protocolVersion: number): Buffer {
  const topicLength = Buffer.byteLength(f.topic);
  let propertiesLength = 0;
  if (protocolVersion === 5) {
    if (f.messageExpiryInterval !== undefined) propertiesLength += 5;
    for (const id of f.subscriptionIds) propertiesLength += 1 + variableByteIntegerSize(id);
    if (f.topicAlias !== undefined) propertiesLength += 3;
  }
  const remaining =
    2 +
    topicLength +
    (f.qos > 0 ? 2 : 0) +
    (protocolVersion === 5 ? variableByteIntegerSize(propertiesLength) + propertiesLength : 0) +
    f.payload.length;
  const buf = Buffer.allocUnsafe(1 + variableByteIntegerSize(remaining) + remaining);
  buf[0] = 0x30 | (f.dup ? 8 : 0) | (f.qos << 1) | (f.retain ? 1 : 0);
  let at = writeVariableByteInteger(buf, 1, remaining);
  at = buf.writeUInt16BE(topicLength, at);
  at += buf.write(f.topic, at, 'utf8');
  if (f.qos > 0) at = buf.writeUInt16BE(f.packetId!, at);
  if (protocolVersion === 5) {
    at = writeVariableByteInteger(buf, at, propertiesLength);
    if (f.messageExpiryInterval !== undefined) {
      buf[at++] = 0x02;
      at = buf.writeUInt32BE(f.messageExpiryInterval, at);
    }
    for (const id of f.subscriptionIds) {
      buf[at++] = 0x0b;
      at = writeVariableByteInteger(buf, at, id);
    }
    if (f.topicAlias !== undefined) {
      buf[at++] = 0x23;
      at = buf.writeUInt16BE(f.topicAlias, at);
    }
  }
  f.payload.copy(buf, at);
  return buf;
}

/** The last message encoded for sharing, with its bytes per (protocol 5?, retain) combination. */
let shared: { message: Message; bytes: Array<Buffer | undefined> } | undefined;

/**
 * The bytes of a QoS 0 PUBLISH of `message` without per-subscriber properties, encoded once and
 * shared by every subscriber it fans out to (the broker delivers a message to all of them in a row).
 */
export function sharedQos0Publish(message: Message, retain: boolean, protocolVersion: number): Buffer {
  if (shared?.message !== message) shared = { message, bytes: [] };
  const key = (protocolVersion === 5 ? 2 : 0) | (retain ? 1 : 0);
  return (shared.bytes[key] ??= encodePublish(
    { topic: message.topic, payload: message.payload, qos: 0, retain, dup: false, subscriptionIds: [] },
    protocolVersion,
  ));
}

/** True when the message carries application properties to forward (then mqtt-packet writes it). */
export function hasForwardedProperties(message: Message): boolean {
  for (const _ in message.properties) return true;
  return false;
}
