import mqttPacket, { type Packet } from 'mqtt-packet';
import { PacketType } from '../protocol/index.js';

/*
 * mqtt-packet's parser for the packets the fast paths (publish-codec.ts) leave to it. The Framer hands over
 * whole frames, so a parse always starts and ends on a packet boundary and one parser per protocol version
 * serves every connection: a connection no longer carries a parser of its own (a Parser, a BufferList
 * Duplex with its two stream states, listeners and the last packet: about 1.2 KB per idle connection).
 */

/** What a parse gave: the packet, or mqtt-packet's error. */
export type ParseResult = { packet: Packet; error?: undefined } | { packet?: undefined; error: Error };

type Parser = ReturnType<typeof mqttPacket.parser>;

/** The shared parsers by protocol version (3, 4, 5), created on first use. */
const parsers = new Map<number, Parser>();
/** Set by the listeners during parse(), which emits synchronously. */
let parsed: Packet | undefined;
let failure: Error | undefined;

function newParser(protocolVersion: number): Parser {
  const parser = mqttPacket.parser({ protocolVersion: protocolVersion as 3 | 4 | 5 });
  parser.on('packet', (packet: Packet) => (parsed = packet));
  parser.on('error', (error: Error) => (failure = error));
  return parser;
}

/**
 * Parses one whole frame. A CONNECT gets a parser of its own, used once: parsing one makes its protocol
 * version the parser's (mqtt-packet keeps the CONNECT as its settings), which must not leak to other
 * connections. A parser left holding bytes or without a packet is dropped, so no state crosses frames.
 */
export function parseFrame(frame: Buffer, protocolVersion: number): ParseResult {
  const connect = frame[0]! >> 4 === PacketType.CONNECT;
  let parser = connect ? undefined : parsers.get(protocolVersion);
  if (!parser) {
    parser = newParser(protocolVersion);
    if (!connect) parsers.set(protocolVersion, parser);
  }
  parsed = undefined;
  failure = undefined;
  const left = parser.parse(frame);
  const packet = parsed as Packet | undefined;
  const error = failure as Error | undefined;
  if (left > 0 || error || !packet) parsers.delete(protocolVersion);
  if (error || !packet) return { error: error ?? new Error('incomplete packet') };
  return { packet };
}
