import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import {
  createBroker,
  loadMosquittoConf,
  reasonName,
  type CreateBrokerOptions,
  type ListenError,
  type RunningBroker,
} from '../broker/index.js';
import type { ClusterBroker } from '../cluster/index.js';
import type { MetricsServer } from '../metrics/index.js';
import { DATABASE_FILE, openDataDir } from './data-dir.js';
import { onShutdown } from './shutdown.js';
import { parseInteger } from './util.js';

/** `mqttlab broker`: runs the embedded broker until Ctrl-C. */
export function registerBrokerCommand(program: Command): void {
  program
    .command('broker')
    .description('run the embedded MQTT 5.0 / 3.1.1 broker (TCP, WebSocket, TLS)')
    .option('-c, --config <file>', 'Mosquitto 2 config file (listeners, TLS, password_file, acl_file, limits; see README)')
    .option('-H, --host <address>', 'interface to listen on (use 0.0.0.0 to accept other machines)', '127.0.0.1')
    .option('-p, --port <port>', 'TCP port', parseInteger, 1883)
    .option('-w, --ws-port <port>', 'WebSocket port (subprotocol "mqtt"); 0 disables', parseInteger, 9001)
    .option('--max-packet-size <bytes>', 'largest packet accepted from a client (default 1 MiB; Mosquitto max_packet_size)', parseInteger)
    .option('--max-keepalive <seconds>', 'cap on client keep alive (announced as Server Keep Alive)', parseInteger)
    .option('--max-queued <count>', 'QoS 1/2 messages queued per session', parseInteger)
    .option(
      '--max-queued-bytes <bytes>',
      'bytes of QoS 1/2 messages queued per session (default 16 MiB; Mosquitto max_queued_bytes)',
      parseInteger,
    )
    .option(
      '--max-inflight-bytes <bytes>',
      'bytes of QoS 1/2 messages sent to one client and not yet acknowledged (default 8 MiB)',
      parseInteger,
    )
    .option('--max-total-queued-bytes <bytes>', 'bytes of QoS 1/2 messages held for all clients together (default 512 MiB)', parseInteger)
    .option(
      '--max-buffered <bytes>',
      'bytes waiting to be written to one client above which QoS 0 messages to it are dropped',
      parseInteger,
    )
    .option(
      '--max-retained-bytes <bytes>',
      'bytes of retained messages kept; a retained PUBLISH past it gets 0x97 (default 256 MiB)',
      parseInteger,
    )
    .option('--max-topic-levels <n>', 'most levels in a topic or filter (default 200, as Mosquitto)', parseInteger)
    .option(
      '--max-sessions <n>',
      'most sessions held, connected or offline; a CONNECT opening one more gets 0x97 (default 200,000; 0: no limit)',
      parseInteger,
    )
    .option('--max-subscriptions <n>', 'most subscriptions per client; more get SUBACK 0x97 (default 10,000; 0: no limit)', parseInteger)
    .option(
      '--max-filter-nodes <n>',
      'topic levels all subscription filters hold together (shared levels count once, ~250 B each); ' +
        'a new subscription past it gets SUBACK 0x97 (default 1,000,000; 0: no limit)',
      parseInteger,
    )
    .option(
      '--auth-failure-delay <ms>',
      'answer repeated bad passwords from one address after ms × 2^(n-1), at most 30 s (default 0: off)',
      parseInteger,
    )
    .option(
      '--data-dir <dir>',
      `keep retained messages and sessions in <dir>/${DATABASE_FILE} (SQLite; created if missing), so they survive a restart or a crash; ` +
        'QoS 1/2 acks then wait until the message is stored. Without it, state is in memory only',
    )
    .option('--sys-interval <seconds>', 'seconds between $SYS/broker/... updates (0 disables)', parseInteger, 10)
    .option(
      '--cluster <urls>',
      'join a cluster: comma-separated NATS URLs (nats://HOST:PORT, JetStream enabled); state then lives in JetStream, see docs/cluster.md',
    )
    .option('--node <name>', "this node's name in the cluster (unique; default <hostname>-<pid>)")
    .option(
      '--replicas <count>',
      "JetStream copies of the cluster's stream and buckets (default: number of NATS URLs, at most 3)",
      parseInteger,
    )
    .option('--metrics-port <port>', 'serve Prometheus metrics on http://<metrics-host>:<port>/metrics (0 = any free port)', parseInteger)
    .option('--metrics-host <address>', 'interface of the metrics endpoint', '127.0.0.1')
    .option('-v, --verbose', 'log every connection, disconnection, refused CONNECT, ACL denial and dropped message')
    .addHelpText(
      'after',
      `
Examples:
  mqttlab broker                         # mqtt://127.0.0.1:1883 and ws://127.0.0.1:9001
  mqttlab broker -p 0 -w 0               # any free TCP port, no WebSocket
  mqttlab broker -c mosquitto/config/mosquitto.conf   # listeners and settings from a Mosquitto config
  mqttlab broker --data-dir ./data       # durable: state in ./data/mqttlab.db survives kill -9
  mqttlab broker -p 1884 -w 0 --cluster nats://127.0.0.1:4222 --node a   # one node of a cluster (docs/cluster.md)
  mqttlab broker --metrics-port 9234     # Prometheus scrapes http://127.0.0.1:9234/metrics (docs/telemetry.md)
  mosquitto_sub -V 5 -p 1883 -t 'sensors/#' -v
`,
    )
    .action(
      async (
        opts: {
          config?: string;
          host: string;
          port: number;
          wsPort: number;
          maxPacketSize?: number;
          maxKeepalive?: number;
          maxQueued?: number;
          maxQueuedBytes?: number;
          maxInflightBytes?: number;
          maxTotalQueuedBytes?: number;
          maxBuffered?: number;
          maxTopicLevels?: number;
          maxSessions?: number;
          maxSubscriptions?: number;
          maxFilterNodes?: number;
          maxRetainedBytes?: number;
          authFailureDelay?: number;
          dataDir?: string;
          cluster?: string;
          node?: string;
          replicas?: number;
          sysInterval: number;
          metricsPort?: number;
          metricsHost: string;
          verbose?: boolean;
        },
        command: Command,
      ) => {
        let options: CreateBrokerOptions = {
          host: opts.host,
          port: opts.port,
          wsPort: opts.wsPort === 0 ? false : opts.wsPort,
          sysInterval: opts.sysInterval,
        };
        let dataDir = opts.dataDir;
        let cluster =
          opts.cluster === undefined ? undefined : { servers: parseNatsUrls(opts.cluster), node: opts.node, replicas: opts.replicas };
        if (opts.config) {
          const clash = ['host', 'port', 'wsPort'].find((name) => command.getOptionValueSource(name) === 'cli');
          if (clash) throw new Error(`--config sets the listeners; leave out --${clash === 'wsPort' ? 'ws-port' : clash}`);
          const loaded = loadMosquittoConf(opts.config);
          options = loaded.options;
          if (!cluster && loaded.cluster) cluster = { ...loaded.cluster, node: opts.node ?? loaded.cluster.node, replicas: opts.replicas };
          // `persistence true` + `persistence_location` in the config, unless --data-dir says otherwise. Unlike
          // --data-dir, a directory named in a config file is not created: the seed's config names the
          // container's /mosquitto/data/, which should not appear on the host by surprise.
          if (dataDir === undefined && loaded.dataDir !== undefined) {
            if (!existsSync(loaded.dataDir))
              throw new Error(
                `${opts.config}: persistence_location ${loaded.dataDir} does not exist (create it, or pass --data-dir <dir>)`,
              );
            dataDir = loaded.dataDir;
          }
          if (command.getOptionValueSource('sysInterval') === 'cli') options.sysInterval = opts.sysInterval;
        }
        if (cluster && dataDir !== undefined)
          throw new Error('a cluster node keeps its state in JetStream: leave out --data-dir (or persistence in the config)');
        if (!cluster && (opts.node !== undefined || opts.replicas !== undefined)) throw new Error('--node and --replicas need --cluster');
        const persistence = dataDir === undefined ? undefined : openDataDir(dataDir);
        // prom-client (and the OpenTelemetry API it loads) only when metrics are asked for: about 4 MB of RSS;
        // the NATS client only for a cluster node.
        const metricsModule = opts.metricsPort === undefined ? undefined : await import('../metrics/index.js');
        const registry = metricsModule && new metricsModule.Registry();
        const clusterModule = cluster ? await import('../cluster/index.js') : undefined;
        const start = (all: CreateBrokerOptions): Promise<RunningBroker> =>
          clusterModule && cluster ? clusterModule.createClusterBroker({ ...all, cluster }) : createBroker(all);
        const running = await start({
          ...options,
          persistence: persistence && metricsModule && registry ? metricsModule.timedPersistence(persistence, registry) : persistence,
          ...(opts.maxPacketSize !== undefined && { maximumPacketSize: opts.maxPacketSize }),
          ...(opts.maxKeepalive !== undefined && { maxKeepalive: opts.maxKeepalive }),
          ...(opts.maxQueued !== undefined && { maxQueuedMessages: opts.maxQueued }),
          ...(opts.maxBuffered !== undefined && { maxBufferedBytes: opts.maxBuffered }),
          ...(opts.maxQueuedBytes !== undefined && { maxQueuedBytes: opts.maxQueuedBytes }),
          ...(opts.maxInflightBytes !== undefined && { maxInflightBytes: opts.maxInflightBytes }),
          ...(opts.maxTotalQueuedBytes !== undefined && { maxTotalQueuedBytes: opts.maxTotalQueuedBytes }),
          ...(opts.maxTopicLevels !== undefined && { maxTopicLevels: opts.maxTopicLevels }),
          ...(opts.maxSessions !== undefined && { maxSessions: opts.maxSessions }),
          ...(opts.maxSubscriptions !== undefined && { maxSubscriptionsPerClient: opts.maxSubscriptions }),
          ...(opts.maxFilterNodes !== undefined && { maxFilterNodes: opts.maxFilterNodes }),
          ...(opts.maxRetainedBytes !== undefined && { maxRetainedBytes: opts.maxRetainedBytes }),
          ...(opts.authFailureDelay !== undefined && { authFailureDelay: opts.authFailureDelay }),
        }).catch((error: ListenError) => {
          throw error.code === 'EADDRINUSE' ? new Error(`${error.message}: ${howToMove(error.port, opts)}`) : error;
        });
        const { broker } = running;
        // Always told: an error in our own code that was contained to one connection or timer.
        broker.events.on('internalError', (where, error) =>
          console.error(`${new Date().toISOString()} internal error in ${where}: ${error.message}`),
        );
        // Refused CONNECTs and CONNECT timeouts are always logged, as Mosquitto's default log does.
        broker.events.on('connectionRefused', (r) => {
          const user = r.username !== undefined ? ` user ${r.username}` : '';
          const why = r.reasonCode !== undefined ? `${r.reason} [${reasonName(r.reasonCode)}]` : r.reason;
          log(`refused      ${r.clientId ?? '(no CONNECT)'} from ${r.remoteAddress ?? '?'}${user}: ${why}`);
        });
        if (opts.verbose) {
          broker.events.on('accessDenied', (d) => {
            const user = d.username !== undefined ? ` (user ${d.username})` : '';
            log(`denied       ${d.action} ${d.topic} for ${d.clientId}${user}: not authorized by the ACL`);
          });
          broker.events.on('clientConnected', (c, present) => {
            const version = c.protocolVersion === 5 ? '5.0' : '3.1.1';
            log(`connected    ${c.clientId} (MQTT ${version}, ${c.transport} ${c.remoteAddress ?? ''}) session present: ${present}`);
          });
          broker.events.on('clientDisconnected', (c, reason) => log(`disconnected ${c.clientId}: ${reason}`));
          broker.events.on('messageDropped', (id, m, reason) => log(`dropped      ${m.topic} for ${id}: ${reason}`));
          broker.events.on('willPublished', (id, m) => log(`will         ${m.topic} for ${id}`));
        }
        let metrics: MetricsServer | undefined;
        if (metricsModule && registry) {
          metricsModule.registerProcessMetrics(registry);
          metricsModule.registerBrokerMetrics(broker, registry);
          metrics = await metricsModule
            .serveMetrics(() => [registry], opts.metricsHost, opts.metricsPort!)
            .catch(async (error: NodeJS.ErrnoException) => {
              await running.close();
              throw new Error(
                error.code === 'EADDRINUSE'
                  ? `metrics port ${opts.metricsPort} is in use: pass --metrics-port 0 or another port`
                  : error.message,
              );
            });
        }
        console.log(`mqttlab broker listening on ${running.listeners.map((l) => l.url).join(', ')}`);
        if (metrics) console.log(`  Prometheus metrics on ${metrics.url}`);
        if (cluster)
          console.log(
            `  node ${(running as ClusterBroker).node.name} of the cluster on ${cluster.servers.join(', ')} (state in JetStream)`,
          );
        else console.log(persistence ? `  state kept in ${persistence.path}` : '  state in memory only (--data-dir keeps it)');
        const plain = running.listeners.find((l) => l.url.startsWith('mqtt://'));
        if (plain)
          console.log(
            `  try: mosquitto_sub -V 5 -h ${plain.host === '0.0.0.0' ? '127.0.0.1' : plain.host} -p ${plain.port} -t 'sensors/#' -v`,
          );
        console.log(`  Ctrl-C stops it (clients get DISCONNECT ${reasonName(0x8b)})`);
        onShutdown(async () => {
          await metrics?.close();
          await running.close();
          console.log('broker stopped');
        });
      },
    );
}

/** `--cluster` as a list of NATS URLs; a one-line error for anything else. */
function parseNatsUrls(value: string): string[] {
  const urls = value
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  for (const url of urls) {
    if (!/^(nats|tls):\/\/[^\s/]+:\d+$/.test(url)) throw new Error(`--cluster: "${url}" is not a NATS URL like nats://127.0.0.1:4222`);
  }
  if (urls.length === 0) throw new Error('--cluster needs at least one NATS URL');
  return urls;
}

function log(line: string): void {
  console.log(`${new Date().toISOString()} ${line}`);
}

/** Which option moves the listener on a port that is taken. */
function howToMove(port: number, opts: { config?: string; port: number; wsPort: number }): string {
  if (opts.config) return `change the listener line for ${port} in ${opts.config}`;
  return port === opts.wsPort ? 'pass -w <port>, or -w 0 for no WebSocket' : 'pass -p <port> (0 = any free port)';
}
