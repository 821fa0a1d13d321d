/**
 * Where a number in the comparison comes from. The report marks every cell with one of these:
 * - measured: counted or timed here, on real sockets, against a real server running on this machine;
 * - computed: worked out by this program from a public protocol specification (bytes that would be on the wire);
 * - cited: taken from a published source (named next to it), not reproduced here;
 * - not measured: would be measured, but the server was not available on this run.
 */
export type Provenance = 'measured' | 'computed' | 'cited' | 'not measured';

/** The four systems the comparison covers, in the order of every table. */
export type System = 'MQTT' | 'Kafka' | 'RabbitMQ' | 'Cloud Pub/Sub';
export const SYSTEMS: System[] = ['MQTT', 'Kafka', 'RabbitMQ', 'Cloud Pub/Sub'];

/** Short marks used in tables: ● measured, ◆ computed, ○ cited, – not measured. */
export const PROVENANCE_MARK: Record<Provenance, string> = {
  measured: '●',
  computed: '◆',
  cited: '○',
  'not measured': '–',
};

/** The message every protocol carries in the comparison, so byte counts compare like with like. */
export interface SampleMessage {
  /** MQTT topic (AMQP routing key and Kafka topic use dots instead of slashes, see the modules). */
  topic: string;
  payloadSizes: number[];
}

export const SAMPLE: SampleMessage = {
  topic: 'sensors/temperature/room1',
  payloadSizes: [16, 256],
};

/** A JSON reading of exactly `size` bytes: `{"c":21.5,"h":4}` is 16; larger sizes pad a "p" field. */
export function samplePayload(size: number): Buffer {
  const base = '{"c":21.5,"h":4}';
  if (size === base.length) return Buffer.from(base);
  const padded = '{"c":21.5,"h":4,"p":""}';
  if (size < padded.length) return Buffer.alloc(size, 0x61);
  return Buffer.from(`${padded.slice(0, -2) + 'x'.repeat(size - padded.length)}"}`);
}

/** One row of a per-unit byte table: what crossed, which way, how big. */
export interface WireRow {
  /** `→` sender to server, `←` server to receiver/sender. */
  direction: '→' | '←';
  type: string;
  bytes: number;
}

export function sumBytes(rows: WireRow[]): number {
  return rows.reduce((n, r) => n + r.bytes, 0);
}
