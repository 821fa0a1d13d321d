/**
 * AMQP 0-9-1 frame sizes worked out from the specification (amqp0-9-1.pdf §2.3.5, §4.2.3–4.2.6 and the
 * method definitions in amqp0-9-1.xml), to check what is counted on the socket against.
 *
 * Every frame: type (1) + channel (2) + payload size (4) + payload + frame-end 0xCE (1) = payload + 8.
 * A message is three frames or more: a basic.publish / basic.deliver method frame, a content header frame,
 * and one body frame per frame-max bytes of content.
 */

/** Bytes around every frame payload (§4.2.3). */
export const FRAME_OVERHEAD = 8;

/** Method frame payload starts with class-id (2) and method-id (2) (§4.2.4). */
const METHOD_IDS = 4;

/** shortstr: one length octet + the bytes (§4.2.5.3). */
export function shortstr(value: string): number {
  return 1 + Buffer.byteLength(value);
}

/** basic.publish: reserved-1 short, exchange shortstr, routing-key shortstr, mandatory/immediate bits in one octet. */
export function basicPublishFrame(exchange: string, routingKey: string): number {
  return FRAME_OVERHEAD + METHOD_IDS + 2 + shortstr(exchange) + shortstr(routingKey) + 1;
}

/**
 * Content header: class-id (2), weight (2), body-size longlong (8), property-flags (2), then the properties
 * present (§4.2.6.1). `propertyBytes` is the encoded size of those properties (0 when there are none).
 */
export function contentHeaderFrame(propertyBytes: number): number {
  return FRAME_OVERHEAD + 2 + 2 + 8 + 2 + propertyBytes;
}

/** Body frames for `payloadBytes` of content with a negotiated frame-max (RabbitMQ's default is 131072). */
export function contentBodyFrames(payloadBytes: number, frameMax = 131_072): number {
  const perFrame = frameMax - FRAME_OVERHEAD;
  const frames = Math.max(1, Math.ceil(payloadBytes / perFrame));
  return frames * FRAME_OVERHEAD + payloadBytes;
}

/** basic.deliver: consumer-tag shortstr, delivery-tag longlong, redelivered bit (one octet), exchange, routing-key. */
export function basicDeliverFrame(consumerTag: string, exchange: string, routingKey: string): number {
  return FRAME_OVERHEAD + METHOD_IDS + shortstr(consumerTag) + 8 + 1 + shortstr(exchange) + shortstr(routingKey);
}

/** basic.ack (either way): delivery-tag longlong + multiple bit (one octet). */
export function basicAckFrame(): number {
  return FRAME_OVERHEAD + METHOD_IDS + 8 + 1;
}

/** The 8-byte protocol header a client sends first: "AMQP" 0 0 9 1 (§4.2.2). */
export const PROTOCOL_HEADER = 8;

/**
 * Encoded size of the basic properties amqplib sends with a plain `publish(exchange, key, content)`:
 * it always sets `headers` (to an empty table, 4-byte length 0) and nothing else (amqplib lib/api_args.js).
 * With `persistent: true` delivery-mode (one octet) is added.
 */
export function amqplibDefaultPropertyBytes(persistent = false): number {
  return 4 + (persistent ? 1 : 0);
}

/** The frames of one published message and the bytes they add up to. */
export function publishedMessage(
  exchange: string,
  routingKey: string,
  payloadBytes: number,
  propertyBytes: number,
): { method: number; header: number; body: number; total: number } {
  const method = basicPublishFrame(exchange, routingKey);
  const header = contentHeaderFrame(propertyBytes);
  const body = contentBodyFrames(payloadBytes);
  return { method, header, body, total: method + header + body };
}

/** The frames of one delivered message (the broker passes the content header on as published). */
export function deliveredMessage(
  consumerTag: string,
  exchange: string,
  routingKey: string,
  payloadBytes: number,
  propertyBytes: number,
): { method: number; header: number; body: number; total: number } {
  const method = basicDeliverFrame(consumerTag, exchange, routingKey);
  const header = contentHeaderFrame(propertyBytes);
  const body = contentBodyFrames(payloadBytes);
  return { method, header, body, total: method + header + body };
}
