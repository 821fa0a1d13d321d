import { InvalidArgumentError, type Command } from 'commander';
import { MAX_COMPARED, parseTarget, progressBar, renderTable, resolveBenchOptions, runBench, SCENARIOS } from '../bench/index.js';
import { parseInteger } from './util.js';

interface BenchCliOptions {
  broker: string;
  compare?: string[];
  rounds?: number;
  qos?: number;
  payload?: number;
  count?: number;
  duration?: number;
  publishers?: number;
  subscribers?: number;
  devices?: number;
  interval?: number;
  share?: boolean;
  rate?: number;
  clients?: number;
  inflight?: number;
  window?: number;
  workers?: number;
  hold?: number;
  profile?: string;
  json?: boolean;
}

function parseBroker(value: string): string {
  try {
    return parseTarget(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function parseBrokerList(value: string): string[] {
  const brokers = value.split(',').map((b) => parseBroker(b.trim()));
  if (brokers.length < 2 || brokers.length > MAX_COMPARED)
    throw new InvalidArgumentError(`give two to ${MAX_COMPARED} brokers, e.g. embedded,mosquitto`);
  return brokers;
}

/** `mqttlab bench <scenario>`: benchmarks a broker, or compares two round by round. */
export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description(`benchmark a broker on loopback: ${SCENARIOS.join(', ')}`)
    .argument('<scenario>', SCENARIOS.join(' | '))
    .option(
      '-b, --broker <target>',
      'embedded (ours, in a child process), mosquitto (started on a free port), relay (a minimal Node forwarder: ' +
        'the floor), cluster (3 of our nodes on a nats-server, each a process; clients connect to the nodes directly, ' +
        'flows publish on node 1 and subscribe on node 2) or mqtt://127.0.0.1:PORT',
      parseBroker,
      'embedded',
    )
    .option('--compare <a,b[,c]>', 'alternate rounds between two or more brokers and print ratios of medians (a/b, a/c)', parseBrokerList)
    .option('--rounds <n>', 'rounds per broker (at least 3 with --compare)', parseInteger)
    .option('-q, --qos <level>', 'QoS of publishes and subscriptions: 0, 1 or 2', parseInteger)
    .option('--payload <bytes>', 'payload size', parseInteger)
    .option('-n, --count <n>', 'messages published per round (all publishers together)', parseInteger)
    .option('--duration <seconds>', 'upper bound on publishing time per round (fleet: the time devices publish)', parseInteger)
    .option('--publishers <n>', 'fan-in: publishers', parseInteger)
    .option('--subscribers <n>', 'fan-out, fleet: subscribers', parseInteger)
    .option('--devices <n>', 'fleet: devices, one connection each', parseInteger)
    .option('--interval <ms>', 'fleet: milliseconds between two messages of one device (phases spread evenly)', parseInteger)
    .option('--share', 'fleet: the subscribers form one $share group (each message to one of them)')
    .option('--rate <msg/s>', 'latency: fixed publish rate', parseInteger)
    .option('--clients <n>', 'connections: idle clients', parseInteger)
    .option('--inflight <n>', 'QoS 1/2 packets in flight per connection (Receive Maximum of both sides)', parseInteger)
    .option('--window <n>', 'messages published but not yet delivered to every subscriber, at most', parseInteger)
    .option('--workers <n>', 'load-generator processes per side', parseInteger)
    .option('--hold <seconds>', 'connections: how long the idle clients are held', parseInteger)
    .option('--profile <dir>', 'write a V8 CPU profile of each embedded broker or relay round (node --cpu-prof) into this directory')
    .option('--json', 'print the report as JSON on stdout (progress still goes to stderr on a TTY)')
    .addHelpText(
      'after',
      `
Defaults: 3 rounds, QoS 0, 64-byte payload, ≤ 1,000,000 messages or 10 s per round, 8 publishers (fan-in),
8 subscribers (fan-out), 10,000 msg/s (latency), 1000 clients (connections), 32 in flight, window 4000;
fleet: 1000 devices × 1 message per 1000 ms for 10 s, 1 subscriber on fleet/<run>/+/temp.

Examples:
  mqttlab bench fan-in --compare embedded,mosquitto
  mqttlab bench fleet --devices 10000 --interval 1000 --qos 1 --compare embedded,mosquitto,relay
  mqttlab bench latency --qos 1 --rate 10000 --broker embedded
  mqttlab bench connections --clients 10000 --compare embedded,mosquitto --json > connections.json
  mqttlab bench fan-out --broker mqtt://127.0.0.1:1883 --rounds 1`,
    )
    .action(async (scenario: string, opts: BenchCliOptions) => {
      const options = resolveBenchOptions({
        scenario,
        brokers: opts.compare ?? [opts.broker],
        rounds: opts.rounds,
        qos: opts.qos as 0 | 1 | 2 | undefined,
        payload: opts.payload,
        count: opts.count,
        duration: opts.duration,
        publishers: opts.publishers,
        subscribers: opts.subscribers,
        devices: opts.devices,
        interval: opts.interval,
        share: opts.share,
        rate: opts.rate,
        clients: opts.clients,
        inflight: opts.inflight,
        window: opts.window,
        workers: opts.workers,
        hold: opts.hold,
        profileDir: opts.profile,
      });
      const bar = progressBar(process.stderr, scenario);
      const report = await runBench(options, (p) => bar.update(p)).finally(() => bar.done());
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderTable(report)}\n`);
    });
}
