import type { Message } from './message.js';
import type { Broker } from './broker.js';
import type { Subscription } from './subscription.js';
import type { Will } from './wills.js';

/**
 * The broker core's one door to a cluster of nodes (the adapter lives in src/cluster/). The core hands
 * it what was accepted here and what this node subscribes to; the adapter delivers messages from
 * other nodes through `Broker.route` and `deliverShared` (cluster-seam.ts), and keeps retained messages and
 * sessions in the cluster through the ordinary Persistence seam.
 */
export interface ClusterLink {
  /** Called once by `Broker.restore`, before any client connects: the node joins the cluster. */
  attach(broker: Broker): Promise<void>;
  /**
   * A message accepted on this node, out to every node. Resolves once it may be acknowledged to its
   * publisher; rejects when the cluster did not take it. QoS 1/2 messages come back to this node's
   * subscribers too, in the cluster's order; shared subscriptions are served by the cluster alone.
   */
  publish(message: Message): Promise<void>;
  /** A subscription was added to (or removed from) this node's router. */
  subscriptionChanged(subscription: Subscription, added: boolean): void;
  /**
   * A CONNECT for `clientId` on this node, before CONNACK: the node holding the client's session ends its
   * live connection (DISCONNECT 0x8E) and hands the session over; unless `cleanStart`, it is installed
   * here (caught up with what was published meanwhile) for the broker to resume. The claim records the
   * connection's `will`, for a node taking over if this one dies. Rejects when the cluster cannot be reached.
   */
  claimSession(clientId: string, cleanStart: boolean, will: Will | undefined): Promise<void>;
}
