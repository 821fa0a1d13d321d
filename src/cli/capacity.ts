import { InvalidArgumentError, type Command } from 'commander';
import { capacityVerdict, describeStep, measureCapacity, type CapacityBroker } from '../telemetry/index.js';
import { integerFrom } from './util.js';

interface CapacityCommandOptions {
  devices: number[];
  interval: number;
  seconds: number;
  workers: number;
  broker: CapacityBroker;
  store: string;
  ingestProcesses: number;
  json?: boolean;
}

/** `mqttlab capacity`: the largest fleet this machine sustains with ingestion keeping up. */
export function registerCapacityCommand(program: Command): void {
  program
    .command('capacity')
    .description(
      'measure the largest device fleet one machine sustains with ingestion keeping up (broker, ingest, fleet in separate processes)',
    )
    .option(
      '-d, --devices <list>',
      'fleet sizes to try in order, comma separated; stops at the first that does not keep up',
      parseList,
      [100, 250, 500, 1000, 2000],
    )
    .option('--interval <ms>', 'milliseconds between two rounds of readings of a device', integerFrom(10), 1000)
    .option('--seconds <n>', 'seconds of load per fleet size', integerFrom(1), 30)
    .option('--workers <count>', 'ingest workers per ingest process', integerFrom(1, 64), 3)
    .option('-b, --broker <kind>', 'embedded (ours, in its own process) or mosquitto (a local one)', parseBroker, 'embedded')
    .option(
      '--store <where>',
      "sqlite (a temp file), postgres (a temporary local PostgreSQL, Debian's, fsync on) or a postgresql:// URL",
      parseStore,
      'sqlite',
    )
    .option(
      '--ingest-processes <count>',
      'ingest processes in the $share/ingest group (more than 1 needs --store postgres or a URL)',
      integerFrom(1, 64),
      1,
    )
    .option('--json', 'print the steps as JSON on stdout')
    .addHelpText(
      'after',
      `
Kept up = no QoS 0 reading lost between fleet and store, mean ingest lag (receive − reading time) under
1 s over the last 10 s, and no upward lag trend over the second half of the step. Loopback only; every
step is bounded by --seconds plus at most 2 minutes to connect the fleet.

Examples:
  mqttlab capacity --devices 500,1000,2000,4000 --interval 1000 --seconds 30
  mqttlab capacity --broker mosquitto --json | jq '.[] | {devices, keptUp}'
  mqttlab capacity --store postgres --ingest-processes 2 --devices 1000,2000,4000
`,
    )
    .action(async (opts: CapacityCommandOptions) => {
      const steps = await measureCapacity({
        devices: opts.devices,
        intervalMs: opts.interval,
        seconds: opts.seconds,
        workers: opts.workers,
        broker: opts.broker,
        store: opts.store,
        ingestProcesses: opts.ingestProcesses,
        onProgress: (line) => console.error(process.stderr.isTTY ? `\r\x1b[K${line}` : line),
        onStatus: process.stderr.isTTY
          ? (line) => process.stderr.write(`\r\x1b[K${line}`.slice(0, (process.stderr.columns || 120) + 3))
          : undefined,
      });
      if (opts.json) {
        console.log(JSON.stringify(steps, null, 2));
        return;
      }
      const processes = `${opts.ingestProcesses} ingest process${opts.ingestProcesses > 1 ? 'es' : ''}`;
      const store = opts.store.startsWith('postgresql:') ? 'postgresql' : opts.store;
      console.log(capacityVerdict(steps, `${opts.broker} broker, ${processes} × ${opts.workers} workers, ${store}`));
      for (const s of steps) console.log(`  ${describeStep(s)}`);
    });
}

function parseList(value: string): number[] {
  const list = value.split(',').map((v) => Number(v.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1))
    throw new InvalidArgumentError(`"${value}" is not a comma-separated list of positive integers`);
  return list;
}

function parseStore(value: string): string {
  if (value !== 'sqlite' && value !== 'postgres' && !/^postgres(ql)?:\/\//.test(value))
    throw new InvalidArgumentError(`"${value}" is not sqlite, postgres or a postgresql:// URL`);
  return value;
}

function parseBroker(value: string): CapacityBroker {
  if (value !== 'embedded' && value !== 'mosquitto') throw new InvalidArgumentError(`"${value}" is not embedded or mosquitto`);
  return value;
}
