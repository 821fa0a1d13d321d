import { Option, type Command } from 'commander';
import { resolveBroker } from './broker-target.js';
import { startIngest } from '../telemetry/index.js';
import { connectionLog } from './connection-log.js';
import { fmt, startStatusLine } from './status-line.js';
import { onShutdown } from './shutdown.js';
import { integerFrom, parseInteger } from './util.js';

interface IngestCommandOptions {
  workers: number;
  group: string;
  store: string;
  db?: string;
  instance?: string;
  retentionHours: number;
  port: number;
  host: string;
  broker?: string;
  wsUrl?: string;
  verbose?: boolean;
}

/** `mqttlab ingest`: shared-subscription workers writing telemetry to SQLite or PostgreSQL, with the JSON API. */
export function registerIngestCommand(program: Command): void {
  program
    .command('ingest')
    .description('ingest telemetry through a shared subscription into SQLite or PostgreSQL and serve the JSON API')
    .option('--workers <count>', 'workers (MQTT connections) in the shared-subscription group', integerFrom(1, 64), 3)
    .option('-g, --group <name>', 'shared-subscription group: $share/<group>/telemetry/+/+/+ and .../alerts/+/+', 'ingest')
    .option(
      '--store <where>',
      'a SQLite file (WAL mode; :memory: keeps nothing) or a postgresql://user:password@host:port/db URL',
      'data/telemetry.db',
    )
    .addOption(new Option('--db <path>', 'same as --store (older name)').hideHelp())
    .option(
      '--instance <name>',
      'name of this process when several ingest processes share the group (client ids and worker names carry it)',
    )
    .option('--retention-hours <hours>', 'delete readings and alerts older than this (0 keeps all)', parseInteger, 24)
    .option('-p, --port <port>', 'HTTP port of the JSON API (0 = any free port)', parseInteger, 8081)
    .option('-H, --host <address>', 'interface of the HTTP API', '127.0.0.1')
    .option('-b, --broker <url>', 'broker URL (default: $MQTT_URL, else an embedded broker started for the run)')
    .option('--ws-url <url>', "the broker's WebSocket URL, handed to the dashboard by /api/config")
    .option('-v, --verbose', 'log every rejected message and why')
    .addHelpText(
      'after',
      `
Readings (QoS 0) are written in batches (one transaction per 100 ms); an alert (QoS 1) is written before
its PUBACK goes out, and workers keep their sessions (Session Expiry 300 s) so alerts raised while
ingestion restarts are delivered when it is back. A presence registry follows devices/+/status.

Scaling out: start several ingest processes (here or on other machines) with the same --group, each
with its own --instance, all writing one PostgreSQL; the broker gives each message to one worker of
the group, every process serves the API from the shared database. The schema is created and migrated
on start. If PostgreSQL goes away for a while, readings wait in memory (up to 500,000) and alerts are
not acknowledged until they are committed. The password may also come from $PGPASSWORD.

API (GET):  /api/devices  /api/devices/<id>  /api/devices/<id>/latest  /api/stats  /api/workers
            /api/alerts?limit=&device=  /api/series?device=&metric=&from=&to=&points=  /api/config

Examples:
  mqttlab ingest --broker mqtt://localhost:1883 --workers 4
  mqttlab ingest -b mqtt://broker:1883 --store postgresql://mqttlab@db:5432/telemetry --instance a --port 8081
  mqttlab ingest -b mqtt://broker:1883 --store postgresql://mqttlab@db:5432/telemetry --instance b --port 8082
  curl -s localhost:8081/api/stats | jq .
  curl -s 'localhost:8081/api/series?device=dev-001&metric=temperature&points=60' | jq '.points[-1]'
`,
    )
    .action(async (opts: IngestCommandOptions) => {
      const target = await resolveBroker(opts.broker, { websocket: true });
      const wsUrl = opts.wsUrl ?? target.embedded?.wsUrl ?? (/^wss?:/.test(target.url) ? target.url : undefined);
      const ingest = await startIngest({
        url: target.url,
        workers: opts.workers,
        group: opts.group,
        store: opts.db ?? opts.store,
        instance: opts.instance,
        retentionHours: opts.retentionHours,
        httpPort: opts.port,
        httpHost: opts.host,
        wsUrl,
        processMetrics: true,
        onRejected: opts.verbose ? (topic, why) => console.error(`${new Date().toISOString()} rejected ${topic}: ${why}`) : undefined,
        // Without a terminal there is no status line: say when workers lose the broker and come back.
        onConnection: !process.stdout.isTTY || opts.verbose ? connectionLog((line) => console.log(line)) : undefined,
      }).catch(async (error: NodeJS.ErrnoException) => {
        await target.close();
        throw new Error(error.code === 'EADDRINUSE' ? `HTTP port ${opts.port} is in use: pass --port 0 or another port` : error.message);
      });
      console.log(
        `mqttlab ingest${opts.instance ? ` ${opts.instance}` : ''}: ${opts.workers} workers in $share/${opts.group} on ${target.label}, ` +
          `store ${ingest.store.location}`,
      );
      console.log(`  API ${ingest.apiUrl}/stats · Ctrl-C stops (flushes the last batch)`);
      const status = startStatusLine(() => {
        const s = ingest.stats();
        const r = s.ratesPerSecond;
        const stored = `stored ${fmt(s.readings)} readings ${fmt(s.alerts)} alerts`;
        const rate = (r.qos0 + r.qos1 + r.qos2).toFixed(1);
        const workers = `workers ${s.workersConnected}/${s.workers}`;
        const down = s.store.unavailable ? ` · STORE UNAVAILABLE: ${s.store.unavailable}` : '';
        return `● ${s.online}/${s.devices} online · ${rate} msg/s · ${stored} · backlog ${fmt(s.backlog)} · ${workers}${down}`;
      });
      onShutdown(async () => {
        status.stop();
        const s = ingest.stats();
        await ingest.stop();
        await target.close();
        console.log(`ingest stopped: ${fmt(s.readings)} readings and ${fmt(s.alerts)} alerts stored this run (${s.store.location})`);
      });
    });
}
