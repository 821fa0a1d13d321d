import type { IPublishPacket, QoS, UserProperties } from 'mqtt-packet';

/** The application properties of a message that the broker forwards unchanged [MQTT-3.3.2-15..20]. */
export interface MessageProperties {
  payloadFormatIndicator?: boolean;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperties;
}

/**
 * An application message as accepted by the broker. Immutable once accepted: what differs per
 * subscriber (packet id, granted QoS, subscription identifiers, alias, retain flag) is applied on write.
 */
export interface Message {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly properties: MessageProperties;
  /** Epoch milliseconds after which the message must not be delivered; undefined means never. */
  readonly expiresAt?: number;
  /** Client id of the publisher, for No Local; undefined for broker-originated messages. */
  readonly origin?: string;
}

/** Builds a message from a received PUBLISH, dropping the hop-by-hop properties. */
export function messageFromPublish(packet: IPublishPacket, topic: string, origin: string | undefined, now: number): Message {
  const p = packet.properties;
  const properties: MessageProperties = {};
  if (p) {
    if (p.payloadFormatIndicator !== undefined) properties.payloadFormatIndicator = p.payloadFormatIndicator;
    if (p.contentType !== undefined) properties.contentType = p.contentType;
    if (p.responseTopic !== undefined) properties.responseTopic = p.responseTopic;
    if (p.correlationData !== undefined) properties.correlationData = p.correlationData;
    if (p.userProperties !== undefined) properties.userProperties = p.userProperties;
  }
  const expiry = p?.messageExpiryInterval;
  return {
    topic,
    payload: typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload,
    qos: packet.qos,
    retain: packet.retain,
    properties,
    expiresAt: expiry !== undefined ? now + expiry * 1000 : undefined,
    origin,
  };
}

/** True once the message's Message Expiry Interval has passed [MQTT-3.3.2-5]. */
export function isExpired(message: Message, now: number): boolean {
  return message.expiresAt !== undefined && now >= message.expiresAt;
}

/** Whole seconds left of the message's expiry interval, rounded up [MQTT-3.3.2-6]. */
export function remainingExpirySeconds(message: Message, now: number): number | undefined {
  if (message.expiresAt === undefined) return undefined;
  return Math.max(0, Math.ceil((message.expiresAt - now) / 1000));
}
