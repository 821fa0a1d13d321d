import type { IClientPublishOptions } from 'mqtt';
import { isFailure } from '../../protocol/index.js';
import type { ExerciseContext } from '../context.js';
import { type Checks, type Section, table, waitFor } from '../report.js';

/** What the topic-alias demonstration measured: PUBLISH sizes with and without an alias, both directions. */
export interface TopicAliasResult {
  topic: string;
  messages: number;
  /** Topic Alias Maximum in the broker's CONNACK: the highest alias we may send (0 = none). */
  brokerTopicAliasMaximum: number;
  /** Topic Alias Maximum we announced in CONNECT for the subscriber (what the broker may use to us). */
  subscriberTopicAliasMaximum: number;
  /** PUBLISH sizes on the wire, client → broker, message by message. */
  withoutAlias: number[];
  withAlias: number[];
  /** Topic field of each aliased PUBLISH on the wire ('' once the alias is set). */
  aliasedTopics: string[];
  /** Per message after the first, bytes saved; and the one-off cost of setting the alias. */
  savedPerMessage: number;
  firstMessageExtra: number;
  /** Messages the subscriber got, all with the full topic name restored. */
  delivered: { count: number; allOnTopic: boolean };
  /** Broker → subscriber: PUBLISHes that used an alias, and the highest alias value seen. */
  inbound: { publishes: number; aliased: number; maxAlias: number };
  pubackReasonCodes: number[];
}

/**
 * Publishes K messages to one long topic without and with a Topic Alias, and measures the PUBLISH
 * sizes in the trace; also shows whether the broker aliases towards a subscriber that allows it.
 */
export async function demonstrateTopicAliases(ctx: ExerciseContext, options: { messages?: number } = {}): Promise<TopicAliasResult> {
  const messages = options.messages ?? 10;
  const topic = ctx.topic('factory/plant-07/line-3/cell-12/robot-arm-4/joint-2/torque/measurements');
  const subscriberTopicAliasMaximum = 10;
  const mark = ctx.trace.mark();

  // The subscriber lets the broker use aliases 1..10 towards it [MQTT-3.3.2-11].
  const subscriber = await ctx.connect('alias-sub', { properties: { topicAliasMaximum: subscriberTopicAliasMaximum } });
  const delivered = { count: 0, allOnTopic: true };
  subscriber.on('message', (t) => {
    delivered.count++;
    if (t !== topic) delivered.allOnTopic = false;
  });
  await subscriber.subscribeAsync(topic, { qos: 1 });

  const reading = (i: number, who: string) => `${who} torque=${(40 + i * 0.25).toFixed(2)}Nm`;
  const plain = await ctx.connect('plain-pub');
  for (let i = 0; i < messages; i++) await plain.publishAsync(topic, reading(i, 'P'), { qos: 1 });

  // autoUseTopicAlias: once an alias is set for a topic, MQTT.js sends later PUBLISHes with an empty topic.
  const aliased = await ctx.connect('alias-pub', { autoUseTopicAlias: true });
  const connack = ctx.trace.since(mark, { client: 'alias-pub' }).find((p) => p.type === 'CONNACK');
  const brokerTopicAliasMaximum = Number(connack?.properties?.topicAliasMaximum ?? 0);
  for (let i = 0; i < messages; i++) {
    const options: IClientPublishOptions = { qos: 1 };
    // [MQTT-3.3.2-9] never an alias above the broker's Topic Alias Maximum; none when it is 0.
    if (i === 0 && brokerTopicAliasMaximum >= 1) options.properties = { topicAlias: 1 };
    await aliased.publishAsync(topic, reading(i, 'A'), options);
  }
  await waitFor(() => delivered.count >= 2 * messages, 3000);
  const sizes = aliasSizes(ctx, mark, messages);
  return { topic, messages, brokerTopicAliasMaximum, subscriberTopicAliasMaximum, ...sizes, delivered };
}

/** The traced sizes and aliases of the demonstration's PUBLISHes since `mark`. */
function aliasSizes(
  ctx: ExerciseContext,
  mark: number,
  messages: number,
): Omit<TopicAliasResult, 'topic' | 'messages' | 'brokerTopicAliasMaximum' | 'subscriberTopicAliasMaximum' | 'delivered'> {
  const traced = ctx.trace.since(mark);
  const publishesOf = (client: string) => traced.filter((p) => p.client === client && p.type === 'PUBLISH' && p.direction === 'out');
  const withoutAlias = publishesOf('plain-pub').map((p) => p.bytes);
  const withAliasPackets = publishesOf('alias-pub');
  const withAlias = withAliasPackets.map((p) => p.bytes);
  const inboundPublishes = traced.filter((p) => p.client === 'alias-sub' && p.type === 'PUBLISH' && p.direction === 'in');
  const inboundAliases = inboundPublishes.map((p) => Number(p.properties?.topicAlias ?? 0));
  return {
    withoutAlias,
    withAlias,
    aliasedTopics: withAliasPackets.map((p) => p.topic ?? ''),
    savedPerMessage: messages > 1 ? withoutAlias[1]! - withAlias[1]! : 0,
    firstMessageExtra: withAlias[0]! - withoutAlias[0]!,
    inbound: {
      publishes: inboundPublishes.length,
      aliased: inboundPublishes.filter((p) => p.topic === '').length,
      maxAlias: Math.max(0, ...inboundAliases),
    },
    pubackReasonCodes: traced.filter((p) => p.client === 'alias-pub' && p.type === 'PUBACK').map((p) => p.reasonCode ?? 0),
  };
}

/** The report section for topic aliases, recording its checks. */
export function reportTopicAliases(aliases: TopicAliasResult, checks: Checks): Section {
  checks.expect(
    "the broker's CONNACK allows topic aliases (Topic Alias Maximum ≥ 1)",
    aliases.brokerTopicAliasMaximum >= 1,
    `Topic Alias Maximum ${aliases.brokerTopicAliasMaximum}`,
  );
  const codes = aliases.pubackReasonCodes;
  checks.expect(
    'aliased PUBLISHes after the first were sent with an empty topic and accepted',
    aliases.aliasedTopics.slice(1).every((t) => t === '') && codes.length === aliases.messages && codes.every((c) => !isFailure(c)),
    `topics ${JSON.stringify(aliases.aliasedTopics)}, PUBACK reason codes ${codes}`,
  );
  checks.expect(
    'the subscriber got every message under the full topic name',
    aliases.delivered.count === 2 * aliases.messages && aliases.delivered.allOnTopic,
    `got ${aliases.delivered.count}`,
  );
  // [MQTT-3.3.2-11] the broker never uses an alias above what the client announced.
  checks.conforms(
    ['MQTT-3.3.2-11'],
    "the broker used no alias above the subscriber's Topic Alias Maximum",
    aliases.inbound.maxAlias <= aliases.subscriberTopicAliasMaximum,
    `highest alias ${aliases.inbound.maxAlias}`,
  );
  const rows = aliases.withoutAlias.map((b, i) => [
    i + 1,
    `${b} B`,
    `${aliases.withAlias[i]} B`,
    aliases.aliasedTopics[i] === '' ? '(alias 1 only)' : 'topic + alias 1',
    `${b - aliases.withAlias[i]!}`,
  ]);
  const totalPlain = aliases.withoutAlias.reduce((a, b) => a + b, 0);
  const totalAliased = aliases.withAlias.reduce((a, b) => a + b, 0);
  const { inbound } = aliases;
  const inboundNote = inbound.aliased > 0 ? ` (highest alias ${inbound.maxAlias})` : ' — aliasing is optional for the sender';
  return {
    title:
      `Topic aliases: ${aliases.messages} PUBLISHes each to a ${aliases.topic.length}-character topic ` +
      `(broker's Topic Alias Maximum ${aliases.brokerTopicAliasMaximum})`,
    lines: [
      ...table(['#', 'without alias', 'with alias', 'topic field', 'saved'], rows),
      `  total ${totalPlain} B vs ${totalAliased} B: ${aliases.savedPerMessage} B saved per message once the alias is set ` +
        `(the first costs ${aliases.firstMessageExtra} B more)`,
      `  broker → alias-sub (Topic Alias Maximum ${aliases.subscriberTopicAliasMaximum}): ` +
        `${inbound.aliased} of ${inbound.publishes} PUBLISHes used an alias${inboundNote}`,
    ],
  };
}
