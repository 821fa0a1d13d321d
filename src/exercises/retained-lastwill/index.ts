import { canRelay } from '../../link/index.js';
import type { ExerciseContext } from '../context.js';
import { Checks, type ExerciseReport } from '../report.js';
import { demonstrateDevicePresence, type DevicePresenceResult, reportDevicePresence } from './device-presence.js';
import { type LastWillResult, reportLastWill, setupLastWill } from './last-will.js';
import { demonstrateHalfOpen, type HalfOpenResult, reportHalfOpen } from './half-open.js';
import { ms } from './received-messages.js';
import { publishRetainedStatus, reportRetainedStatus, type RetainedStatusResult } from './retained-status.js';
import { demonstrateWillDelay, reportWillDelay, type WillDelayResult } from './will-delay.js';

export * from './device-presence.js';
export * from './half-open.js';
export * from './last-will.js';
export type { ReceivedMessage } from './received-messages.js';
export * from './retained-status.js';
export * from './will-delay.js';

/** The structured results of exercise 3, one per demonstration (what `--json` prints). */
export interface RetainedLastwillResult {
  retainedStatus: RetainedStatusResult;
  lastWill: LastWillResult;
  presence: DevicePresenceResult;
  willDelay: WillDelayResult;
  /** A silent (half-open) link vs DISCONNECT vs reset; absent when the broker URL is not mqtt:// (the link proxy relays TCP). */
  halfOpen?: HalfOpenResult;
}

/** Runs exercise 3 and reports it. */
export async function runRetainedLastwill(ctx: ExerciseContext): Promise<ExerciseReport<RetainedLastwillResult>> {
  const started = Date.now();
  const data: RetainedLastwillResult = {
    retainedStatus: await publishRetainedStatus(ctx),
    lastWill: await setupLastWill(ctx),
    presence: await demonstrateDevicePresence(ctx),
    willDelay: await demonstrateWillDelay(ctx),
    halfOpen: canRelay(ctx.url) ? await demonstrateHalfOpen(ctx) : undefined,
  };
  const checks = new Checks();
  const sections = [
    ...reportRetainedStatus(data.retainedStatus, checks),
    reportLastWill(data.lastWill, checks),
    reportDevicePresence(data.presence, checks),
    reportWillDelay(data.willDelay, checks),
    ...(data.halfOpen ? [reportHalfOpen(data.halfOpen, checks)] : []),
  ];
  return {
    exercise: 'retained-lastwill',
    title: 'Exercise 3 — Retained messages & Last Will: device presence',
    broker: ctx.url,
    sections,
    keyQuestion: keyQuestion(data.retainedStatus),
    checks: checks.list,
    data,
    durationMs: Date.now() - started,
  };
}

/** The seed's key question, answered with what this run's subscribers got before and after the clear. */
function keyQuestion(r: RetainedStatusResult): ExerciseReport['keyQuestion'] {
  const later = r.clear.laterSubscriber;
  return {
    question: 'What happens if you publish a retained message with an empty payload? Why is this useful?',
    answer: [
      `It deletes the topic's retained message: before, a late subscriber got "online" ${ms(r.lateSubscriber.afterSubackMs)} after SUBACK;`,
      `after the empty publish, a new subscriber got ${later.received.length} message(s) in ${later.waitedMs} ms. ` +
        'Subscribers already listening still',
      `received it as a ${r.clear.liveSubscriberGot[0]?.bytes ?? '?'}-byte message, ` +
        'so treat an empty status as "removed". Useful because a retained',
      'state otherwise outlives its device for good (unless it had an MQTT 5 Message Expiry): a decommissioned or renamed',
      'sensor would greet every new dashboard forever. The presence pattern relies on it to retract a device entirely.',
    ],
  };
}
