import type { ISubscribePacket, QoS } from 'mqtt-packet';
import type { Broker } from '../broker.js';
import type { Connection } from '../connection.js';
import { ProtocolViolation } from '../protocol-violation.js';
import { parseTopicFilter, ReasonCode, SubackFailure311, topicLevelCount } from '../../protocol/index.js';
import { minQos } from '../session.js';
import type { Subscription } from '../subscription.js';

/** Largest Subscription Identifier [MQTT-3.8.2.1.2]: a Variable Byte Integer of 1..268,435,455. */
const MAX_SUBSCRIPTION_ID = 268_435_455;

/** SUBSCRIBE: options, subscription identifier, SUBACK, then retained messages (MQTT 5.0 §3.8, §3.9). */
export function handleSubscribe(broker: Broker, conn: Connection, packet: ISubscribePacket): void {
  const session = conn.session!;
  const v5 = conn.protocolVersion === 5;
  // [MQTT-2.2.1-3] SUBSCRIBE needs a non-zero Packet Identifier.
  if (!packet.messageId) throw new ProtocolViolation(ReasonCode.ProtocolError, 'SUBSCRIBE with Packet Identifier 0');
  // [MQTT-3.8.3-2] at least one Topic Filter; an empty payload is a Protocol Error.
  if (packet.subscriptions.length === 0) throw new ProtocolViolation(ReasonCode.ProtocolError, 'SUBSCRIBE without a topic filter');
  const subscriptionId = v5 ? (packet.properties?.subscriptionIdentifier as number | undefined) : undefined;
  if (subscriptionId !== undefined && (subscriptionId < 1 || subscriptionId > MAX_SUBSCRIPTION_ID)) {
    // §3.8.2.1.2: a Subscription Identifier of 0 is a Protocol Error.
    throw new ProtocolViolation(ReasonCode.ProtocolError, `subscription identifier ${subscriptionId} out of range`);
  }
  const granted: number[] = [];
  const retainedFor: Subscription[] = [];
  const acl = broker.options.acl;
  const client = { clientId: session.clientId, username: conn.username };

  for (const request of packet.subscriptions) {
    // A filter deeper than maxTopicLevels is refused like a malformed one: 0x8F Topic Filter invalid. Counted on
    // the raw filter first (`$share/<name>/` adds two levels), so a very deep one is refused before it is parsed.
    const maxLevels = broker.options.maxTopicLevels;
    const parsed = topicLevelCount(request.topic) <= maxLevels + 2 ? parseTopicFilter(request.topic) : undefined;
    if (!parsed || topicLevelCount(parsed.filter) > maxLevels) {
      granted.push(v5 ? ReasonCode.TopicFilterInvalid : SubackFailure311);
      continue;
    }
    if (parsed.group !== undefined && request.nl) {
      // [MQTT-3.8.3-4] No Local on a shared subscription is a Protocol Error.
      throw new ProtocolViolation(ReasonCode.ProtocolError, 'No Local set on a shared subscription');
    }
    if (acl && !acl.canSubscribe(client, parsed.filter)) {
      broker.events.emit('accessDenied', { ...client, action: 'subscribe', topic: parsed.raw });
      // SUBACK 0x87 Not authorized (MQTT 5.0 §3.9.3); 3.1.1 has only the failure code 0x80.
      granted.push(v5 ? ReasonCode.NotAuthorized : SubackFailure311);
      continue;
    }
    const existed = session.subscriptions.has(parsed.raw);
    if (!existed && overQuota(broker, session.subscriptions.size)) {
      // A bound on what clients make the broker hold: 0x97 Quota exceeded (MQTT 5.0 §3.9.3), 3.1.1's failure 0x80.
      granted.push(v5 ? ReasonCode.QuotaExceeded : SubackFailure311);
      continue;
    }
    const subscription: Subscription = {
      clientId: session.clientId,
      topicFilter: parsed.raw,
      filter: parsed.filter,
      group: parsed.group,
      qos: request.qos,
      noLocal: v5 && request.nl === true,
      retainAsPublished: v5 && request.rap === true,
      retainHandling: v5 ? ((request.rh ?? 0) as 0 | 1 | 2) : 0,
      subscriptionId,
    };
    broker.addSubscription(session, subscription);
    granted.push(request.qos);
    // [MQTT-3.3.1-9..11] Retain Handling 0: always, 1: only for a new subscription, 2: never;
    // §3.3.1.3, §4.8.2: retained messages go to a new Non-shared Subscription only; a shared one gets none.
    const wantRetained =
      parsed.group === undefined && (subscription.retainHandling === 0 || (subscription.retainHandling === 1 && !existed));
    if (wantRetained) retainedFor.push(subscription);
  }

  // SUBACK once the subscriptions are stored; retained messages follow it, read once everything stored
  // before is visible (in a cluster: retained messages acknowledged on other nodes too).
  broker.ackAfterStored(conn, { cmd: 'suback', messageId: packet.messageId, granted }, () => {
    const now = broker.clock.now();
    for (const subscription of retainedFor) {
      const messages = broker.retained.match(subscription.filter, now).filter((m) => !acl || acl.canRead(client, m.topic));
      for (const message of messages) {
        session.deliver(
          {
            message,
            qos: minQos(message.qos, subscription.qos as QoS),
            // [MQTT-3.3.1-8] retained messages sent on subscribe carry RETAIN=1.
            retain: true,
            subscriptionIds: subscription.subscriptionId !== undefined ? [subscription.subscriptionId] : [],
          },
          now,
        );
      }
    }
  });
}

/**
 * True when a new subscription would pass a bound: the client's count, or the trie nodes all filters take
 * (a 200-level filter of its own holds about 46 KB; past the bound by at most one filter's levels).
 */
function overQuota(broker: Broker, clientSubscriptions: number): boolean {
  const { maxSubscriptionsPerClient, maxFilterNodes } = broker.options;
  if (maxSubscriptionsPerClient > 0 && clientSubscriptions >= maxSubscriptionsPerClient) return true;
  return maxFilterNodes > 0 && broker.router.nodeCount >= maxFilterNodes;
}
