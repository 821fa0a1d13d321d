import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { connectMqtt, disconnect, watchConnection, type ConnectionChange } from '../client/index.js';
import { IngestMetrics, metricsHandler, type Registry } from '../metrics/index.js';
import { createApiHandler } from './api.js';
import { IngestWorker, type WorkerCounts } from './ingest-worker.js';
import { linkReport, type LinkReport } from './link-report.js';
import { PresenceRegistry } from './presence.js';
import { LagWindow, RateWindow } from './rates.js';
import { openStore, type TelemetryStore } from './store.js';
import { INGEST_GROUP, parseStatusTopic, STATUS_FILTER } from './topics.js';

export interface IngestOptions {
  /** Broker URL (mqtt://, ws://). */
  url: string;
  /** Brokers to spread the workers over, worker i on the (i mod n)-th: a cluster's nodes. Default: `url` alone. */
  brokers?: ReadonlyArray<{ url: string; node: string }>;
  /** The cluster's nodes as /api/stats shows them (`mqttlab start --nodes`). */
  nodes?: () => NodeView[];
  /** Workers in the shared-subscription group. Default 3. */
  workers?: number;
  /** Shared-subscription group name. Default `ingest`. */
  group?: string;
  /** A SQLite file (default `./data/telemetry.db`; `:memory:` keeps nothing) or a `postgresql://` URL. */
  store?: string;
  /**
   * Name of this ingest process when several share the group (on one or several machines): its client
   * ids are `<prefix>-<instance>-w<n>` and its workers `<instance>/w<n>`, so processes do not take over
   * each other's sessions and the store tells their rows apart. Default: none (one process).
   */
  instance?: string;
  retentionHours?: number;
  flushMs?: number;
  /** Session Expiry of the workers' sessions (s). Default 300. */
  sessionExpirySeconds?: number;
  /** Client ids are `<prefix>-w<n>`; stable ids let a restarted worker pick up its queued alerts. */
  clientIdPrefix?: string;
  /** HTTP port of the JSON API (0 = free port); `false` for no HTTP server. Default 8081. */
  httpPort?: number | false;
  httpHost?: string;
  /** The broker's WebSocket URL, handed to the dashboard by /api/config. */
  wsUrl?: string;
  /** Answers non-API requests first (the dashboard's static files), so both share one URL. */
  staticHandler?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Messages that were not stored, and why. */
  onRejected?: (topic: string, why: string) => void;
  /** Also export this process's CPU, memory and event loop metrics on /metrics. Default false. */
  processMetrics?: boolean;
  /** More registries served on the same /metrics (the embedded broker's, in `mqttlab start`). */
  extraMetrics?: Registry[];
  /** Called when a worker or the presence client (`client`: w1…, presence) loses its broker, and when it is back. */
  onConnection?: (client: string, change: ConnectionChange) => void;
}

/** One broker node of a cluster, as /api/stats shows it. */
export interface NodeView {
  node: string;
  url: string;
  clientsConnected: number;
  sessions: number;
  subscriptions: number;
  /** PUBLISH packets received from this node's clients, and messages sent to them. */
  messagesReceived: number;
  messagesSent: number;
}

/** A snapshot of ingestion, as /api/stats serves it. */
export interface IngestStats {
  devices: number;
  online: number;
  offline: number;
  /** Readings and alerts written to the store by this run. */
  readings: number;
  alerts: number;
  alertDuplicates: number;
  rejected: number;
  /** Readings received but not yet written. */
  backlog: number;
  /** Readings not stored because the database stayed unavailable past the in-memory bound. */
  readingsDropped: number;
  largestBatch: number;
  ratesPerSecond: { qos0: number; qos1: number; qos2: number };
  /** Receive time minus reading time over the last 10 s (null without readings). */
  lag: { meanMs: number; maxMs: number } | null;
  workers: number;
  workersConnected: number;
  uptimeS: number;
  /** Where the rows go, the whole store's row counts, and why writes fail while they do. */
  store: { location: string; readings: number; alerts: number; unavailable: string | null };
  /** The broker's nodes, when it is a cluster started here. */
  nodes?: NodeView[];
}

/** Running ingestion: workers, presence, store and (optionally) the HTTP API. */
export interface Ingest {
  /** `http://host:port/api`, when the HTTP server runs. */
  readonly apiUrl: string;
  readonly brokerUrl: string;
  readonly wsUrl: string | undefined;
  readonly group: string;
  readonly store: TelemetryStore;
  readonly presence: PresenceRegistry;
  /** Ingestion's Prometheus metrics, served on /metrics of the API server. */
  readonly metrics: Registry;
  /** Per-worker counters of this run. */
  workers(): WorkerCounts[];
  stats(): IngestStats;
  /** Per device: its link, reconnects, readings lost and alerts duplicated; and the totals. */
  links(): Promise<LinkReport>;
  /** Disconnects the workers, flushes the store and closes it and the HTTP server. */
  stop(): Promise<void>;
}

/**
 * Starts ingestion: K workers on `$share/<group>/telemetry/...`, `.../alerts/...` and `.../devices/+/status`
 * writing to the store (SQLite or PostgreSQL), a presence registry on the retained statuses, and the JSON API.
 */
export async function startIngest(options: IngestOptions): Promise<Ingest> {
  const workerCount = options.workers ?? 3;
  if (!Number.isInteger(workerCount) || workerCount < 1 || workerCount > 64)
    throw new Error(`workers must be an integer from 1 to 64 (got ${workerCount})`);
  const group = options.group ?? INGEST_GROUP;
  const startedAt = Date.now();
  if (options.instance !== undefined && !/^[A-Za-z0-9_.-]{1,32}$/.test(options.instance))
    throw new Error(`instance must be 1 to 32 letters, digits, '.', '_' or '-' (got "${options.instance}")`);
  const metrics = new IngestMetrics({ processMetrics: options.processMetrics });
  const store = await openStore(options.store ?? join('data', 'telemetry.db'), {
    retentionHours: options.retentionHours,
    flushMs: options.flushMs,
    observer: metrics,
  });
  const presence = new PresenceRegistry();
  const rates: [RateWindow, RateWindow, RateWindow] = [new RateWindow(), new RateWindow(), new RateWindow()];
  const lag = new LagWindow();
  const prefix = (options.clientIdPrefix ?? `mqttlab-${group}`) + (options.instance ? `-${options.instance}` : '');
  const workers = Array.from(
    { length: workerCount },
    (_, i) =>
      new IngestWorker({
        ...(options.brokers?.length ? options.brokers[i % options.brokers.length]! : { url: options.url }),
        name: options.instance ? `${options.instance}/w${i + 1}` : `w${i + 1}`,
        clientId: `${prefix}-w${i + 1}`,
        group,
        sessionExpirySeconds: options.sessionExpirySeconds ?? 300,
        store,
        presence,
        rates,
        lag,
        onRejected: options.onRejected,
        onLag: (worker, ms) => metrics.observeLag(worker, ms),
        onConnection: options.onConnection && ((change) => options.onConnection!(`w${i + 1}`, change)),
      }),
  );
  metrics.attach(
    workers.map((w) => w.counts.worker),
    () => ({
      backlog: store.backlog,
      readingsDropped: store.readingsDropped,
      storeUp: store.unavailable === undefined,
      workers: workers.map((w) => w.counts),
    }),
  );
  let presenceClient: MqttClient | undefined;
  let server: Server | undefined;
  const stopAll = async () => {
    await Promise.all(workers.map((w) => w.stop().catch(() => {})));
    if (presenceClient) await disconnect(presenceClient, !presenceClient.connected).catch(() => {});
    const closed = store.close();
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((done) => server!.close(() => done()));
    }
    await closed;
  };
  try {
    presenceClient = await connectMqtt(options.url, {
      clientId: `${prefix}-presence-${randomBytes(3).toString('hex')}`,
      clean: true,
      reconnectPeriod: 2000,
    });
    if (options.onConnection) watchConnection(presenceClient, (change) => options.onConnection!('presence', change));
    presenceClient.on('message', (topic, payload, packet) => {
      const parsed = parseStatusTopic(topic);
      if (!parsed) return;
      const { site, link, reconnects } = packet.properties?.userProperties ?? {};
      const count = typeof reconnects === 'string' ? Number(reconnects) : Number.NaN;
      // The history is stored by the worker group (one member gets each change); this is the live view.
      presence.applyStatus(parsed.device, payload.toString('utf8'), {
        retained: packet.retain,
        site: typeof site === 'string' ? site : undefined,
        link: typeof link === 'string' ? link.slice(0, 32) : undefined,
        reconnects: Number.isSafeInteger(count) && count >= 0 ? count : undefined,
      });
    });
    await presenceClient.subscribeAsync(STATUS_FILTER, { qos: 1 });
    for (const worker of workers) await worker.start();
  } catch (error) {
    await stopAll();
    throw error;
  }

  const ingest: Ingest = {
    apiUrl: '',
    brokerUrl: options.url,
    wsUrl: options.wsUrl,
    group,
    store,
    presence,
    metrics: metrics.registry,
    workers: () => workers.map((w) => ({ ...w.counts })),
    stats: () => {
      const counts = presence.counts();
      const totals = store.totals();
      return {
        ...counts,
        readings: store.readingsWritten,
        alerts: store.alertsWritten,
        alertDuplicates: store.alertDuplicates,
        rejected: workers.reduce((s, w) => s + w.counts.rejected, 0),
        backlog: store.backlog,
        readingsDropped: store.readingsDropped,
        largestBatch: store.largestBatch,
        ratesPerSecond: { qos0: rates[0].perSecond(), qos1: rates[1].perSecond(), qos2: rates[2].perSecond() },
        lag: lag.summary(),
        workers: workers.length,
        workersConnected: workers.filter((w) => w.counts.connected).length,
        uptimeS: Math.round((Date.now() - startedAt) / 1000),
        store: { location: store.location, ...totals, unavailable: store.unavailable ?? null },
        ...(options.nodes && { nodes: options.nodes() }),
      };
    },
    links: () => linkReport(presence, store),
    stop: stopAll,
  };

  if (options.httpPort !== false) {
    const api = createApiHandler(ingest);
    const serveMetrics = metricsHandler(() => [metrics.registry, ...(options.extraMetrics ?? [])]);
    server = createServer((req, res) => {
      if (serveMetrics(req, res)) return;
      if (options.staticHandler?.(req, res)) return;
      api(req, res);
    });
    const host = options.httpHost ?? '127.0.0.1';
    const port: number = options.httpPort ?? 8081;
    try {
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, host, () => resolve());
      });
    } catch (error) {
      server = undefined;
      await stopAll();
      throw error;
    }
    const bound = (server.address() as AddressInfo).port;
    (ingest as { apiUrl: string }).apiUrl = `http://${host.includes(':') ? `[${host}]` : host}:${bound}/api`;
  }
  return ingest;
}
