import type { Packet } from 'mqtt-packet';
import { reasonName } from '../protocol/index.js';
import type { LinkPacket } from './decode.js';
import type { LinkEvent } from './link-connection.js';

/** How payloads are shown: as text (escaped where not printable) or as hex. */
export type PayloadFormat = 'text' | 'hex';

/** A packet as the proxy prints it: the fields people look for, in plain JSON types. */
export interface PacketSummary {
  time: string;
  connection: number;
  clientId?: string;
  direction: LinkPacket['direction'];
  type: LinkPacket['type'];
  bytes: number;
  fate: LinkPacket['fate'];
  protocolVersion: number;
  packetId?: number;
  qos?: number;
  dup?: boolean;
  retain?: boolean;
  topic?: string;
  /** CONNECT: clean start, keep alive, will topic; CONNACK: session present. */
  connect?: Record<string, unknown>;
  /** SUBSCRIBE / UNSUBSCRIBE filters with their options. */
  filters?: Array<{ topic: string; qos?: number; nl?: boolean; rap?: boolean; rh?: number }>;
  properties?: Record<string, unknown>;
  /** One reason code (acks, DISCONNECT, AUTH, 5.0 CONNACK) or the 3.1.1 CONNACK return code. */
  reasonCode?: number;
  /** SUBACK / UNSUBACK: one per filter. */
  reasonCodes?: number[];
  payload?: string;
  /** Why the bytes could not be decoded, with the bytes in hex (at most 256 shown). */
  malformed?: string;
  hex?: string;
}

const MAX_SHOWN_BYTES = 4096;

/** The printable summary of a packet seen by the link. */
export function summarizePacket(p: LinkPacket, payloadFormat: PayloadFormat = 'text'): PacketSummary {
  const out: PacketSummary = {
    time: new Date(p.at).toISOString(),
    connection: p.connection,
    ...(p.clientId !== undefined && { clientId: p.clientId }),
    direction: p.direction,
    type: p.type,
    bytes: p.bytes,
    fate: p.fate,
    protocolVersion: p.protocolVersion,
  };
  if (p.malformed !== undefined || !p.packet) {
    out.malformed = p.malformed ?? 'undecoded';
    out.hex = p.raw.subarray(0, 256).toString('hex') + (p.raw.length > 256 ? '…' : '');
    return out;
  }
  Object.assign(out, packetFields(p.packet, payloadFormat));
  return out;
}

/** The fields of a decoded packet that a trace shows. */
function packetFields(packet: Packet, payloadFormat: PayloadFormat): Partial<PacketSummary> {
  const out: Partial<PacketSummary> = {};
  const p = packet as Packet & {
    messageId?: number;
    reasonCode?: number;
    returnCode?: number;
    properties?: Record<string, unknown>;
    granted?: Array<number | object>;
  };
  if (p.messageId !== undefined && !(packet.cmd === 'publish' && packet.qos === 0)) out.packetId = p.messageId;
  switch (packet.cmd) {
    case 'publish':
      Object.assign(out, {
        qos: packet.qos,
        dup: packet.dup,
        retain: packet.retain,
        topic: packet.topic,
        payload: showPayload(Buffer.from(packet.payload), payloadFormat),
      });
      break;
    case 'connect':
      out.connect = {
        protocol: `${packet.protocolId} ${packet.protocolVersion}`,
        clientId: packet.clientId,
        clean: packet.clean,
        keepalive: packet.keepalive,
        ...(packet.username !== undefined && { username: packet.username }),
        ...(packet.will && {
          will: {
            topic: packet.will.topic,
            qos: packet.will.qos,
            retain: packet.will.retain,
            payload: showPayload(Buffer.from(packet.will.payload), payloadFormat),
          },
        }),
      };
      break;
    case 'connack':
      out.connect = { sessionPresent: packet.sessionPresent };
      break;
    case 'subscribe':
      out.filters = packet.subscriptions.map((s) => ({
        topic: s.topic,
        qos: s.qos,
        ...(s.nl && { nl: true }),
        ...(s.rap && { rap: true }),
        ...(s.rh && { rh: s.rh }),
      }));
      break;
    case 'unsubscribe':
      out.filters = packet.unsubscriptions.map((topic) => ({ topic }));
      break;
  }
  if (p.granted) out.reasonCodes = p.granted.map((g) => (typeof g === 'number' ? g : Number((g as { qos?: number }).qos)));
  else if (p.reasonCode !== undefined) out.reasonCode = p.reasonCode;
  else if (p.returnCode !== undefined) out.reasonCode = p.returnCode;
  if (p.properties && Object.keys(p.properties).length > 0) out.properties = plainProperties(p.properties);
  return out;
}

/** Buffers in properties (correlation data, authentication data) as hex, the rest as they are. */
function plainProperties(properties: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, Buffer.isBuffer(v) ? `0x${v.toString('hex')}` : v]));
}

/** A payload as text (non-printable bytes escaped) or hex, cut at 4 KiB. */
function showPayload(payload: Buffer, format: PayloadFormat): string {
  const shown = payload.subarray(0, MAX_SHOWN_BYTES);
  const more = payload.length > MAX_SHOWN_BYTES ? `…(+${payload.length - MAX_SHOWN_BYTES} B)` : '';
  if (format === 'hex') return shown.toString('hex') + more;
  return JSON.stringify(shown.toString('utf8')).slice(1, -1) + more;
}

const FATE_MARK: Record<LinkPacket['fate'], string> = {
  forwarded: '',
  cut: '  ✂ CUT (not forwarded)',
  lost: '  ✗ lost in transit',
  dropped: '  ∅ dropped (silent link)',
};

/** One readable line: `12:00:01.234 #1 sensor-1   → PUBLISH   qos=1 id=3 dup sensors/t "21.5" (31 B)`. */
export function formatPacketLine(s: PacketSummary, style: LineStyle = {}): string {
  const parts: string[] = [];
  if (s.qos !== undefined) parts.push(`qos=${s.qos}`);
  if (s.packetId !== undefined) parts.push(`id=${s.packetId}`);
  if (s.dup) parts.push('DUP');
  if (s.retain) parts.push('RETAIN');
  if (s.connect)
    parts.push(
      Object.entries(s.connect)
        .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`)
        .join(' '),
    );
  if (s.filters)
    parts.push(
      s.filters
        .map(
          (f) =>
            `${f.topic}${f.qos !== undefined ? `@${f.qos}` : ''}${f.nl ? ' nl' : ''}${f.rap ? ' rap' : ''}${f.rh ? ` rh=${f.rh}` : ''}`,
        )
        .join(', '),
    );
  if (s.reasonCode !== undefined) parts.push(s.protocolVersion === 5 ? reasonName(s.reasonCode) : `return code ${s.reasonCode}`);
  if (s.reasonCodes) parts.push(`[${s.reasonCodes.map((c) => `0x${c.toString(16).padStart(2, '0')}`).join(', ')}]`);
  if (s.topic !== undefined) parts.push(s.topic === '' ? '(topic from alias)' : s.topic);
  if (s.properties)
    parts.push(
      `{${Object.entries(s.properties)
        .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
        .join(', ')}}`,
    );
  if (s.payload !== undefined) parts.push(`"${s.payload}"`);
  if (s.malformed !== undefined) parts.push(`MALFORMED (${s.malformed}) ${s.hex}`);
  const arrow = s.direction === 'to-broker' ? '→' : '←';
  const prefix = linePrefix(Date.parse(s.time), s.connection, s.clientId, style);
  return `${prefix} ${arrow} ${s.type.padEnd(11)} ${parts.join(' ')} (${s.bytes} B)${FATE_MARK[s.fate]}`;
}

/** One readable line for a connection event: `12:00:01.300 #1 sensor-1   ✂ cut after 50 packets …`. */
export function formatLinkEventLine(e: LinkEvent, style: LineStyle = {}): string {
  const mark = { open: '+ open', close: '- close', cut: '✂ cut', silent: '∅ silent', 'side-closed': '- half' }[e.kind];
  return `${linePrefix(e.at, e.connection, e.clientId, style)} ${mark}: ${e.detail}`;
}

/** How a line starts: wall-clock time (the default) or milliseconds since `since`; the client id unless `clientId` is false. */
export interface LineStyle {
  since?: number;
  clientId?: boolean;
}

function linePrefix(at: number, connection: number, clientId: string | undefined, style: LineStyle): string {
  const time = style.since === undefined ? new Date(at).toISOString().slice(11, 23) : `${String(at - style.since).padStart(6)} ms`;
  return `${time} #${connection}${style.clientId === false ? '' : ` ${(clientId ?? '?').padEnd(12)}`}`;
}
