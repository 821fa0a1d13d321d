import { Command } from 'commander';

type Register = (program: Command) => void;

/**
 * The commands in the order `--help` lists them, each loaded only when needed: `mqttlab pub` should not
 * load the comparison, the telemetry store or the benchmark before sending one message.
 */
const COMMANDS: ReadonlyArray<[name: string, load: () => Promise<Register>]> = [
  ['start', async () => (await import('./start.js')).registerStartCommand],
  ['broker', async () => (await import('./broker.js')).registerBrokerCommand],
  ['exercise', async () => (await import('./exercise.js')).registerExerciseCommand],
  ['pub', async () => (await import('./pub.js')).registerPubCommand],
  ['sub', async () => (await import('./sub.js')).registerSubCommand],
  ['req', async () => (await import('./req.js')).registerReqCommand],
  ['fleet', async () => (await import('./fleet.js')).registerFleetCommand],
  ['ingest', async () => (await import('./ingest.js')).registerIngestCommand],
  ['dashboard', async () => (await import('./dashboard.js')).registerDashboardCommand],
  ['capacity', async () => (await import('./capacity.js')).registerCapacityCommand],
  ['compare', async () => (await import('./compare.js')).registerCompareCommand],
  ['bench', async () => (await import('./bench.js')).registerBenchCommand],
  ['proxy', async () => (await import('./proxy.js')).registerProxyCommand],
  ['chaos', async () => (await import('./chaos.js')).registerChaosCommand],
];

/** Names of every command. */
export const COMMAND_NAMES: readonly string[] = COMMANDS.map(([name]) => name);

/**
 * `mqttlab` with its commands: only `only` when it names one, else all (for help and errors). A short flag
 * means one thing in every command (-b broker, -d devices, -p a port to listen on, -q QoS, -t topic,
 * -v verbose …; test/cli/flags.test.ts checks it), so `--version` has no short form: -V is the MQTT
 * protocol version of the client commands.
 */
export async function buildProgram(only?: string): Promise<Command> {
  const program = new Command('mqttlab')
    .description('MQTT 5 end to end: an embeddable broker, the seed exercises, a telemetry system and honest numbers')
    .version('0.1.0', '--version');
  const wanted = COMMANDS.some(([name]) => name === only) ? COMMANDS.filter(([name]) => name === only) : COMMANDS;
  for (const [, load] of wanted) (await load())(program);
  return program;
}
