import { canRelay } from '../../link/index.js';
import type { ExerciseContext } from '../context.js';
import { Checks, type ExerciseReport } from '../report.js';
import { demonstrateFlakyFlowControl, type FlakyFlowControlResult, reportFlakyFlowControl } from './flaky-flow-control.js';
import { demonstrateFlowControl, type FlowControlResult, reportFlowControl } from './flow-control.js';
import { demonstrateMessageExpiry, type MessageExpiryResult, reportMessageExpiry } from './message-expiry.js';
import { demonstrateRequestReply, reportRequestReply, type RequestReplyResult } from './request-reply.js';
import { demonstrateSharedSubscriptions, reportSharedSubscriptions, type SharedSubscriptionsResult } from './shared-subscriptions.js';
import { demonstrateTopicAliases, reportTopicAliases, type TopicAliasResult } from './topic-aliases.js';
import { demonstrateUserProperties, reportUserProperties, type UserPropertiesResult } from './user-properties.js';

export * from './flaky-flow-control.js';
export * from './flow-control.js';
export * from './message-expiry.js';
export * from './request-reply.js';
export * from './shared-subscriptions.js';
export * from './topic-aliases.js';
export * from './user-properties.js';

/** The structured results of exercise 4, one per demonstration (what `--json` prints). */
export interface Mqtt5FeaturesResult {
  sharedSubscriptions: SharedSubscriptionsResult;
  messageExpiry: MessageExpiryResult;
  requestReply: RequestReplyResult;
  userProperties: UserPropertiesResult;
  topicAliases: TopicAliasResult;
  flowControl: FlowControlResult;
  /** Receive Maximum on a link that keeps breaking; absent when the broker URL is not mqtt:// (the link proxy relays TCP). */
  flakyFlowControl?: FlakyFlowControlResult;
}

/** Runs exercise 4 and reports it. */
export async function runMqtt5Features(
  ctx: ExerciseContext,
  options: { flaky?: Parameters<typeof demonstrateFlakyFlowControl>[1] } = {},
): Promise<ExerciseReport<Mqtt5FeaturesResult>> {
  const started = Date.now();
  const data: Mqtt5FeaturesResult = {
    sharedSubscriptions: await demonstrateSharedSubscriptions(ctx),
    messageExpiry: await demonstrateMessageExpiry(ctx),
    requestReply: await demonstrateRequestReply(ctx),
    userProperties: await demonstrateUserProperties(ctx),
    topicAliases: await demonstrateTopicAliases(ctx),
    flowControl: await demonstrateFlowControl(ctx),
    flakyFlowControl: canRelay(ctx.url) ? await demonstrateFlakyFlowControl(ctx, options.flaky) : undefined,
  };
  const checks = new Checks();
  const sections = [
    reportSharedSubscriptions(data.sharedSubscriptions, checks),
    reportMessageExpiry(data.messageExpiry, checks),
    reportRequestReply(data.requestReply, checks),
    reportUserProperties(data.userProperties, checks),
    reportTopicAliases(data.topicAliases, checks),
    reportFlowControl(data.flowControl, checks, ctx),
    ...(data.flakyFlowControl ? [reportFlakyFlowControl(data.flakyFlowControl, checks)] : []),
  ];
  return {
    exercise: 'mqtt5-features',
    title: 'Exercise 4 — MQTT 5.0 features: shared subscriptions, expiry, request/reply, properties, aliases, flow control',
    broker: ctx.url,
    sections,
    keyQuestion: keyQuestion(data.sharedSubscriptions),
    checks: checks.list,
    data,
    durationMs: Date.now() - started,
  };
}

/** The seed's key question, answered with how this run's shared group split the work. */
function keyQuestion(shared: SharedSubscriptionsResult): ExerciseReport['keyQuestion'] {
  const workersLine = shared.workers.map((w) => `${w.worker} ${w.count}`).join(', ');
  const spread = Object.values(shared.devices).map((ws) => ws.length);
  const spreadText =
    Math.min(...spread) === Math.max(...spread) ? `${Math.max(...spread)}` : `${Math.min(...spread)}–${Math.max(...spread)}`;
  return {
    question: 'How do MQTT shared subscriptions compare to Kafka consumer groups? What does Kafka provide that shared subs do not?',
    answer: [
      `Both spread work over a group: here ${shared.published} messages went ${workersLine} — each exactly once — while`,
      `plain-sub got all ${shared.plainSubscriber.count}; ` +
        'a worker joins by subscribing, with no partitions to plan. But the broker picks the worker',
      `per message, so each device's readings went to ${spreadText} workers and are processed in parallel, in no guaranteed order. Kafka`,
      'keys a record to one partition and one consumer (order per key), rebalances partitions with committed offsets, and replays.',
    ],
  };
}
