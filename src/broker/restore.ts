import { topicLevelCount } from '../protocol/index.js';
import type { Broker } from './broker.js';
import type { Persistence, SessionSnapshot } from './persistence/index.js';
import type { Session } from './session.js';
import { SESSION_NEVER_EXPIRES } from './handlers/index.js';

/** A session's state as the persistence stores it; a connected session counts as disconnected `now`. */
export function snapshotSession(session: Session, now: number): SessionSnapshot {
  return {
    clientId: session.clientId,
    expiryInterval: session.expiryInterval,
    disconnectedAt: session.connected ? now : session.disconnectedAt,
    subscriptions: [...session.subscriptions.values()],
    inflight: [...session.inflight.values()].map((e) => ({ packetId: e.packetId, delivery: e.delivery, state: e.state })),
    queue: [...session.queue],
    inboundQos2: [...session.inboundQos2],
  };
}

/** Rebuilds retained messages and sessions from a persistence at broker start. */
export async function restoreState(broker: Broker, persistence: Persistence): Promise<void> {
  const now = broker.clock.now();
  for (const message of await persistence.loadRetained()) {
    // A topic past today's level limit (stored by an older version or under a larger limit) is not loaded.
    if (topicLevelCount(message.topic) <= broker.options.maxTopicLevels) broker.retained.restore(message);
  }
  for (const snapshot of await persistence.loadSessions()) {
    const expiresAt = snapshot.disconnectedAt + snapshot.expiryInterval * 1000;
    if (snapshot.expiryInterval !== SESSION_NEVER_EXPIRES && expiresAt <= now) {
      persistence.deleteSession(snapshot.clientId);
      continue;
    }
    installSession(broker, snapshot);
  }
}

/**
 * Creates a session from a stored snapshot, straight into the broker's sessions and router (nothing
 * changed, so nothing is stored again), with its expiry scheduled from when it went offline.
 */
export function installSession(broker: Broker, snapshot: SessionSnapshot): Session {
  const session = broker.createSession(snapshot.clientId);
  session.expiryInterval = snapshot.expiryInterval;
  session.disconnectedAt = snapshot.disconnectedAt;
  for (const s of snapshot.subscriptions) {
    session.subscriptions.set(s.topicFilter, s);
    broker.router.add(s);
    broker.options.cluster?.subscriptionChanged(s, true);
  }
  session.load(snapshot.inflight, snapshot.queue);
  for (const id of snapshot.inboundQos2) session.inboundQos2.add(id);
  if (snapshot.expiryInterval !== SESSION_NEVER_EXPIRES) {
    broker.expireSessionAt(session, snapshot.disconnectedAt + snapshot.expiryInterval * 1000);
  }
  return session;
}
