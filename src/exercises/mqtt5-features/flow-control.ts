import type { MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { disconnect } from '../../client/index.js';
import type { ExerciseContext } from '../context.js';
import { type Checks, type Section, table, waitFor } from '../report.js';

/** One step of a slow subscriber's window: a PUBLISH arriving on its socket or its PUBACK leaving. */
export interface FlowEvent {
  /** Milliseconds since the first PUBLISH arrived. */
  at: number;
  event: 'PUBLISH' | 'PUBACK';
  messageId: number;
  /** Unacknowledged QoS 1 PUBLISHes held by the subscriber after this event. */
  inFlight: number;
}

/** One slow subscriber's round: its Receive Maximum, what it got, and its window over time. */
export interface FlowRound {
  /** Receive Maximum the subscriber sent in CONNECT; undefined = not sent (65,535). */
  receiveMaximum?: number;
  received: number;
  maxInFlight: number;
  durationMs: number;
  timeline: FlowEvent[];
}

/** The flow-control demonstration: the same burst to a subscriber with and without a Receive Maximum. */
export interface FlowControlResult {
  messages: number;
  ackDelayMs: number;
  limited: FlowRound;
  unlimited: FlowRound;
}

/**
 * A subscriber that acknowledges slowly connects with Receive Maximum 2; 10 QoS 1 messages are
 * published at once; the subscriber's socket shows the broker never has more than 2 unacknowledged
 * PUBLISHes out to it [MQTT-3.3.4-9], [MQTT-4.9.0-2]. The same again without a Receive Maximum, for contrast.
 */
export async function demonstrateFlowControl(
  ctx: ExerciseContext,
  options: { receiveMaximum?: number; messages?: number; ackDelayMs?: number } = {},
): Promise<FlowControlResult> {
  const receiveMaximum = options.receiveMaximum ?? 2;
  const messages = options.messages ?? 10;
  const ackDelayMs = options.ackDelayMs ?? 50;
  const limited = await flowRound(ctx, 'slow-sub', receiveMaximum, messages, ackDelayMs);
  const unlimited = await flowRound(ctx, 'slow-sub-nolimit', undefined, messages, ackDelayMs);
  return { messages, ackDelayMs, limited, unlimited };
}

/** A PUBLISH seen on the subscriber's socket or a PUBACK it sent, at performance.now() `t`. */
type RawFlowEvent = { t: number; event: 'PUBLISH' | 'PUBACK'; messageId: number };

async function flowRound(
  ctx: ExerciseContext,
  label: string,
  receiveMaximum: number | undefined,
  messages: number,
  ackDelayMs: number,
): Promise<FlowRound> {
  const topic = ctx.topic(`work/${label}`);
  const subscriber = await ctx.connect(label, receiveMaximum !== undefined ? { properties: { receiveMaximum } } : {});
  // MQTT.js sends the PUBACK when handleMessage calls back: delaying it makes a slow consumer.
  subscriber.handleMessage = (_packet, callback) => void setTimeout(() => callback(), ackDelayMs);
  const events: RawFlowEvent[] = [];
  // MQTT.js handles incoming packets one at a time (the next only after the PUBACK), so its own
  // events would never show two in flight. The socket shows what the broker really sent, and when.
  tapIncoming(subscriber, (packet) => {
    if (packet.cmd === 'publish' && packet.qos > 0 && packet.topic !== undefined) {
      events.push({ t: performance.now(), event: 'PUBLISH', messageId: packet.messageId! });
    }
  });
  subscriber.on('packetsend', (packet) => {
    if (packet.cmd === 'puback')
      events.push({ t: performance.now(), event: 'PUBACK', messageId: (packet as { messageId: number }).messageId });
  });
  await subscriber.subscribeAsync(topic, { qos: 1 });

  const publisher = await ctx.connect(`${label}-pub`);
  // All at once: the publisher's own window is the broker's Receive Maximum (1024 / 65,535), not 2.
  await Promise.all(Array.from({ length: messages }, (_, i) => publisher.publishAsync(topic, `job ${i + 1}`, { qos: 1 })));
  const acks = () => events.filter((e) => e.event === 'PUBACK').length;
  await waitFor(() => acks() >= messages, messages * ackDelayMs + 3000);
  const round: FlowRound = { receiveMaximum, received: events.filter((e) => e.event === 'PUBLISH').length, ...window(events) };
  await disconnect(subscriber);
  ctx.forget(subscriber);
  return round;
}

/** The window over time: unacknowledged PUBLISHes after each event, its maximum, and how long it all took. */
function window(events: RawFlowEvent[]): Pick<FlowRound, 'maxInFlight' | 'durationMs' | 'timeline'> {
  const start = events[0]?.t ?? performance.now();
  let inFlight = 0;
  let maxInFlight = 0;
  const timeline: FlowEvent[] = events.map((e) => {
    inFlight += e.event === 'PUBLISH' ? 1 : -1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    return { at: Math.round((e.t - start) * 10) / 10, event: e.event, messageId: e.messageId, inFlight };
  });
  const durationMs = events.length > 0 ? Math.round(events[events.length - 1]!.t - start) : 0;
  return { maxInFlight, durationMs, timeline };
}

/** Parses what arrives on a client's socket, independently of MQTT.js, and reports each packet. */
function tapIncoming(client: MqttClient, onPacket: (packet: Packet) => void): void {
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  parser.on('packet', onPacket);
  // Attached after CONNACK, so the first byte seen starts a packet.
  client.stream.on('data', (chunk: Buffer) => parser.parse(chunk));
}

/** The report section for Receive Maximum flow control, recording its checks; names the broker that overran the window. */
export function reportFlowControl(flow: FlowControlResult, checks: Checks, ctx: ExerciseContext): Section {
  const { limited, unlimited } = flow;
  checks.expect(
    'the slow subscriber received all messages',
    limited.received === flow.messages && unlimited.received === flow.messages,
    `${limited.received} and ${unlimited.received} of ${flow.messages}`,
  );
  checks.conforms(
    ['MQTT-3.3.4-9', 'MQTT-4.9.0-2'],
    `the broker never had more than ${limited.receiveMaximum} unacknowledged PUBLISHes out to it`,
    limited.maxInFlight <= limited.receiveMaximum!,
    `max in flight ${limited.maxInFlight}`,
  );
  return {
    title: `Flow control: ${flow.messages} QoS 1 messages at once to a subscriber that acknowledges after ${flow.ackDelayMs} ms`,
    lines: [
      ...table(
        ['subscriber', 'Receive Maximum', 'received', 'max unacknowledged', 'took'],
        [
          ['slow-sub', limited.receiveMaximum ?? '—', limited.received, limited.maxInFlight, `${limited.durationMs} ms`],
          [
            'slow-sub-nolimit',
            unlimited.receiveMaximum ?? 'not sent (65535)',
            unlimited.received,
            unlimited.maxInFlight,
            `${unlimited.durationMs} ms`,
          ],
        ],
      ),
      '  both take about as long: the consumer acknowledges one message per delay either way; Receive Maximum bounds',
      '  how many unacknowledged messages pile up at it (memory, redelivery after a crash), not its speed',
      `  slow-sub's socket (Receive Maximum ${limited.receiveMaximum}), events:`,
      ...ctx.shorten(limited.timeline.map(timelineLine), 10),
      ...(limited.maxInFlight > limited.receiveMaximum!
        ? [
            `  ⚠ ${ctx.brokerName} overran the window: after a PUBACK it sent up to ${maxBurstAfterAck(limited.timeline)} new PUBLISHes, ` +
              `so up to ${limited.maxInFlight} were`,
            '    unacknowledged (known of Mosquitto 2.0.11; its 2.0.13 ChangeLog lists "various fixes around inflight quota management")',
          ]
        : []),
    ],
  };
}

/** One event of the window as a line with a bar of the unacknowledged PUBLISHes. */
function timelineLine(e: FlowEvent): string {
  const what = e.event === 'PUBLISH' ? '← PUBLISH' : '→ PUBACK ';
  const bar = `${'▮'.repeat(e.inFlight)}${e.inFlight}`;
  return `  ${e.at.toFixed(1).padStart(7)} ms  ${what} id=${String(e.messageId).padEnd(3)} unacknowledged ${bar}`;
}

/** The most PUBLISHes that arrived between one PUBACK and the next event that was a PUBACK. */
function maxBurstAfterAck(timeline: FlowEvent[]): number {
  let max = 0;
  let run = -1;
  for (const e of timeline) {
    if (e.event === 'PUBACK') run = 0;
    else if (run >= 0) max = Math.max(max, ++run);
  }
  return max;
}
