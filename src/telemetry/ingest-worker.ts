import type { IPublishPacket, MqttClient } from 'mqtt';
import { connectMqtt, disconnect, watchConnection, type ConnectionChange } from '../client/index.js';
import { isFailure } from '../protocol/index.js';
import type { TelemetryStore } from './store.js';
import type { PresenceRegistry } from './presence.js';
import type { LagWindow, RateWindow } from './rates.js';
import { INGEST_FILTERS, parseAlertTopic, parseStatusTopic, parseTelemetryTopic, sharedFilter } from './topics.js';

/** Counters of one worker for this run. */
export interface WorkerCounts {
  worker: string;
  clientId: string;
  connected: boolean;
  readings: number;
  alerts: number;
  /** Presence changes stored. */
  statuses: number;
  /** Messages that did not fit the topic scheme or payload format, not stored. */
  rejected: number;
  /** The cluster node the worker is connected to (`mqttlab start --nodes`). */
  node?: string;
}

export interface IngestWorkerOptions {
  url: string;
  /** The cluster node behind `url`, shown with the worker's counts. */
  node?: string;
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
  /** Called with the ingest lag of each reading (receive − reading time, ms), for metrics. */
  onLag?: (worker: string, lagMs: number) => void;
  /** Called when the worker loses its broker and when it reconnected. */
  onConnection?: (change: ConnectionChange) => void;
}

/**
 * One member of the shared subscription group: the broker gives each message to one member
 * (MQTT 5.0 §4.8.2), so K workers (in one or several processes) split the load. Readings (QoS 0) go
 * to the store's batch; an alert or a presence change (QoS 1) is written before MQTT.js sends its
 * PUBACK, so an acknowledged alert is in the store.
 */
export class IngestWorker {
  readonly counts: WorkerCounts;
  private client: MqttClient | undefined;

  constructor(private readonly options: IngestWorkerOptions) {
    this.counts = { worker: options.name, clientId: options.clientId, connected: false, readings: 0, alerts: 0, statuses: 0, rejected: 0 };
    if (options.node !== undefined) this.counts.node = options.node;
  }

  async start(): Promise<void> {
    const o = this.options;
    // MQTT.js calls handleMessage before it acknowledges a QoS 1/2 PUBLISH: store first, then ack. It is
    // set before CONNECT goes out, because a resumed session's queued alerts follow the CONNACK at once.
    const client = await connectMqtt(
      o.url,
      { clientId: o.clientId, clean: false, reconnectPeriod: 2000, properties: { sessionExpiryInterval: o.sessionExpirySeconds } },
      (c) => {
        // MQTT.js hands over the next packet only after `callback`: a write that waits for the database
        // holds this worker's stream (back-pressure), not the other workers'.
        c.handleMessage = (packet, callback) => {
          const failed = (error: Error) => {
            // Not acknowledged: the broker redelivers the alert when this worker reconnects [MQTT-4.4.0-1].
            o.onRejected?.(packet.topic, `store failed: ${error.message}`);
            callback(error);
          };
          try {
            const written = this.handle(packet);
            if (written) written.then(() => callback(), failed);
            else callback();
          } catch (error) {
            failed(error as Error);
          }
        };
      },
    );
    this.client = client;
    client.on('connect', () => (this.counts.connected = true));
    client.on('close', () => (this.counts.connected = false));
    if (o.onConnection) watchConnection(client, o.onConnection);
    this.counts.connected = true;
    const granted = await client.subscribeAsync({
      [sharedFilter(o.group, INGEST_FILTERS.telemetry)]: { qos: 0 },
      [sharedFilter(o.group, INGEST_FILTERS.alerts)]: { qos: 1 },
      [sharedFilter(o.group, INGEST_FILTERS.status)]: { qos: 1 },
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
    await disconnect(client, !client.connected);
    this.counts.connected = false;
  }

  /** Stores one message; a promise when the acknowledgement must wait for the commit. */
  private handle(packet: IPublishPacket): Promise<unknown> | undefined {
    const o = this.options;
    const now = Date.now();
    o.rates[packet.qos]!.add(1, now);
    const topic = packet.topic;
    const body = parseJson(packet.payload);
    const reading = parseTelemetryTopic(topic);
    if (reading) {
      if (!body || typeof body.v !== 'number' || !Number.isFinite(body.v)) return this.reject(topic, 'payload is not {"v": number, ...}');
      const ts = timestamp(body.ts, now);
      if (ts === undefined) return this.reject(topic, '"ts" is not milliseconds since 1970');
      o.store.addReading({
        ...reading,
        ts,
        v: body.v,
        unit: typeof body.unit === 'string' ? text(body.unit, 16) : '',
        worker: o.name,
        ...sequenceOf(body),
      });
      o.presence.seen(reading.device, reading.site, ts);
      const lag = Math.max(0, now - ts);
      o.lag.add(lag, now);
      o.onLag?.(o.name, lag);
      this.counts.readings++;
      return;
    }
    const alert = parseAlertTopic(topic);
    if (alert) {
      if (!body || typeof body.id !== 'string' || body.id.length === 0 || body.id.length > 200)
        return this.reject(topic, 'alert payload has no "id"');
      const ts = timestamp(body.ts, now);
      if (ts === undefined) return this.reject(topic, '"ts" is not milliseconds since 1970');
      return o.store
        .addAlert({
          id: text(body.id, 200),
          ...alert,
          ts,
          type: typeof body.type === 'string' ? text(body.type, 64) : 'alert',
          message: typeof body.message === 'string' ? text(body.message, 500) : '',
          v: typeof body.v === 'number' && Number.isFinite(body.v) ? body.v : null,
          worker: o.name,
        })
        .then(() => {
          this.counts.alerts++;
        });
    }
    const status = parseStatusTopic(topic);
    if (status) {
      // A retained status is the state before this worker subscribed, not a change: not history.
      if (packet.retain) return;
      const value = text(packet.payload.toString(), 32);
      if (value === '') return;
      return o.store.addPresence(status.device, value, now).then(() => {
        this.counts.statuses++;
      });
    }
    this.reject(topic, 'topic outside the telemetry scheme');
  }

  private reject(topic: string, why: string): undefined {
    this.counts.rejected++;
    this.options.onRejected?.(topic, why);
    return undefined;
  }
}

/** A device's `ts` (rounded), `now` when it gives none, undefined when it is no time a store can hold. */
function timestamp(value: unknown, now: number): number | undefined {
  if (typeof value !== 'number' || Number.isNaN(value)) return now;
  const ts = Math.round(value);
  return Number.isSafeInteger(ts) && ts >= 0 ? ts : undefined;
}

/** The reading's sequence number and run, when it carries both in range (else it counts for no gap). */
function sequenceOf(body: Record<string, unknown>): { seq: number; run: string } | undefined {
  const { seq, run } = body;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return undefined;
  if (typeof run !== 'string' || run.length === 0 || run.length > 64) return undefined;
  return { seq, run: text(run, 64) };
}

/** Text as stored: at most `max` characters, without NUL (PostgreSQL text cannot hold it). */
function text(value: string, max: number): string {
  return value.replaceAll('\u0000', '').slice(0, max);
}

function parseJson(payload: Buffer | string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(payload.toString());
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
