import type { MqttClient } from 'mqtt';

/** A message one of the exercise's clients received, with when and how it arrived. */
export interface ReceivedMessage {
  /** Milliseconds since the seed function started. */
  at: number;
  /** Label of the client that received it. */
  client: string;
  topic: string;
  payload: string;
  /** Payload size in bytes (0 for the "clear retained" message). */
  bytes: number;
  qos: number;
  /** RETAIN flag on the PUBLISH the client received (not the flag the publisher set). */
  retain: boolean;
}

/** A clock in milliseconds since it was made, rounded to 0.1 ms. */
export function stopwatch(): () => number {
  const started = performance.now();
  return () => Math.round((performance.now() - started) * 10) / 10;
}

/** Records every message `client` receives into `sink`, stamped by `clock`. */
export function collect(client: MqttClient, label: string, clock: () => number, sink: ReceivedMessage[]): void {
  client.on('message', (topic, payload, packet) => {
    sink.push({
      at: clock(),
      client: label,
      topic,
      payload: payload.toString(),
      bytes: payload.length,
      qos: packet.qos,
      retain: packet.retain,
    });
  });
}

/** A payload rendered for a table: `"online"`, or `(empty, 0 B)` for a zero-length payload. */
export const showPayload = (m: { payload: string; bytes: number }) => (m.bytes === 0 ? '(empty, 0 B)' : `"${m.payload}"`);

/** Milliseconds for a table, `—` when there is no figure. */
export const ms = (x: number | undefined) => (x === undefined ? '—' : `${x} ms`);

/** The RETAIN flag as printed. */
export const flag = (retain: boolean) => (retain ? 'retain=1' : 'retain=0');
