import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Broker, DropReason, Persistence } from '../broker/index.js';

const QOS = ['0', '1', '2'] as const;
/** Every reason the broker gives for a drop, so each series exists (at 0) before the first drop. */
const DROP_REASONS: DropReason[] = [
  'expired',
  'queue-full',
  'broker-queue-full',
  'offline-qos0',
  'too-large',
  'not-authorized',
  'write-buffer-full',
];

/** What a scraped metric reads from the broker: a value per label (`undefined` for a metric without one). */
type ScrapedValues = () => Array<[string | undefined, number]>;

/** A counter or a gauge whose values are read from the broker when Prometheus scrapes, by label. */
function scraped(
  kind: 'counter' | 'gauge',
  registry: Registry,
  name: string,
  help: string,
  labelName: string | undefined,
  read: ScrapedValues,
): void {
  const labelNames = labelName ? [labelName] : [];
  // A counter's collect() may only inc(); resetting first makes the scraped total its value, as a gauge's set().
  const fill = (metric: Counter | Gauge) => {
    metric.reset();
    for (const [label, value] of read()) {
      const labels = label === undefined ? {} : { [labelName!]: label };
      if (metric instanceof Counter) metric.inc(labels, value);
      else metric.set(labels, value);
    }
  };
  const configuration = {
    name,
    help,
    labelNames,
    registers: [registry],
    collect(this: Counter | Gauge) {
      fill(this);
    },
  };
  if (kind === 'counter') new Counter(configuration);
  else new Gauge(configuration);
}

const scrapedCounter = (registry: Registry, name: string, help: string, labelName: string | undefined, read: ScrapedValues) =>
  scraped('counter', registry, name, help, labelName, read);
const scrapedGauge = (registry: Registry, name: string, help: string, labelName: string | undefined, read: ScrapedValues) =>
  scraped('gauge', registry, name, help, labelName, read);

/**
 * The broker's Prometheus metrics. An adapter at the edge: it reads the counters the broker keeps
 * anyway (BrokerStats, the session and subscription tables) when Prometheus scrapes, and counts drops
 * from the `messageDropped` event, so nothing of prom-client runs on the broker's message path.
 */
export function registerBrokerMetrics(broker: Broker, registry: Registry): void {
  const dropped = new Map<DropReason, number>(DROP_REASONS.map((r) => [r, 0]));
  broker.events.on('messageDropped', (_client, _message, reason) => dropped.set(reason, (dropped.get(reason) ?? 0) + 1));
  const s = broker.stats;
  const byQos = (values: readonly number[]) => QOS.map((q, i): [string, number] => [q, values[i]!]);
  scrapedGauge(registry, 'mqttlab_broker_connections', 'Open network connections (CONNECT received or not)', undefined, () => [
    [undefined, broker.connections.size],
  ]);
  scrapedGauge(
    registry,
    'mqttlab_broker_sessions',
    'Sessions by state: online (a connection attached) or offline (kept for Session Expiry)',
    'state',
    () => {
      let online = 0;
      for (const session of broker.sessions.values()) if (session.connected) online++;
      return [
        ['online', online],
        ['offline', broker.sessions.size - online],
      ];
    },
  );
  scrapedGauge(registry, 'mqttlab_broker_subscriptions', 'Subscriptions in the router, shared ones included', undefined, () => [
    [undefined, broker.router.size],
  ]);
  scrapedGauge(registry, 'mqttlab_broker_retained_messages', 'Retained messages held', undefined, () => [
    [undefined, broker.retained.size],
  ]);
  scrapedGauge(
    registry,
    'mqttlab_broker_inflight_messages',
    'QoS 1/2 messages sent and not yet acknowledged, all sessions',
    undefined,
    () => {
      let n = 0;
      for (const session of broker.sessions.values()) n += session.inflight.size;
      return [[undefined, n]];
    },
  );
  scrapedGauge(
    registry,
    'mqttlab_broker_queued_messages',
    'Messages waiting in session queues (offline, or over Receive Maximum)',
    undefined,
    () => {
      let n = 0;
      for (const session of broker.sessions.values()) n += session.queue.length;
      return [[undefined, n]];
    },
  );
  scrapedCounter(registry, 'mqttlab_broker_messages_received_total', 'PUBLISH packets received from clients, by QoS', 'qos', () =>
    byQos(s.publishIn),
  );
  scrapedCounter(
    registry,
    'mqttlab_broker_messages_sent_total',
    'PUBLISH packets sent to subscribers, by QoS (as delivered, after downgrade)',
    'qos',
    () => byQos(s.publishOut),
  );
  scrapedCounter(
    registry,
    'mqttlab_broker_publish_received_bytes_total',
    'Bytes of PUBLISH packets received, whole packets, by QoS',
    'qos',
    () => byQos(s.publishInBytes),
  );
  scrapedCounter(registry, 'mqttlab_broker_publish_sent_bytes_total', 'Bytes of PUBLISH packets sent, whole packets, by QoS', 'qos', () =>
    byQos(s.publishOutBytes),
  );
  scrapedCounter(registry, 'mqttlab_broker_received_bytes_total', 'Bytes of all MQTT packets received', undefined, () => [
    [undefined, s.bytesReceived],
  ]);
  scrapedCounter(registry, 'mqttlab_broker_sent_bytes_total', 'Bytes of all MQTT packets sent', undefined, () => [
    [undefined, s.bytesSent],
  ]);
  scrapedCounter(registry, 'mqttlab_broker_messages_dropped_total', 'Messages not delivered to a subscriber, by reason', 'reason', () => [
    ...dropped,
  ]);
  scrapedGauge(registry, 'mqttlab_broker_start_time_seconds', 'When the broker started, Unix time', undefined, () => [
    [undefined, s.startedAt / 1000],
  ]);
}

/**
 * Times the persistence's commits (`flush`, the write barrier QoS 1/2 acknowledgements wait for) into
 * `mqttlab_broker_persistence_commit_seconds`: a wrapper handed to the broker instead of the persistence.
 */
export function timedPersistence(persistence: Persistence, registry: Registry): Persistence {
  const commits = new Histogram({
    name: 'mqttlab_broker_persistence_commit_seconds',
    help: 'Time to commit the persistence (what QoS 1/2 acknowledgements wait for)',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  return {
    get crashSafe() {
      return persistence.crashSafe;
    },
    loadRetained: () => persistence.loadRetained(),
    saveRetained: (topic, message) => persistence.saveRetained(topic, message),
    loadSessions: () => persistence.loadSessions(),
    saveSession: (snapshot) => persistence.saveSession(snapshot),
    deleteSession: (clientId) => persistence.deleteSession(clientId),
    flush: async () => {
      const end = commits.startTimer();
      try {
        await persistence.flush();
      } finally {
        end();
      }
    },
    close: () => persistence.close(),
  };
}
