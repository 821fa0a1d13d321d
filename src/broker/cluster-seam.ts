import { ReasonCode } from '../protocol/index.js';
import type { Broker } from './broker.js';
import type { ClusterLink } from './cluster-link.js';
import type { Connection } from './connection.js';
import { deliverToSharedMember } from './fan-out.js';
import type { Message } from './message.js';
import type { SessionSnapshot } from './persistence/index.js';
import { snapshotSession } from './restore.js';
import { cancelWill } from './wills.js';

/*
 * What the broker core does differently as a node of a cluster. Only a broker with a ClusterLink makes
 * one of these, so a lone broker's hot path carries none of it.
 */

/** Acknowledgements of a cluster node: a PUBLISH is acknowledged once the cluster took it, in packet order. */
export class ClusterAcks {
  /** Per message accepted here: the cluster's promise that it took it. */
  private readonly taken = new WeakMap<Message, Promise<void>>();
  /** Per connection: the acknowledgement written last, so the next one waits for it. */
  private readonly chains = new WeakMap<Connection, Promise<unknown>>();

  constructor(private readonly link: ClusterLink) {}

  /** Hands a message accepted here to the cluster; its acknowledgement will wait for the cluster's answer. */
  publish(message: Message): void {
    this.taken.set(message, this.link.publish(message));
  }

  /**
   * Runs `write` (the acknowledgement) after every earlier acknowledgement of `conn` and after the cluster
   * took `message`, keeping acknowledgements in the order of the packets [MQTT-4.6.0-2], [MQTT-4.6.0-3];
   * a message the cluster did not take ends the connection with 0x9C (Use another server).
   */
  inOrder(conn: Connection, message: Message | undefined, write: () => void): void {
    const outbound = message && this.taken.get(message);
    const turn = (this.chains.get(conn) ?? Promise.resolve()).then(() => outbound);
    this.chains.set(
      conn,
      turn.catch(() => undefined),
    );
    turn.then(write, (error: Error) =>
      conn.disconnect(ReasonCode.UseAnotherServer, `the cluster did not take the message: ${error.message}`),
    );
  }
}

/**
 * Delivers a message to one connected member of this node's shared group `group` on `filter`; false
 * when no member here is connected (the cluster then gives it to another node).
 */
export function deliverShared(broker: Broker, message: Message, group: string, filter: string): boolean {
  const delivered = deliverToSharedMember(broker, message, group, filter, broker.clock.now());
  if (delivered) broker.events.emit('messagePublished', message, 1);
  return delivered;
}

/**
 * Hands a session to another node of the cluster: its live connection gets DISCONNECT 0x8E, its pending
 * will and expiry are cancelled (the client reconnected elsewhere [MQTT-3.1.3-9]) and it leaves this
 * node without being ended (its bytes leave this node's budget); returns its state as it was at that
 * moment (undefined when there was none).
 */
export function releaseSession(broker: Broker, clientId: string): SessionSnapshot | undefined {
  broker.takeOver(clientId);
  broker.deadlines.remove(`session:${clientId}`);
  cancelWill(broker, clientId);
  const session = broker.sessions.get(clientId);
  if (!session) return undefined;
  for (const s of session.subscriptions.values()) {
    broker.router.remove(session.clientId, s.filter, s.group);
    broker.options.cluster?.subscriptionChanged(s, false);
  }
  const snapshot = snapshotSession(session, broker.clock.now());
  session.release();
  broker.sessions.delete(clientId);
  return snapshot;
}
