import type { IPublishPacket } from 'mqtt-packet';

/** How `mqttlab sub` (and `req`) print a message. */
export type OutputFormat = 'text' | 'json' | 'hex';

/** The output formats, for option checks and help. */
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['text', 'json', 'hex'];

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The bytes as text when they are valid UTF-8, else undefined. */
export function utf8OrUndefined(bytes: Buffer): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * A message as one JSON object: topic, QoS, flags, the payload as text when it is UTF-8 (else
 * `payloadHex`), and its MQTT 5 properties (binary Correlation Data likewise as `correlationDataHex`).
 */
export function messageJson(topic: string, payload: Buffer, packet: IPublishPacket): Record<string, unknown> {
  const text = utf8OrUndefined(payload);
  const out: Record<string, unknown> = { topic, qos: packet.qos, retain: packet.retain, dup: packet.dup };
  if (packet.qos > 0 && packet.messageId !== undefined) out.messageId = packet.messageId;
  if (text !== undefined) out.payload = text;
  else out.payloadHex = payload.toString('hex');
  const properties: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(packet.properties ?? {})) {
    if (value === undefined) continue;
    if (Buffer.isBuffer(value)) {
      const asText = utf8OrUndefined(value);
      if (asText !== undefined) properties[name] = asText;
      else properties[`${name}Hex`] = value.toString('hex');
    } else {
      properties[name] = value;
    }
  }
  if (Object.keys(properties).length > 0) out.properties = properties;
  return out;
}

/** A received message as output bytes, newline included: the payload as is (text), JSON, or hex; `withTopic` puts the topic first. */
export function formatMessage(topic: string, payload: Buffer, packet: IPublishPacket, format: OutputFormat, withTopic: boolean): Buffer {
  switch (format) {
    case 'json':
      return Buffer.from(`${JSON.stringify(messageJson(topic, payload, packet))}\n`);
    case 'hex':
      return Buffer.from(`${withTopic ? `${topic} ` : ''}${payload.toString('hex')}\n`);
    case 'text':
      return Buffer.concat([Buffer.from(withTopic ? `${topic} ` : ''), payload, Buffer.from('\n')]);
  }
}
