import type { QoS } from 'mqtt-packet';

/** One client's subscription, with the MQTT 5 subscription options [MQTT-3.8.3]. */
export interface Subscription {
  readonly clientId: string;
  /** The filter as sent, including any `$share/<group>/` prefix; the key within a session. */
  readonly topicFilter: string;
  /** The filter topics are matched against. */
  readonly filter: string;
  /** Share name for a shared subscription. */
  readonly group?: string;
  readonly qos: QoS;
  readonly noLocal: boolean;
  readonly retainAsPublished: boolean;
  readonly retainHandling: 0 | 1 | 2;
  readonly subscriptionId?: number;
}
