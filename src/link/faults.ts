import { PACKET_TYPES, type PacketTypeName } from '../protocol/index.js';

/** Which way a packet travels through the link. */
export type LinkDirection = 'to-broker' | 'to-client';

/** Cut the link instead of forwarding the first packet of this type (going this way, or either way). */
export interface CutOnRule {
  type: PacketTypeName;
  direction?: LinkDirection;
}

/**
 * What the emulated link does to every connection through it. Each connection gets its own random
 * stream from the seed, so a run with the same seed and the same traffic breaks the same way.
 */
export interface LinkFaults {
  /** Milliseconds added to every packet, each way. */
  delayMs?: number;
  /** Up to this many milliseconds more per packet, uniformly drawn (order is kept, as TCP keeps it). */
  jitterMs?: number;
  /** Bytes per second each way (a 2,400 bit/s satellite link is 300); unset = unlimited. */
  rateBytesPerSecond?: number;
  /** N packets (both ways) get through, the next is lost with the connection: both sides closed, no DISCONNECT. */
  cutEvery?: number;
  /**
   * Cut instead of forwarding the first packet matching each rule (once per proxy: a link that cut every PUBACK
   * would never deliver one).
   */
  cutOn?: CutOnRule[];
  /** Probability of cutting instead of forwarding, drawn per packet. */
  cutProbability?: number;
  /** Seconds after a connection opens at which the link goes silent both ways while both sockets stay open (half-open). */
  blackholeAfterSeconds?: number;
}

/** Checks faults for values that make no sense; returns them unchanged or throws a one-line error. */
export function validateFaults(faults: LinkFaults): LinkFaults {
  const nonNegative = (name: string, value: number | undefined) => {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0))
      throw new Error(`${name} must be a non-negative number (got ${value})`);
  };
  nonNegative('delay', faults.delayMs);
  nonNegative('jitter', faults.jitterMs);
  nonNegative('blackhole-after', faults.blackholeAfterSeconds);
  if (faults.rateBytesPerSecond !== undefined && !(faults.rateBytesPerSecond > 0))
    throw new Error(`rate must be a positive number of bytes per second (got ${faults.rateBytesPerSecond})`);
  if (faults.cutEvery !== undefined && !(Number.isInteger(faults.cutEvery) && faults.cutEvery >= 1))
    throw new Error(`cut-every must be a positive integer (got ${faults.cutEvery})`);
  if (faults.cutProbability !== undefined && !(faults.cutProbability >= 0 && faults.cutProbability <= 1))
    throw new Error(`cut-prob must be between 0 and 1 (got ${faults.cutProbability})`);
  return faults;
}

/** Parses `TYPE[:to-broker|to-client]`, e.g. `puback:to-client`; throws a one-line error otherwise. */
export function parseCutOn(text: string): CutOnRule {
  const [name = '', direction, ...rest] = text.split(':');
  const type = name.toUpperCase() as PacketTypeName;
  if (!PACKET_TYPES.includes(type) || type === 'RESERVED')
    throw new Error(`cut-on "${text}": unknown packet type "${name}" (one of ${PACKET_TYPES.slice(1).join(', ').toLowerCase()})`);
  if (rest.length > 0 || (direction !== undefined && direction !== 'to-broker' && direction !== 'to-client')) {
    throw new Error(`cut-on "${text}": the direction is to-broker or to-client`);
  }
  return direction === undefined ? { type } : { type, direction };
}

/** A short description of the faults, e.g. "delay 100 ms, cut every 50 packets"; "none" for a perfect link. */
export function describeFaults(faults: LinkFaults): string {
  const parts: string[] = [];
  if (faults.delayMs) parts.push(`delay ${faults.delayMs} ms`);
  if (faults.jitterMs) parts.push(`jitter ${faults.jitterMs} ms`);
  if (faults.rateBytesPerSecond) parts.push(`${faults.rateBytesPerSecond} B/s`);
  if (faults.cutEvery) parts.push(`cut every ${faults.cutEvery} packets`);
  for (const rule of faults.cutOn ?? []) parts.push(`cut on ${rule.type}${rule.direction ? ` ${rule.direction}` : ''}`);
  if (faults.cutProbability) parts.push(`cut with p=${faults.cutProbability} per packet`);
  if (faults.blackholeAfterSeconds !== undefined) parts.push(`silent after ${faults.blackholeAfterSeconds} s`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}
