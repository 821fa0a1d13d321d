import type { IClientOptions } from 'mqtt';
import { disconnect } from '../../client/index.js';
import { parseStatusTopic, statusTopic } from '../../telemetry/index.js';
import type { ExerciseContext } from '../context.js';

/** The status topic of a device (the telemetry scheme's `devices/<device>/status`), namespaced for the run. */
export const deviceStatusTopic = (ctx: ExerciseContext, device: string) => ctx.topic(statusTopic(device));

/** The device name in a run's `…devices/<device>/status`. */
export const deviceOf = (ctx: ExerciseContext, topic: string) => parseStatusTopic(topic.slice(ctx.topicPrefix.length))!.device;

/** The presence will: "offline", QoS 1, retained, so late subscribers learn it too [MQTT-3.1.2-15]. */
export function offlineWill(topic: string, willDelayInterval?: number): NonNullable<IClientOptions['will']> {
  return {
    topic,
    payload: Buffer.from('offline'),
    qos: 1,
    retain: true,
    ...(willDelayInterval !== undefined ? { properties: { willDelayInterval } } : {}),
  };
}

/**
 * Clears retained messages the exercise left (an empty retained payload removes them [MQTT-3.3.1-6]),
 * so a broker shared with other runs, or the next exercise, starts from nothing.
 */
export async function clearRetained(ctx: ExerciseContext, topics: string[]): Promise<void> {
  const cleaner = await ctx.connect('cleanup');
  for (const topic of topics) await cleaner.publishAsync(topic, '', { qos: 1, retain: true });
  await disconnect(cleaner);
  ctx.forget(cleaner);
}
