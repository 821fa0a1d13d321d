import { randomBytes } from 'node:crypto';
import { resolveBroker } from '../client/index.js';
import { runBasicPubsub } from './basic-pubsub.js';
import { runQosLevels } from './qos-levels.js';
import { runRetainedLastwill } from './retained-lastwill/index.js';
import { runMqtt5Features } from './mqtt5-features/index.js';
import { ExerciseContext } from './context.js';
import { runProtocolComparison } from '../comparison/exercise.js';
import type { ExerciseReport } from './report.js';

/** The exercises in the seed's order, by the name used on the command line. */
export const EXERCISES: Record<string, (ctx: ExerciseContext) => Promise<ExerciseReport>> = {
  'basic-pubsub': runBasicPubsub,
  'qos-levels': runQosLevels,
  'retained-lastwill': runRetainedLastwill,
  'mqtt5-features': runMqtt5Features,
  'protocol-comparison': runProtocolComparison,
};

/** Names accepted by `mqttlab exercise`. */
export function exerciseNames(): string[] {
  return Object.keys(EXERCISES);
}

/**
 * Runs exercises against `--broker`/`MQTT_URL` or an embedded broker, one fresh context each, and
 * hands each report to `onReport` as it completes.
 */
export async function runExercises(
  names: string[],
  options: { broker?: string; onReport?: (report: ExerciseReport) => void } = {},
): Promise<ExerciseReport[]> {
  for (const name of names) {
    if (!EXERCISES[name]) throw new Error(`unknown exercise "${name}" (choose from: ${exerciseNames().join(', ')}, all)`);
  }
  const target = await resolveBroker(options.broker);
  const reports: ExerciseReport[] = [];
  try {
    for (const name of names) {
      // On a broker others may use, keep this run's topics apart from everything else on it.
      const prefix = target.embedded ? '' : `mqttlab/${randomBytes(3).toString('hex')}/`;
      const ctx = new ExerciseContext(target.url, prefix);
      try {
        const report = await EXERCISES[name]!(ctx);
        report.broker = target.label;
        reports.push(report);
        options.onReport?.(report);
      } finally {
        await ctx.closeAll();
      }
    }
  } finally {
    await target.close();
  }
  return reports;
}
