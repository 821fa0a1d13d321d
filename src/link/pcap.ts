import { closeSync, openSync, writeSync } from 'node:fs';
import type { LinkPacket } from './decode.js';
import type { LinkEvent } from './link-connection.js';

/** LINKTYPE_RAW: each record is an IP packet, no link-layer header (tcpdump.org/linktypes.html). */
const LINKTYPE_RAW = 101;
/** Largest TCP payload per record, so every IPv4 total length fits its 16 bits. */
const MAX_SEGMENT = 65_000;
const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_RST = 0x04;
const TCP_PSH = 0x08;
const TCP_ACK = 0x10;

/** The TCP numbers of one connection as the capture shows it: client ↔ broker address of the proxy. */
interface Flow {
  clientPort: number;
  seq: { 'to-broker': number; 'to-client': number };
}

/**
 * Writes what crossed the emulated link as a pcap file Wireshark and tshark open: per connection a
 * TCP conversation between 10.0.0.2:<client port> and 10.0.0.1:<server port> (handshake, one segment
 * per forwarded MQTT packet, FIN or RST at the end). Decode it with `-d tcp.port==<server port>,mqtt`
 * when the port is not 1883.
 */
export class PcapWriter {
  private readonly fd: number;
  private readonly flows = new Map<number, Flow>();

  constructor(
    path: string,
    private readonly serverPort: number,
  ) {
    this.fd = openSync(path, 'w');
    const header = Buffer.alloc(24);
    header.writeUInt32LE(0xa1b2c3d4, 0);
    header.writeUInt16LE(2, 4);
    header.writeUInt16LE(4, 6);
    header.writeUInt32LE(262_144, 16);
    header.writeUInt32LE(LINKTYPE_RAW, 20);
    writeSync(this.fd, header);
  }

  /** Records a forwarded packet (others never crossed the link and are not written). */
  packet(p: LinkPacket): void {
    if (p.fate !== 'forwarded') return;
    const flow = this.flow(p.connection, p.at);
    for (let offset = 0; offset < p.raw.length; offset += MAX_SEGMENT) {
      this.segment(flow, p.direction, TCP_PSH | TCP_ACK, p.raw.subarray(offset, offset + MAX_SEGMENT), p.at);
    }
  }

  /** Records the end of a connection: RST when the link was cut, FIN both ways otherwise. */
  event(e: LinkEvent): void {
    const flow = this.flows.get(e.connection);
    if (!flow || e.kind !== 'close') return;
    if (e.detail.includes('RST')) {
      this.segment(flow, 'to-client', TCP_RST | TCP_ACK, Buffer.alloc(0), e.at);
    } else {
      this.segment(flow, 'to-broker', TCP_FIN | TCP_ACK, Buffer.alloc(0), e.at);
      this.segment(flow, 'to-client', TCP_FIN | TCP_ACK, Buffer.alloc(0), e.at);
    }
    this.flows.delete(e.connection);
  }

  /** Closes the file. */
  close(): void {
    closeSync(this.fd);
  }

  private flow(connection: number, at: number): Flow {
    let flow = this.flows.get(connection);
    if (!flow) {
      flow = { clientPort: 40_000 + (connection % 20_000), seq: { 'to-broker': 1000, 'to-client': 5000 } };
      this.flows.set(connection, flow);
      this.segment(flow, 'to-broker', TCP_SYN, Buffer.alloc(0), at);
      this.segment(flow, 'to-client', TCP_SYN | TCP_ACK, Buffer.alloc(0), at);
      this.segment(flow, 'to-broker', TCP_ACK, Buffer.alloc(0), at);
    }
    return flow;
  }

  /** One IPv4 + TCP record (SYN and FIN count one in the sequence numbers). */
  private segment(flow: Flow, direction: LinkPacket['direction'], flags: number, payload: Buffer, at: number): void {
    const toBroker = direction === 'to-broker';
    const ip = Buffer.alloc(20);
    const tcp = Buffer.alloc(20);
    ip.writeUInt8(0x45, 0);
    ip.writeUInt16BE(40 + payload.length, 2);
    ip.writeUInt16BE(0x4000, 6);
    ip.writeUInt8(64, 8);
    ip.writeUInt8(6, 9);
    Buffer.from(toBroker ? [10, 0, 0, 2, 10, 0, 0, 1] : [10, 0, 0, 1, 10, 0, 0, 2]).copy(ip, 12);
    ip.writeUInt16BE(ipChecksum(ip), 10);
    tcp.writeUInt16BE(toBroker ? flow.clientPort : this.serverPort, 0);
    tcp.writeUInt16BE(toBroker ? this.serverPort : flow.clientPort, 2);
    tcp.writeUInt32BE(flow.seq[direction] >>> 0, 4);
    tcp.writeUInt32BE(flags === TCP_SYN ? 0 : flow.seq[toBroker ? 'to-client' : 'to-broker'] >>> 0, 8);
    tcp.writeUInt8(5 << 4, 12);
    tcp.writeUInt8(flags, 13);
    tcp.writeUInt16BE(65_535, 14);
    flow.seq[direction] += payload.length + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0);
    const record = Buffer.alloc(16);
    record.writeUInt32LE(Math.floor(at / 1000), 0);
    record.writeUInt32LE(Math.floor((at % 1000) * 1000), 4);
    record.writeUInt32LE(40 + payload.length, 8);
    record.writeUInt32LE(40 + payload.length, 12);
    writeSync(this.fd, Buffer.concat([record, ip, tcp, payload]));
  }
}

/** The Internet checksum of an IPv4 header (RFC 791), its checksum field being zero. */
function ipChecksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
