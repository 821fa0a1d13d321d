// The overview page's MQTT session: its client id, its subscriptions and the connected client.
import { clientId } from './common.js';

export const myId = clientId('dashboard');
export const replyTopic = `dashboard/${myId}/replies`;

// Subscription identifiers (MQTT 5 §3.8.2.1.2) tell which of our subscriptions a message matched, so the
// overlapping `telemetry/#` and `telemetry/+/<device>/#` are told apart without counting twice.
export const SUB = {
  traffic: { id: 1, filters: ['telemetry/#', 'alerts/#', 'commands/#'], qos: 2 },
  status: { id: 2, filters: ['devices/+/status'], qos: 1 },
  replies: { id: 3, filters: [replyTopic], qos: 2 },
  device: { id: 4, filters: [], qos: 0 },
};

/** The MQTT.js client once `startMqtt` connected it (null while the page polls the API only). */
export const session = { client: null };

/** Subscribes one of `SUB` with its subscription identifier. */
export function subscribe(sub) {
  if (sub.filters.length === 0) return;
  session.client.subscribe(sub.filters, { qos: sub.qos, properties: { subscriptionIdentifier: sub.id } }, (error) => {
    if (error) console.warn('subscribe failed', sub.filters, error);
  });
}
