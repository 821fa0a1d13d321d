import type { IPublishPacket, MqttClient } from 'mqtt';
import { connectMqtt, disconnect } from '../client/index.js';
import { isFailure } from '../protocol/index.js';
import type { TelemetryStore } from './store.js';
import type { PresenceRegistry } from './presence.js';
import type { LagWindow, RateWindow } from './rates.js';
import { INGEST_FILTERS, parseAlertTopic, parseTelemetryTopic, sharedFilter } from './topics.js';

/** Counters of one worker for this run. */
export interface WorkerCounts {
  worker: string;
  clientId: string;
  connected: boolean;
  readings: number;
  alerts: number;
  /** Messages that did not fit the topic scheme or payload format, not stored. */
  rejected: number;
}

export interface IngestWorkerOptions {
  url: string;
  name: string;
  clientId: string;
  group: string;
  /** Session Expiry of the worker's session: QoS 1 alerts wait this long for a worker that restarts. */
  sessionExpirySeconds: number;
  store: TelemetryStore;
  presence: PresenceRegistry;
  rates: [RateWindow, RateWindow, RateWindow];
  lag: LagWindow;
  onRejected?: (topic: string, why: string) => void;
}

/**
 * One member of the shared subscription group: the broker gives each message to one member
 * (MQTT 5.0 §4.8.2), so K workers split the load. Readings (QoS 0) go to the store's batch; an alert
 * (QoS 1) is written before MQTT.js sends its PUBACK, so an acknowledged alert is in the store.
 */
export class IngestWorker {
  readonly counts: WorkerCounts;
  private client: MqttClient | undefined;

  constructor(private readonly options: IngestWorkerOptions) {
    this.counts = { worker: options.name, clientId: options.clientId, connected: false, readings: 0, alerts: 0, rejected: 0 };
  }

  async start(): Promise<void> {
    const o = this.options;
    // MQTT.js calls handleMessage before it acknowledges a QoS 1/2 PUBLISH: store first, then ack. It is
    // set before CONNECT goes out, because a resumed session's queued alerts follow the CONNACK at once.
    const client = await connectMqtt(
      o.url,
      { clientId: o.clientId, clean: false, reconnectPeriod: 2000, properties: { sessionExpiryInterval: o.sessionExpirySeconds } },
      (c) => {
        c.handleMessage = (packet, callback) => {
          try {
            this.handle(packet);
            callback();
          } catch (error) {
            // Not acknowledged: the broker redelivers the alert when this worker reconnects [MQTT-4.4.0-1].
            o.onRejected?.(packet.topic, `store failed: ${(error as Error).message}`);
          }
        };
      },
    );
    this.client = client;
    client.on('connect', () => (this.counts.connected = true));
    client.on('close', () => (this.counts.connected = false));
    this.counts.connected = true;
    const granted = await client.subscribeAsync({
      [sharedFilter(o.group, INGEST_FILTERS.telemetry)]: { qos: 0 },
      [sharedFilter(o.group, INGEST_FILTERS.alerts)]: { qos: 1 },
    });
    const refused = granted.filter((g) => isFailure(g.qos));
    if (refused.length > 0) {
      await disconnect(client, true);
      const filters = refused.map((g) => `${g.topic} (reason 0x${g.qos.toString(16)})`).join(', ');
      throw new Error(`broker refused the shared subscription ${filters}: it needs MQTT 5 shared subscriptions`);
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    client.options.reconnectPeriod = 0;
    await disconnect(client, !client.connected);
    this.counts.connected = false;
  }

  private handle(packet: IPublishPacket): void {
    const o = this.options;
    const now = Date.now();
    o.rates[packet.qos]!.add(1, now);
    const topic = packet.topic;
    const body = parseJson(packet.payload);
    const reading = parseTelemetryTopic(topic);
    if (reading) {
      if (!body || typeof body.v !== 'number' || !Number.isFinite(body.v)) return this.reject(topic, 'payload is not {"v": number, ...}');
      const ts = typeof body.ts === 'number' && Number.isFinite(body.ts) ? Math.round(body.ts) : now;
      o.store.addReading({ ...reading, ts, v: body.v, unit: typeof body.unit === 'string' ? body.unit.slice(0, 16) : '', worker: o.name });
      o.presence.seen(reading.device, reading.site, ts);
      o.lag.add(Math.max(0, now - ts), now);
      this.counts.readings++;
      return;
    }
    const alert = parseAlertTopic(topic);
    if (alert) {
      if (!body || typeof body.id !== 'string' || body.id.length === 0 || body.id.length > 200) return this.reject(topic, 'alert payload has no "id"');
      o.store.addAlert({
        id: body.id,
        ...alert,
        ts: typeof body.ts === 'number' && Number.isFinite(body.ts) ? Math.round(body.ts) : now,
        type: typeof body.type === 'string' ? body.type.slice(0, 64) : 'alert',
        message: typeof body.message === 'string' ? body.message.slice(0, 500) : '',
        v: typeof body.v === 'number' && Number.isFinite(body.v) ? body.v : null,
        worker: o.name,
      });
      this.counts.alerts++;
      return;
    }
    this.reject(topic, 'topic outside the telemetry scheme');
  }

  private reject(topic: string, why: string): void {
    this.counts.rejected++;
    this.options.onRejected?.(topic, why);
  }
}

function parseJson(payload: Buffer | string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(payload.toString());
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
