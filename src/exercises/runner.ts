import { randomBytes } from 'node:crypto';
import { runBasicPubsub } from './basic-pubsub.js';
import { runQosLevels } from './qos-levels.js';
import { runRetainedLastwill } from './retained-lastwill/index.js';
import { runMqtt5Features } from './mqtt5-features/index.js';
import { ExerciseContext } from './context.js';
import { runProtocolComparison } from './protocol-comparison.js';
import type { ExerciseReport } from './report.js';

/** The exercises in the seed's order, by the name used on the command line. */
export const EXERCISES: Record<string, (ctx: ExerciseContext) => Promise<ExerciseReport>> = {
  'basic-pubsub': runBasicPubsub,
  'qos-levels': runQosLevels,
  'retained-lastwill': runRetainedLastwill,
  'mqtt5-features': runMqtt5Features,
  'protocol-comparison': runProtocolComparison,
};

/** What each exercise shows, one line each (`mqttlab exercise --list`). */
export const EXERCISE_SUMMARIES: Record<keyof typeof EXERCISES, string> = {
  'basic-pubsub': 'topic hierarchies and the + and # wildcards: which subscriber gets which message',
  'qos-levels': 'QoS 0, 1 and 2 packet by packet: what each guarantee costs on the wire',
  'retained-lastwill': 'retained messages, Last Will and Will Delay: device presence',
  'mqtt5-features': 'shared subscriptions, message expiry, request/reply, user properties, topic aliases, flow control',
  'protocol-comparison': 'MQTT vs Kafka vs RabbitMQ vs Cloud Pub/Sub: bytes on the wire, latency, throughput',
};

/** Names accepted by `mqttlab exercise`. */
export function exerciseNames(): string[] {
  return Object.keys(EXERCISES);
}

/** The exercises `name` selects on the command line (`all`, or one name); throws for an unknown name. */
export function selectExercises(name: string): string[] {
  if (name === 'all') return exerciseNames();
  checkNames([name]);
  return [name];
}

function checkNames(names: string[]): void {
  for (const name of names) {
    if (!EXERCISES[name]) throw new Error(`unknown exercise "${name}" (choose from: ${exerciseNames().join(', ')}, all)`);
  }
}

/** The broker the exercises run on, as the caller resolved it. */
export interface ExerciseBroker {
  /** URL the exercise clients connect to. */
  url: string;
  /** How reports name it, e.g. "mosquitto version 2.0.11 at mqtt://127.0.0.1:1883". */
  label: string;
  /** What it calls itself ($SYS/broker/version), for sentences about what it did. */
  name: string;
  /** Whether others may use it too: then every topic of a run is prefixed with `mqttlab/<run>/`. */
  shared: boolean;
}

/**
 * Runs exercises on `broker`, one fresh context each, and hands each report to `onReport` as it completes.
 * The caller resolves the broker (the CLI starts an embedded one when no URL is given) and stops it.
 */
export async function runExercises(
  names: string[],
  broker: ExerciseBroker,
  options: { verbose?: boolean; onReport?: (report: ExerciseReport) => void } = {},
): Promise<ExerciseReport[]> {
  checkNames(names);
  const reports: ExerciseReport[] = [];
  for (const name of names) {
    // On a broker others may use, keep this run's topics apart from everything else on it.
    const prefix = broker.shared ? `mqttlab/${randomBytes(3).toString('hex')}/` : '';
    const ctx = new ExerciseContext(broker.url, prefix, { brokerName: broker.name, verbose: options.verbose });
    try {
      const report = await EXERCISES[name]!(ctx);
      report.broker = broker.label;
      reports.push(report);
      options.onReport?.(report);
    } finally {
      await ctx.closeAll();
    }
  }
  return reports;
}
