import type { Command } from 'commander';
import { BROKER_VERSION } from '../broker/index.js';
import { identifyBroker, redactUrl } from '../client/index.js';
import {
  checkTitle,
  EXERCISE_SUMMARIES,
  exerciseNames,
  formatReport,
  outcome,
  runExercises,
  selectExercises,
  type ExerciseBroker,
  type ExerciseReport,
} from '../exercises/index.js';
import { terminalWidth } from '../util/index.js';
import { resolveBroker, type BrokerTarget } from './broker-target.js';
import { didYouMean } from './util.js';

interface ExerciseOptions {
  broker?: string;
  json?: boolean;
  list?: boolean;
  strict?: boolean;
  verbose?: boolean;
}

/** `mqttlab exercise <name|all>`: runs the seed's exercises and prints what crossed the wire. */
export function registerExerciseCommand(program: Command): void {
  program
    .command('exercise')
    .argument('[name]', `one of: ${exerciseNames().join(', ')}, or all`, 'all')
    .description("run the seed's exercises against a broker and show what really happened on the wire")
    .option('-b, --broker <url>', 'broker URL (default: $MQTT_URL, else an embedded broker started for the run)')
    .option('--json', 'print the structured results as JSON instead of text')
    .option('--list', 'list the exercises and what each shows')
    .option('--strict', "count the broker's deviations from the spec as failures (exit 1)")
    .option('-v, --verbose', 'print long packet traces in full')
    .addHelpText(
      'after',
      `
Examples:
  mqttlab exercise                                 # all exercises on an embedded broker
  mqttlab exercise qos-levels --broker mqtt://localhost:1883   # against docker compose's Mosquitto
  MQTT_URL=mqtt://localhost:1883 mqttlab exercise basic-pubsub --json | jq '.[0].data'

Each check is an expectation of the program, or a statement of the spec the broker must keep ([MQTT-x.y.z-n]).
A broker that does not keep one is listed as a deviation: that is the broker's behaviour, not a mistake of yours.
Exit status: 0 when every expectation held (deviations are listed, not counted), 1 when one failed or, with
--strict, when the broker deviated from the spec.`,
    )
    .action(async (name: string, opts: ExerciseOptions) => {
      if (opts.list) {
        const width = Math.max(...exerciseNames().map((n) => n.length));
        for (const n of exerciseNames()) console.log(`${n.padEnd(width)}  ${EXERCISE_SUMMARIES[n as keyof typeof EXERCISE_SUMMARIES]}`);
        return;
      }
      if (name !== 'all' && !exerciseNames().includes(name)) {
        throw new Error(`unknown exercise "${name}"${didYouMean(name, exerciseNames())} (mqttlab exercise --list shows all)`);
      }
      const names = selectExercises(name);
      const target = await resolveBroker(opts.broker);
      const onReport = opts.json ? undefined : (report: ExerciseReport) => console.log(`${formatReport(report, terminalWidth())}\n`);
      const reports = await describeBroker(target)
        .then((broker) => runExercises(names, broker, { verbose: opts.verbose, onReport }))
        .finally(() => target.close());
      if (opts.json) console.log(JSON.stringify(reports, jsonReplacer, 2));
      process.exitCode = summarize(reports, opts);
    });
}

/** The broker as the exercises name it: what it says on `$SYS/broker/version`, and where. */
async function describeBroker(target: BrokerTarget): Promise<ExerciseBroker> {
  const where = redactUrl(target.url);
  if (target.embedded)
    return { url: target.url, name: `${BROKER_VERSION} (embedded)`, label: `${BROKER_VERSION}, embedded, at ${where}`, shared: false };
  // Connecting here also turns an unreachable broker into one line before any exercise starts.
  const version = await identifyBroker(target.url);
  const label = version ? `${version} at ${where}` : `broker at ${where} (no $SYS/broker/version)`;
  return { url: target.url, name: version ?? 'the broker', label, shared: true };
}

/** The closing lines: failures and deviations, each with its exercise; returns the exit status. */
function summarize(reports: ExerciseReport[], opts: ExerciseOptions): number {
  const list = (kind: 'failure' | 'deviation') =>
    reports.flatMap((r) =>
      r.checks.filter((c) => outcome(c) === kind).map((c) => `${r.exercise}: ${checkTitle(c)}${c.detail ? ` (${c.detail})` : ''}`),
    );
  const failures = list('failure');
  const deviations = list('deviation');
  // With --json, stdout is the JSON alone; the summary goes to stderr.
  const say = opts.json ? console.error : console.log;
  if (deviations.length > 0) {
    say(
      `${reports[0]?.broker ?? 'The broker'} deviated from the spec in ${deviations.length} place(s) — ` +
        `the broker's behaviour, not a failure of the exercise${opts.strict ? '' : ' (--strict counts them as failures)'}:\n` +
        `  ${deviations.join('\n  ')}`,
    );
  }
  if (failures.length > 0) {
    console.error(`mqttlab: ${failures.length} expectation(s) failed:\n  ${failures.join('\n  ')}`);
    return 1;
  }
  if (opts.strict && deviations.length > 0) {
    console.error(`mqttlab: ${deviations.length} deviation(s) from the spec, and --strict counts them as failures`);
    return 1;
  }
  if (!opts.json)
    say(
      `All ${reports.length} exercise(s) ran: every expectation held` +
        `${deviations.length > 0 ? `, ${deviations.length} deviation(s) of the broker listed above` : ''}.`,
    );
  return 0;
}

/** Buffers (payloads, correlation data) print as text when they are text, else as hex. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (
    value &&
    typeof value === 'object' &&
    (value as { type?: string }).type === 'Buffer' &&
    Array.isArray((value as { data?: unknown }).data)
  ) {
    const buffer = Buffer.from((value as { data: number[] }).data);
    const text = buffer.toString('utf8');
    return /^[\x20-\x7e]*$/.test(text) ? text : `0x${buffer.toString('hex')}`;
  }
  return value;
}
