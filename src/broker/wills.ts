import type { IConnectPacket } from 'mqtt-packet';
import type { Broker } from './broker.js';
import type { Message, MessageProperties } from './message.js';
import type { Session } from './session.js';

/** A CONNECT's will, as the client sent it. */
export type Will = NonNullable<IConnectPacket['will']>;

const willKey = (clientId: string) => `will:${clientId}`;

/** Turns a CONNECT's will into the message the broker publishes for the client. */
export function willMessage(clientId: string, will: Will, now: number): Message {
  const p = will.properties ?? {};
  const properties: MessageProperties = {};
  if (p.payloadFormatIndicator !== undefined) properties.payloadFormatIndicator = p.payloadFormatIndicator;
  if (p.contentType !== undefined) properties.contentType = p.contentType;
  if (p.responseTopic !== undefined) properties.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) properties.correlationData = p.correlationData;
  if (p.userProperties !== undefined) properties.userProperties = p.userProperties;
  return {
    topic: will.topic,
    payload: typeof will.payload === 'string' ? Buffer.from(will.payload) : will.payload,
    qos: will.qos ?? 0,
    retain: will.retain === true,
    properties,
    // §3.1.3.2.4: the will's Message Expiry Interval counts from when the will is published.
    expiresAt: p.messageExpiryInterval !== undefined ? now + p.messageExpiryInterval * 1000 : undefined,
    origin: clientId,
  };
}

/**
 * Publishes a will after an unclean close: now, or after the Will Delay Interval, or when the session
 * ends if sooner [MQTT-3.1.3-9]; a reconnect within the delay cancels it (see cancelWill).
 */
export function scheduleWill(broker: Broker, session: Session, will: Will, now: number): void {
  const delay = will.properties?.willDelayInterval ?? 0;
  const publish = () =>
    broker.guard('will publication', () => {
      const message = willMessage(session.clientId, will, broker.clock.now());
      broker.publish(message);
      broker.events.emit('willPublished', session.clientId, message);
    });
  if (delay === 0 || session.expiryInterval === 0) {
    publish();
    return;
  }
  const seconds = Math.min(delay, session.expiryInterval);
  broker.deadlines.add(willKey(session.clientId), now + seconds * 1000, publish);
}

/** A new connection for the client id within the Will Delay Interval: the will is not sent. */
export function cancelWill(broker: Broker, clientId: string): void {
  broker.deadlines.remove(willKey(clientId));
}
