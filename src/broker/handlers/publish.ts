import type { IPublishPacket } from 'mqtt-packet';
import type { Broker } from '../broker.js';
import type { Connection } from '../connection.js';
import { messageFromPublish } from '../message.js';
import { ProtocolViolation } from '../protocol-violation.js';
import { isValidTopicName, ReasonCode, topicLevelCount } from '../../protocol/index.js';

/** PUBLISH from a client: topic alias, validation, QoS 0/1/2 acknowledgement, routing (MQTT 5.0 §3.3). */
export function handlePublish(broker: Broker, conn: Connection, packet: IPublishPacket): void {
  const session = conn.session!;
  const packetId = packet.messageId;
  if (packet.qos > 0 && !packetId) {
    // [MQTT-2.2.1-3] QoS 1 and 2 PUBLISH need a non-zero Packet Identifier.
    throw new ProtocolViolation(ReasonCode.ProtocolError, 'QoS > 0 PUBLISH without a packet identifier');
  }
  const topic = resolveTopic(broker, conn, packet);
  if (!isValidTopicName(topic)) {
    // [MQTT-3.3.2-2] no wildcards in a Topic Name.
    throw new ProtocolViolation(ReasonCode.TopicNameInvalid, `invalid topic name "${topic}"`);
  }
  const levels = topicLevelCount(topic);
  if (levels > broker.options.maxTopicLevels) {
    // 0x90 Topic Name invalid: "not malformed, but not accepted by this Server" (MQTT 5.0 §3.14.2.1); every walk
    // of a topic is bounded by its levels.
    throw new ProtocolViolation(ReasonCode.TopicNameInvalid, `topic of ${levels} levels (at most ${broker.options.maxTopicLevels})`);
  }
  broker.stats.publishReceived++;

  if (packet.qos === 2) {
    if (session.inboundQos2.has(packetId!)) {
      // [MQTT-4.3.3-10] a resent QoS 2 PUBLISH before PUBREL is not delivered again; its PUBREC
      // waits like the first one, so it cannot overtake a PUBREC not yet sent.
      broker.ackAfterStored(conn, { cmd: 'pubrec', messageId: packetId!, reasonCode: ReasonCode.Success });
      return;
    }
    if (session.inboundQos2.size >= broker.options.receiveMaximum) {
      // [MQTT-3.3.4-7] more unacknowledged QoS 2 than our Receive Maximum.
      throw new ProtocolViolation(ReasonCode.ReceiveMaximumExceeded, 'receive maximum exceeded');
    }
  }

  const refused = refusal(broker, conn, topic, packet);
  if (refused !== undefined) {
    // QoS 0 is dropped silently; QoS 1/2 end their flow with the failure code (MQTT 5.0 §3.4.2.1, §3.5.2.1).
    if (packet.qos === 1) conn.write({ cmd: 'puback', messageId: packetId!, reasonCode: refused });
    else if (packet.qos === 2) conn.write({ cmd: 'pubrec', messageId: packetId!, reasonCode: refused });
    return;
  }

  const message = messageFromPublish(packet, topic, conn.clientId, broker.clock.now());
  const matched = broker.publish(message);
  // 0x10 only when the server knows there are none (§3.4.2.1): a cluster node does not know the other nodes'.
  const reasonCode = matched > 0 || broker.options.cluster ? ReasonCode.Success : ReasonCode.NoMatchingSubscribers;
  // [MQTT-4.3.2-4], [MQTT-4.3.3-8] taking ownership of the message: with a crash-safe persistence the
  // PUBACK / PUBREC goes out only once the message is stored in every session it was queued to.
  if (packet.qos === 1) {
    broker.ackAfterStored(conn, { cmd: 'puback', messageId: packetId!, reasonCode }, undefined, message);
  } else if (packet.qos === 2) {
    session.inboundQos2.add(packetId!);
    broker.store.sessionChanged(session);
    broker.ackAfterStored(conn, { cmd: 'pubrec', messageId: packetId!, reasonCode }, undefined, message);
  }
}

/**
 * The reason a valid PUBLISH is not accepted: 0x87 when the ACL denies it, 0x97 Quota exceeded above
 * `messageSizeLimit` or when retaining it would take the retained store past `maxRetainedBytes`.
 */
function refusal(broker: Broker, conn: Connection, topic: string, packet: IPublishPacket): number | undefined {
  const acl = broker.options.acl;
  if (acl && !acl.canPublish({ clientId: conn.clientId!, username: conn.username }, topic)) {
    broker.events.emit('accessDenied', { clientId: conn.clientId!, username: conn.username, action: 'publish', topic });
    return ReasonCode.NotAuthorized;
  }
  const limit = broker.options.messageSizeLimit;
  const size = typeof packet.payload === 'string' ? Buffer.byteLength(packet.payload) : packet.payload.length;
  if (limit > 0 && size > limit) return ReasonCode.QuotaExceeded;
  if (packet.retain && size > 0 && broker.retained.bytesAfter(topic, size) > broker.options.maxRetainedBytes)
    return ReasonCode.QuotaExceeded;
  return undefined;
}

/** Applies an inbound Topic Alias (MQTT 5.0 §3.3.2.3.4): sets or looks up the alias of this connection. */
function resolveTopic(broker: Broker, conn: Connection, packet: IPublishPacket): string {
  const alias = packet.properties?.topicAlias;
  if (alias === undefined || conn.protocolVersion !== 5) {
    if (packet.topic === '') throw new ProtocolViolation(ReasonCode.ProtocolError, 'empty topic without a topic alias');
    return packet.topic;
  }
  // [MQTT-3.3.2-8] alias 0 or above our Topic Alias Maximum is a Topic Alias invalid error.
  if (alias === 0 || alias > broker.options.topicAliasMaximum) {
    throw new ProtocolViolation(ReasonCode.TopicAliasInvalid, `topic alias ${alias} outside 1..${broker.options.topicAliasMaximum}`);
  }
  if (packet.topic !== '') {
    (conn.inboundAliases ??= new Map()).set(alias, packet.topic);
    return packet.topic;
  }
  const topic = conn.inboundAliases?.get(alias);
  // §3.3.4: a zero-length topic with an alias never set on this connection is a Protocol Error.
  if (topic === undefined) throw new ProtocolViolation(ReasonCode.ProtocolError, `topic alias ${alias} was never set`);
  return topic;
}
