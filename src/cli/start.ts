import { Option, type Command } from 'commander';
import { createBroker, type ListenError, type RunningBroker } from '../broker/index.js';
import { brokerUrlFrom, identifyBroker, redactUrl } from '../client/index.js';
import { createDashboardHandler } from '../dashboard/index.js';
import type { LinkProfile } from '../link/index.js';
import { Registry, registerBrokerMetrics, registerProcessMetrics } from '../metrics/index.js';
import { startFleet, startIngest, type Fleet, type Ingest } from '../telemetry/index.js';
import { connectionLog } from './connection-log.js';
import { fmt, startStatusLine } from './status-line.js';
import { onShutdown } from './shutdown.js';
import { clusterBanner, nodesStatus, startEmbeddedCluster, type StartedCluster } from './start-cluster.js';
import { integerFrom, linkProfilesHelp, parseInteger, parseLinkProfile } from './util.js';

interface StartOptions {
  port: number;
  host: string;
  devices: number;
  sites?: number;
  interval?: number;
  workers: number;
  chaos?: boolean;
  db?: string;
  store?: string;
  mqttPort?: number;
  wsPort?: number;
  broker?: string;
  wsUrl?: string;
  nodes?: number;
  status: boolean;
  link?: LinkProfile;
}

/** `mqttlab start` (and `npm start`): the whole telemetry system in one process. */
export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('run the IoT telemetry system: embedded broker, device fleet, ingestion and the web dashboard')
    .option('-p, --port <port>', 'HTTP port of the dashboard and the JSON API (0 = any free port)', parseInteger, 8080)
    .option('-H, --host <address>', 'interface for the HTTP server and the embedded broker (0.0.0.0 for other machines)', '127.0.0.1')
    .option('-d, --devices <count>', 'simulated devices', integerFrom(1), 50)
    .option('--sites <count>', 'sites the devices are spread over (round robin)', parseInteger)
    .option('--interval <ms>', 'milliseconds between two readings of one device', integerFrom(10))
    .option('--workers <count>', 'ingest workers sharing $share/ingest/... subscriptions', integerFrom(1, 64), 3)
    .option('--chaos', 'now and then drop a device without DISCONNECT (its will says offline) and bring it back')
    .option(
      '--link <profile>',
      'each device connects through its own emulated link (lan, wifi, cellular, satellite, flaky), with a persistent session',
      parseLinkProfile,
    )
    .option('--store <where>', 'ingest store: a SQLite file (default ./data/telemetry.db) or a postgresql://user:password@host:port/db URL')
    .addOption(new Option('--db <path>', 'same as --store (older name)').hideHelp())
    .option(
      '--mqtt-port <port>',
      'TCP port of the embedded broker (default 1883, or a free port when 1883 is taken; 0 = any free port)',
      parseInteger,
    )
    .option(
      '--ws-port <port>',
      'WebSocket port of the embedded broker, used by the browser (default 9001, or a free port when 9001 is taken)',
      parseInteger,
    )
    .option('-b, --broker <url>', 'use this broker instead of the embedded one (default: $MQTT_URL, else embedded)')
    .option(
      '--nodes <count>',
      'run the broker as an embedded cluster of this many nodes on NATS JetStream (needs nats-server)',
      integerFrom(1, 16),
    )
    .option('--ws-url <url>', "with --broker: the broker's MQTT-over-WebSocket URL for the browser (e.g. ws://localhost:9001)")
    .option('--no-status', 'no live status line on the terminal')
    .addHelpText(
      'after',
      `
What runs:
  broker     the embedded MQTT 5 broker on TCP and WebSocket (or --broker URL [--ws-url URL])
  fleet      --devices simulated devices: retained online/offline presence with a will, telemetry at
             QoS 0 on telemetry/<site>/<device>/<metric>, alerts at QoS 1, commands answered by request/reply
             at QoS 2 (see docs/telemetry.md)
  ingestion  --workers clients in the shared subscription group "ingest" writing to SQLite (or the
             PostgreSQL of --store postgresql://...), and the
             JSON API under /api/ (devices, latest, series, workers, stats, alerts, config)
  metrics    http://<host>:<port>/metrics — Prometheus metrics of the broker and ingestion
  dashboard  http://<host>:<port>/ — device grid, charts, rates by QoS, work per worker, a command button,
             and /flow.html: the packets of a QoS 0/1/2 publish drawn from real traffic
  cluster    with --nodes N: N broker nodes in this process form one broker on a nats-server with
             JetStream started in a temp dir (docs/cluster.md); devices and ingest workers are spread
             round robin over the nodes, and the dashboard and /api/stats show each node's clients
Ctrl-C stops everything: the fleet disconnects, ingestion flushes, the broker (or the nodes and NATS) closes.

Examples:
  mqttlab start                                  # http://127.0.0.1:8080/, 50 devices, 3 workers
  mqttlab start --devices 200 --workers 4 --chaos --port 0
  mqttlab start --nodes 3 --port 0                                 # a 3-node cluster on NATS JetStream
  mqttlab start --broker mqtt://localhost:1883 --ws-url ws://localhost:9001   # docker compose's Mosquitto
  mqttlab start --link cellular                  # the dashboard's Links panel: reconnects, readings lost, alerts duplicated

Link profiles (--link; see mqttlab fleet --help and docs/telemetry.md):
${linkProfilesHelp()}
`,
    )
    .action(async (opts: StartOptions) => {
      await start(opts);
    });
}

async function start(opts: StartOptions): Promise<void> {
  const external = brokerUrlFrom(opts.broker);
  if (opts.nodes !== undefined && (external || opts.mqttPort !== undefined || opts.wsPort !== undefined))
    throw new Error('--nodes starts its own broker nodes on free ports: it does not go with --broker, --mqtt-port or --ws-port');
  let embedded: RunningBroker | undefined;
  let cluster: StartedCluster | undefined;
  let ingest: Ingest | undefined;
  let fleet: Fleet | undefined;
  let status: { stop(): void } | undefined;
  let wsUrl: string | undefined;
  let notes: string[] = [];
  // With an external broker that goes away, say so where no status line does.
  const logConnection = !process.stdout.isTTY || !opts.status ? connectionLog((line) => console.log(line)) : undefined;
  const stopAll = async () => {
    status?.stop();
    await fleet?.stop();
    await ingest?.stop();
    await embedded?.close();
    await cluster?.local.close();
  };
  try {
    if (opts.nodes !== undefined) {
      cluster = await startEmbeddedCluster(opts.nodes, opts.host);
    } else if (!external) {
      const started = await startEmbedded(opts);
      embedded = started.running;
      notes = started.notes;
    }
    const url = external ?? cluster?.urls[0] ?? embedded!.url!;
    // One /metrics on the dashboard's port: ingestion's, and the embedded broker's with this process's CPU and memory.
    const brokerMetrics = new Registry();
    registerProcessMetrics(brokerMetrics);
    if (embedded) registerBrokerMetrics(embedded.broker, brokerMetrics);
    wsUrl = opts.wsUrl ?? (external ? (/^wss?:/.test(external) ? external : undefined) : (cluster?.wsUrl ?? embedded!.wsUrl));
    ingest = await startIngest({
      url,
      workers: opts.workers,
      brokers: cluster?.brokers,
      nodes: cluster && (() => cluster!.views()),
      store: opts.store ?? opts.db,
      httpPort: opts.port,
      httpHost: opts.host,
      wsUrl,
      staticHandler: createDashboardHandler(),
      extraMetrics: [brokerMetrics],
      onConnection: logConnection,
    }).catch((error: NodeJS.ErrnoException) => {
      throw new Error(error.code === 'EADDRINUSE' ? `HTTP port ${opts.port} is in use: pass --port 0 or another port` : error.message);
    });
    fleet = await startFleet({
      url,
      urls: cluster?.urls,
      devices: opts.devices,
      sites: opts.sites,
      intervalMs: opts.interval,
      chaos: opts.chaos,
      link: opts.link,
      onEvent: (e) =>
        e.type === 'lost'
          ? logConnection?.(e.device, { state: 'lost', reason: e.reason })
          : e.type === 'reconnected' && logConnection?.(e.device, { state: 'reconnected' }),
    });
  } catch (error) {
    await stopAll().catch(() => {});
    throw error;
  }
  const base = ingest.apiUrl.replace(/\/api\/?$/, '').replace(/\/$/, '');
  console.log('mqttlab telemetry system');
  console.log(`  dashboard    ${base}/`);
  console.log(`  packet flow  ${base}/flow.html`);
  console.log(`  JSON API     ${base}/api/stats  (devices, devices/<id>/latest, series, workers, alerts, config)`);
  const measured = external || cluster ? 'ingestion' : 'broker and ingestion';
  console.log(`  metrics      ${base}/metrics  (Prometheus: ${measured})`);
  const browser = wsUrl ? ` · browser WebSocket ${wsUrl}` : ' · no WebSocket URL: the dashboard polls the API only (pass --ws-url)';
  if (cluster) for (const line of clusterBanner(cluster)) console.log(`  ${line}`);
  const brokerUrl = external
    ? `${redactUrl(external)} (external)`
    : cluster
      ? `${cluster.urls[0]} (node1 of the cluster)`
      : `${embedded!.url} (embedded)`;
  console.log(`  broker       ${brokerUrl}${browser}`);
  for (const note of notes) console.log(`               ${note}`);
  const via = opts.link ? ` over ${opts.link.name} links (persistent sessions)` : '';
  const spread = cluster ? ` · both spread over ${cluster.urls.length} nodes` : '';
  console.log(`  fleet        ${opts.devices} devices${via} · ingestion: ${opts.workers} workers in $share/ingest${spread}`);
  console.log(`  store        ${ingest.store.location}`);
  console.log('  Ctrl-C stops everything');
  if (opts.status) {
    const running = { ingest, fleet };
    status = startStatusLine(() => {
      const s = running.ingest.stats();
      const sent = running.fleet.sent;
      const r = s.ratesPerSecond;
      const stored = `stored ${fmt(s.readings)} readings ${fmt(s.alerts)} alerts`;
      const ingest = `ingest ${(r.qos0 + r.qos1 + r.qos2).toFixed(1)}/s`;
      const sentByQos = `sent q0 ${fmt(sent.qos0)} q1 ${fmt(sent.qos1)} q2 ${fmt(sent.qos2)}`;
      const nodes = s.nodes ? ` · ${nodesStatus(s.nodes)}` : '';
      return `● ${s.online}/${s.devices} online · ${sentByQos} · ${stored} · ${ingest} · backlog ${fmt(s.backlog)}${nodes}`;
    });
  }
  onShutdown(async () => {
    status?.stop();
    console.log(`stopping: fleet, ingestion, ${cluster ? 'broker nodes, NATS' : 'broker'} …`);
    await stopAll();
    console.log('stopped');
  });
}

/** The embedded broker and what the user should know about its ports. */
interface EmbeddedStart {
  running: RunningBroker;
  /** Lines for the banner: a taken default port, and the broker found on it. */
  notes: string[];
}

/**
 * The ports `start` tries first: 1883 and 9001 like Mosquitto, so mosquitto_sub and MQTTX find the broker;
 * MQTTLAB_MQTT_PORT / MQTTLAB_WS_PORT change them (the tests use ports of their own instead of 1883).
 */
export function preferredPorts(env: NodeJS.ProcessEnv = process.env): { mqtt: number; ws: number } {
  const port = (name: string, fallback: number) => {
    const value = env[name];
    if (value === undefined || value === '') return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name}="${value}" is not a port number`);
    return n;
  };
  return { mqtt: port('MQTTLAB_MQTT_PORT', 1883), ws: port('MQTTLAB_WS_PORT', 9001) };
}

/**
 * Starts the embedded broker on the preferred ports; a preferred port that is taken (the seed's Mosquitto
 * from `docker compose up -d` holds 1883 and 9001) is replaced by a free one, and the notes say so. A port
 * given with --mqtt-port / --ws-port is kept or refused with a one-line error.
 */
async function startEmbedded(opts: StartOptions): Promise<EmbeddedStart> {
  const preferred = preferredPorts();
  const mqtt = {
    port: opts.mqttPort ?? preferred.mqtt,
    option: opts.mqttPort !== undefined ? '--mqtt-port' : undefined,
    taken: undefined as number | undefined,
  };
  const ws = {
    port: opts.wsPort ?? preferred.ws,
    option: opts.wsPort !== undefined ? '--ws-port' : undefined,
    taken: undefined as number | undefined,
  };
  for (let attempt = 0; ; attempt++) {
    try {
      const running = await createBroker({ host: opts.host, port: mqtt.port, wsPort: ws.port, sysInterval: 10 });
      return { running, notes: await portNotes(opts.host, running, mqtt.taken, ws.taken) };
    } catch (error) {
      const { code, port, message } = error as ListenError;
      const which = code === 'EADDRINUSE' && attempt < 2 ? [mqtt, ws].find((p) => p.port === port && p.port !== 0) : undefined;
      if (!which) throw error;
      if (which.option) throw new Error(`${message}: pass ${which.option} 0 for any free port, or another port`);
      which.taken = which.port;
      which.port = 0;
    }
  }
}

/** What the banner says about default ports that were taken, and how to use the broker found there. */
async function portNotes(host: string, running: RunningBroker, mqttTaken?: number, wsTaken?: number): Promise<string[]> {
  const notes: string[] = [];
  if (mqttTaken !== undefined) notes.push(`port ${mqttTaken} is taken, so the embedded broker listens on ${running.port} instead`);
  if (wsTaken !== undefined) notes.push(`port ${wsTaken} is taken, so its WebSocket listens on ${running.wsPort} instead`);
  if (mqttTaken === undefined) return notes;
  const probeHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const there = `mqtt://${probeHost.includes(':') ? `[${probeHost}]` : probeHost}:${mqttTaken}`;
  try {
    const version = await identifyBroker(there, { connectTimeout: 2000 });
    const wsHint = wsTaken !== undefined ? ` --ws-url ${there.replace(/^mqtt:/, 'ws:').replace(/:\d+$/, `:${wsTaken}`)}` : '';
    notes.push(
      `an MQTT broker${version ? ` (${version})` : ''} answers on ${there}; to use it instead: mqttlab start --broker ${there}${wsHint}`,
    );
  } catch {
    // Something else holds the port: the note above is all there is to say.
  }
  return notes;
}
