import { deserialize, serialize } from 'node:v8';
import type { Message } from '../broker/index.js';

/** A message as it crosses between nodes: who sent it, under which id, and the message itself. */
export interface Envelope {
  /** Unique per message: `<node>:<counter>`, so a node that matched it through several subjects routes it once. */
  readonly id: string;
  /** The node that accepted the message from its publisher. */
  readonly node: string;
  readonly message: Message;
}

/**
 * V8's serializer (as the SQLite store uses): Buffers, absent fields and user properties round-trip.
 * Every node of a cluster runs the same mqttlab, so the format is private to it.
 */
export function encodeEnvelope(envelope: Envelope): Uint8Array {
  return serialize(envelope);
}

/** The envelope in bytes received from NATS; undefined when they are not one (not from a node of ours). */
export function decodeEnvelope(bytes: Uint8Array): Envelope | undefined {
  try {
    const value = deserialize(bytes) as Partial<Envelope>;
    const m = value?.message;
    if (typeof value?.id !== 'string' || typeof value.node !== 'string' || !m || typeof m.topic !== 'string') return undefined;
    return {
      id: value.id,
      node: value.node,
      message: { ...m, payload: Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength) },
    };
  } catch {
    return undefined;
  }
}

/** Recently seen message ids, bounded: the same message matched through two subjects arrives twice, back to back. */
export class RecentIds {
  private readonly ids = new Set<string>();

  constructor(private readonly capacity = 10_000) {}

  /** True the first time an id is seen (within the last `capacity` ids). */
  firstTime(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value!);
    return true;
  }
}
