import type { QoS } from 'mqtt-packet';
import type { Broker } from './broker.js';
import type { Message } from './message.js';
import { minQos } from './session.js';
import type { Subscription } from './subscription.js';

/*
 * Fan-out: which sessions a published message goes to, and at what QoS, RETAIN flag and subscription
 * identifiers. The router says what matched; here matches become one delivery per client.
 */

/** The subscription identifiers of a delivery that has none, shared. */
const NO_IDS: readonly number[] = Object.freeze([]);

/**
 * Hands a message to every session that should get it (with `withGroups`, one member of each shared group
 * too: a cluster node leaves those to the cluster); returns how many did.
 */
export function deliverToSubscribers(broker: Broker, message: Message, now: number, withGroups = true): number {
  const { subscriptions, groups, oneEach } = broker.router.match(message.topic);
  let receivers = 0;
  if (oneEach) {
    // The common case: each subscription is its own client's one delivery, nothing to merge.
    for (const s of subscriptions) {
      const ids = s.subscriptionId === undefined ? NO_IDS : [s.subscriptionId];
      receivers += deliverTo(broker, s.clientId, message, s.qos, s.retainAsPublished, ids, now);
    }
  } else {
    receivers += deliverMerged(broker, subscriptions, message, now);
  }
  if (!withGroups) return receivers;
  for (const group of groups) {
    // §4.8.2: one member of each shared group gets the message, each group independently of the others.
    const member = group.pick((id) => {
      const candidate = broker.sessions.get(id);
      return candidate?.connected === true && broker.readAllowed(candidate, message);
    });
    const session = member && broker.sessions.get(member.clientId);
    // The fallback when no member is connected is not filtered by the predicate.
    if (!member || !session || !broker.readAllowed(session, message)) continue;
    receivers++;
    const subscriptionIds = member.subscriptionId !== undefined ? [member.subscriptionId] : NO_IDS;
    session.deliver(
      { message, qos: minQos(message.qos, member.qos), retain: member.retainAsPublished && message.retain, subscriptionIds },
      now,
    );
  }
  return receivers;
}

/**
 * Hands a message to one connected member of the shared group `group` on `filter` (a cluster node serving
 * its part of a group); false when no member here is connected.
 */
export function deliverToSharedMember(broker: Broker, message: Message, group: string, filter: string, now: number): boolean {
  const shared = broker.router.match(message.topic).groups.find((g) => g.group === group && g.filter === filter);
  const member = shared?.pick((id) => {
    const candidate = broker.sessions.get(id);
    return candidate?.connected === true && broker.readAllowed(candidate, message);
  });
  const session = member && broker.sessions.get(member.clientId);
  if (!member || !session?.connected || !broker.readAllowed(session, message)) return false;
  const subscriptionIds = member.subscriptionId !== undefined ? [member.subscriptionId] : NO_IDS;
  session.deliver(
    { message, qos: minQos(message.qos, member.qos), retain: member.retainAsPublished && message.retain, subscriptionIds },
    now,
  );
  return true;
}

/**
 * One delivery per client with the highest QoS and every identifier of its matching subscriptions
 * [MQTT-3.3.4-2], [MQTT-3.3.4-3], skipping No Local ones of the publisher [MQTT-3.8.3-3].
 */
function deliverMerged(broker: Broker, subscriptions: readonly Subscription[], message: Message, now: number): number {
  const perClient = new Map<string, { qos: QoS; ids: number[]; retainAsPublished: boolean }>();
  for (const s of subscriptions) {
    if (s.noLocal && s.clientId === message.origin) continue;
    const merged = perClient.get(s.clientId);
    if (!merged) {
      const ids = s.subscriptionId !== undefined ? [s.subscriptionId] : [];
      perClient.set(s.clientId, { qos: s.qos, ids, retainAsPublished: s.retainAsPublished });
    } else {
      if (s.qos > merged.qos) merged.qos = s.qos;
      if (s.subscriptionId !== undefined) merged.ids.push(s.subscriptionId);
      merged.retainAsPublished ||= s.retainAsPublished;
    }
  }
  let receivers = 0;
  for (const [clientId, merged] of perClient) {
    receivers += deliverTo(broker, clientId, message, merged.qos, merged.retainAsPublished, merged.ids, now);
  }
  return receivers;
}

/** Hands the message to a client's session at min(published, granted) QoS; 1 when it was a receiver, else 0. */
function deliverTo(
  broker: Broker,
  clientId: string,
  message: Message,
  grantedQos: QoS,
  retainAsPublished: boolean,
  subscriptionIds: readonly number[],
  now: number,
): number {
  const session = broker.sessions.get(clientId);
  if (!session) return 0;
  if (!broker.readAllowed(session, message)) {
    broker.dropped(clientId, message, 'not-authorized');
    return 0;
  }
  // [MQTT-3.3.1-12], [MQTT-3.3.1-13] RETAIN is kept only under Retain As Published.
  const retain = retainAsPublished && message.retain;
  session.deliver({ message, qos: minQos(message.qos, grantedQos), retain, subscriptionIds }, now);
  return 1;
}
