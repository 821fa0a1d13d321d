import mqttPacket, { type Packet } from 'mqtt-packet';
import { variableByteIntegerSize } from '../protocol/index.js';
import type { MqttClient } from 'mqtt';

/** One packet as it crossed the wire, seen from a client. */
export interface TracedPacket {
  /** Milliseconds since the trace started. */
  at: number;
  /** `out`: client → broker; `in`: broker → client. */
  direction: 'out' | 'in';
  /** Which client (the label given to `trace`). */
  client: string;
  /** Packet type in capitals, e.g. PUBREC. */
  type: string;
  /** Size on the wire in bytes (fixed header included). */
  bytes: number;
  messageId?: number;
  qos?: number;
  topic?: string;
  retain?: boolean;
  dup?: boolean;
  reasonCode?: number;
  /** Properties of interest (aliases, expiry, subscription ids …), when present. */
  properties?: Record<string, unknown>;
  /** CONNACK only: whether the broker resumed a stored session. */
  sessionPresent?: boolean;
}

/** Records the packets MQTT.js sends and receives (its `packetsend`/`packetreceive` events). */
export class PacketTrace {
  readonly packets: TracedPacket[] = [];
  private readonly started = performance.now();

  /** `onPacket` sees each packet as it is recorded (to print a live trace). */
  constructor(private readonly onPacket?: (packet: TracedPacket) => void) {}

  /** Starts recording a client's packets under a label. */
  trace(client: MqttClient, label: string): this {
    const version = (client.options.protocolVersion ?? 4) as 3 | 4 | 5;
    client.on('packetsend', (packet) => this.record('out', label, packet as Packet, version));
    client.on('packetreceive', (packet) => this.record('in', label, packet as Packet, version));
    return this;
  }

  /** Packets recorded since index `from`, optionally only one client's and without keep-alive pings. */
  since(from: number, filter: { client?: string; pings?: boolean } = {}): TracedPacket[] {
    return this.packets
      .slice(from)
      .filter((p) => (filter.client === undefined || p.client === filter.client) && (filter.pings || !p.type.startsWith('PING')));
  }

  /** The current end of the trace, to pass to `since` later. */
  mark(): number {
    return this.packets.length;
  }

  private record(direction: 'out' | 'in', client: string, packet: Packet, protocolVersion: 3 | 4 | 5): void {
    const p = packet as Packet & {
      messageId?: number;
      qos?: number;
      topic?: string;
      retain?: boolean;
      dup?: boolean;
      reasonCode?: number;
      properties?: Record<string, unknown>;
    };
    const entry: TracedPacket = {
      at: Math.round((performance.now() - this.started) * 1000) / 1000,
      direction,
      client,
      type: packet.cmd.toUpperCase(),
      bytes: wireSize(packet, protocolVersion),
    };
    if (p.messageId !== undefined) entry.messageId = p.messageId;
    if (packet.cmd === 'publish') {
      entry.qos = p.qos;
      entry.topic = p.topic;
      entry.retain = p.retain;
      entry.dup = p.dup;
    }
    if (p.reasonCode !== undefined) entry.reasonCode = p.reasonCode;
    if (packet.cmd === 'connack') entry.sessionPresent = packet.sessionPresent;
    if (p.properties && Object.keys(p.properties).length > 0) entry.properties = { ...p.properties };
    this.packets.push(entry);
    this.onPacket?.(entry);
  }
}

/** Encoded size of a packet in bytes. */
export function wireSize(packet: Packet, protocolVersion: 3 | 4 | 5): number {
  try {
    return mqttPacket.generate(packet, { protocolVersion }).length;
  } catch {
    // A packet MQTT.js received but mqtt-packet will not re-encode: fall back to its parsed length.
    const length = (packet as { length?: number }).length ?? 0;
    return length + 1 + variableByteIntegerSize(length);
  }
}

/** One line per packet: `→ PUBLISH qos=1 id=3 sensors/temperature/room1 (42 B)`; with `properties`, its MQTT 5 properties after it. */
export function formatPacket(p: TracedPacket, options: { properties?: boolean } = {}): string {
  const arrow = p.direction === 'out' ? '→' : '←';
  const parts = [`${arrow} ${p.type.padEnd(9)}`];
  if (p.qos !== undefined) parts.push(`qos=${p.qos}`);
  if (p.messageId !== undefined && p.qos !== 0) parts.push(`id=${p.messageId}`);
  if (p.dup) parts.push('dup');
  if (p.retain) parts.push('retain');
  if (p.sessionPresent) parts.push('session-present');
  if (p.reasonCode !== undefined && p.reasonCode !== 0) parts.push(`reason=0x${p.reasonCode.toString(16).padStart(2, '0')}`);
  if (p.topic !== undefined) parts.push(p.topic === '' ? '(topic via alias)' : p.topic);
  parts.push(`(${p.bytes} B)`);
  if (options.properties && p.properties)
    parts.push(...Object.entries(p.properties).map(([name, value]) => `${name}=${propertyText(value)}`));
  return `${p.client.padEnd(11)} ${parts.join(' ')}`;
}

/** A property value for a trace line: binary as text when printable, else hex. */
function propertyText(value: unknown): string {
  if (Buffer.isBuffer(value))
    return /^[\x20-\x7e]*$/.test(value.toString('latin1')) ? JSON.stringify(value.toString('latin1')) : `0x${value.toString('hex')}`;
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}
