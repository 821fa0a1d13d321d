import mqttPacket, { type Packet } from 'mqtt-packet';
import type { LinkDirection } from './faults.js';
import type { PacketTypeName } from '../protocol/index.js';

/** MQTT protocol level as sent in CONNECT: 3 (3.1), 4 (3.1.1) or 5. */
export type ProtocolLevel = 3 | 4 | 5;

/** What the link did with a packet. */
export type PacketFate =
  /** written to the other side */
  | 'forwarded'
  /** the link broke on it: not forwarded, both sides closed */
  | 'cut'
  /** in transit (delayed) when the link broke */
  | 'lost'
  /** swallowed by a silent (half-open) link */
  | 'dropped';

/** One packet seen by the link, decoded from its bytes. */
export interface LinkPacket {
  /** Milliseconds since the epoch when its fate was decided. */
  at: number;
  /** Number of the connection through the proxy, from 1. */
  connection: number;
  /** Client identifier from that connection's CONNECT, once seen. */
  clientId?: string;
  direction: LinkDirection;
  /** Type from the first byte (even when the rest is malformed); UNDECODED for bytes after a framing error. */
  type: PacketTypeName | 'UNDECODED';
  /** Size on the wire, fixed header included. */
  bytes: number;
  /** Protocol level the bytes were decoded with (from the connection's CONNECT). */
  protocolVersion: ProtocolLevel;
  /** The decoded packet (mqtt-packet's objects); absent when the bytes are malformed. */
  packet?: Packet;
  /** Why the bytes could not be decoded, when they could not. */
  malformed?: string;
  /** The bytes as they crossed (a view: copy it to keep it past the event). */
  raw: Buffer;
  fate: PacketFate;
}

/** The outcome of decoding one frame. */
export type DecodedFrame = { packet: Packet; malformed?: undefined } | { packet?: undefined; malformed: string };

/**
 * Decodes one whole frame (fixed header and the Remaining Length bytes that follow) with mqtt-packet's
 * parser. A fresh parser per frame, so one malformed frame never leaves state behind for the next.
 */
export function decodeFrame(frame: Buffer, protocolVersion: ProtocolLevel): DecodedFrame {
  const parser = mqttPacket.parser({ protocolVersion });
  let packet: Packet | undefined;
  let error: string | undefined;
  parser.on('packet', (p: Packet) => (packet ??= p));
  parser.on('error', (e: Error) => (error ??= e.message));
  try {
    parser.parse(frame);
  } catch (e) {
    error ??= (e as Error).message;
  }
  if (error !== undefined) return { malformed: error };
  if (packet === undefined) return { malformed: 'incomplete packet' };
  return { packet };
}
