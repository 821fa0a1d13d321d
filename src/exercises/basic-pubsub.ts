import type { MqttClient } from 'mqtt';
import { topicMatchesFilter } from '../protocol/index.js';
import type { ExerciseContext } from './context.js';
import { Checks, packetLines, table, waitFor, type ExerciseReport } from './report.js';

/** The sensor topics exercise 1 publishes: a hierarchy, with one deeper and two unrelated trees. */
export const SENSOR_TOPICS = [
  'sensors/temperature/room1',
  'sensors/temperature/room2',
  'sensors/humidity/room1',
  'sensors/humidity/room2',
  'sensors/pressure/lobby',
  'sensors/temperature/room1/raw',
  'sensors',
  'home/livingroom/light/status',
] as const;

/** The filters exercise 1 subscribes with, one client each, so every match is attributable. */
export const WILDCARD_FILTERS = [
  'sensors/+/room1',
  'sensors/temperature/+',
  'sensors/#',
  '+/+/+',
  'home/#',
  'sensors/temperature/room1',
] as const;

/** What one filter matched on the broker, next to what the topic rules predict. */
export interface FilterOutcome {
  filter: string;
  received: string[];
  expected: string[];
  /** Topic → why it does or does not match, level by level. */
  why: Record<string, string>;
}

export interface BasicPubsubResult {
  published: Array<{ topic: string; payload: string }>;
  filters: FilterOutcome[];
}

/** Creates an MQTT 5 client (MQTT.js) connected to the exercise's broker (seed: create_client). */
export function createClient(ctx: ExerciseContext, name: string): Promise<MqttClient> {
  return ctx.connect(name, { protocolVersion: 5, clean: true });
}

/** Publishes one reading per sensor topic at QoS 1 (seed: publish_sensor_data). */
export async function publishSensorData(ctx: ExerciseContext, client: MqttClient): Promise<Array<{ topic: string; payload: string }>> {
  const published: Array<{ topic: string; payload: string }> = [];
  for (const [i, name] of SENSOR_TOPICS.entries()) {
    const topic = ctx.topic(name);
    const payload = JSON.stringify({ value: Math.round((20 + i * 1.7) * 10) / 10, ts: Date.now() });
    await client.publishAsync(topic, payload, { qos: 1 });
    published.push({ topic, payload });
  }
  return published;
}

/**
 * Subscribes one client per wildcard filter, publishes the sensor data, and reports which topics each
 * filter received next to what the topic rules predict (seed: subscribe_with_wildcards).
 */
export async function subscribeWithWildcards(ctx: ExerciseContext): Promise<BasicPubsubResult> {
  const received = new Map<string, string[]>();
  for (const filter of WILDCARD_FILTERS) {
    const client = await createClient(ctx, `sub-${WILDCARD_FILTERS.indexOf(filter)}`);
    const topics: string[] = [];
    received.set(filter, topics);
    client.on('message', (topic) => topics.push(topic));
    await client.subscribeAsync(ctx.topic(filter), { qos: 1 });
  }
  const publisher = await createClient(ctx, 'publisher');
  const published = await publishSensorData(ctx, publisher);

  const filters: FilterOutcome[] = WILDCARD_FILTERS.map((filter) => {
    const expected = published.map((p) => p.topic).filter((t) => topicMatchesFilter(ctx.topic(filter), t));
    const why: Record<string, string> = {};
    for (const { topic } of published) why[topic] = explainMatch(ctx.topic(filter), topic);
    return { filter: ctx.topic(filter), received: received.get(filter)!, expected, why };
  });
  // QoS 1 both ways: every expected message is acknowledged before publishAsync resolves, but delivery
  // to the other clients may still be on its way; wait (bounded) until the counts settle.
  await waitFor(() => filters.every((f) => f.received.length >= f.expected.length), 3000);
  return { published, filters };
}

/** Explains, level by level, why a topic does or does not match a filter (MQTT 5.0 §4.7). */
export function explainMatch(filter: string, topic: string): string {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) {
    return 'no: topics starting with $ never match a leading wildcard';
  }
  const f = filter.split('/');
  const t = topic.split('/');
  const steps: string[] = [];
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') {
      const rest = t.slice(i);
      return `yes: ${[...steps, `# takes ${rest.length === 0 ? 'zero levels' : `"${rest.join('/')}"`}`].join(', ')}`;
    }
    if (i >= t.length) return `no: topic ends after ${t.length} level(s), filter needs "${f.slice(i).join('/')}"`;
    if (f[i] === '+') steps.push(`+ takes "${t[i]}"`);
    else if (f[i] !== t[i]) return `no: level ${i + 1} is "${t[i]}", filter wants "${f[i]}"`;
  }
  if (t.length > f.length) return `no: topic has ${t.length} levels, filter only ${f.length} (+ is exactly one level)`;
  return `yes: ${steps.length > 0 ? steps.join(', ') : 'exact match'}`;
}

/** Runs exercise 1 and reports it. */
export async function runBasicPubsub(ctx: ExerciseContext): Promise<ExerciseReport<BasicPubsubResult>> {
  const started = Date.now();
  const checks = new Checks();
  const mark = ctx.trace.mark();
  const result = await subscribeWithWildcards(ctx);
  const lines: string[] = [];
  const width = Math.max(...result.published.map((p) => p.topic.length));
  for (const f of result.filters) {
    lines.push(`  ${f.filter}  →  ${f.received.length} message(s)`);
    for (const { topic } of result.published) {
      const got = f.received.includes(topic);
      lines.push(`    ${got ? '✔' : '·'} ${topic.padEnd(width)}  ${f.why[topic]}`);
    }
    const sameSet = f.received.length === f.expected.length && f.expected.every((t) => f.received.includes(t));
    checks.expect(`${f.filter} received exactly the topics the matching rules predict`, sameSet, `got [${f.received.join(', ')}]`);
  }
  const publisherPackets = ctx.trace.since(mark, { client: 'publisher' });
  return {
    exercise: 'basic-pubsub',
    title: 'Exercise 1 — Basic pub/sub: topic hierarchies and wildcards',
    broker: ctx.url,
    sections: [
      {
        title: 'Published (one client, QoS 1, topics created implicitly on first publish)',
        lines: table(
          ['topic', 'payload'],
          result.published.map((p) => [p.topic, p.payload]),
        ),
      },
      { title: 'Which filter received which topic, and why (✔ received · not received)', lines },
      { title: 'What crossed the wire for the publisher', lines: ctx.shorten(packetLines(publisherPackets), 6) },
    ],
    keyQuestion: {
      question: "How does MQTT's implicit topic creation compare to Kafka's explicit topic/partition management?",
      answer: [
        `Here ${result.published.length} topics came into being by being published to: no admin call, no schema, and a filter`,
        'like sensors/# follows new devices automatically. The cost: nothing stops a typo topic, there is no per-topic',
        'retention, partitioning or replay. Kafka makes you create topics and choose partitions up front, which buys',
        'ordering per partition, parallel consumers and a replayable log — and costs operations work per topic.',
      ],
    },
    checks: checks.list,
    data: result,
    durationMs: Date.now() - started,
  };
}
