import type { Command } from 'commander';
import { type ExerciseReport, exerciseNames, formatReport, runExercises, selectExercises } from '../exercises/index.js';
import { resolveBroker } from './broker-target.js';

/** `mqttlab exercise <name|all>`: runs the seed's exercises and prints what crossed the wire. */
export function registerExerciseCommand(program: Command): void {
  program
    .command('exercise')
    .argument('[name]', `one of: ${exerciseNames().join(', ')}, or all`, 'all')
    .description("run the seed's exercises against a broker and show what really happened on the wire")
    .option('-b, --broker <url>', 'broker URL (default: $MQTT_URL, else an embedded broker started for the run)')
    .option('--json', 'print the structured results as JSON instead of text')
    .addHelpText(
      'after',
      `
Examples:
  mqttlab exercise                                 # all exercises on an embedded broker
  mqttlab exercise qos-levels --broker mqtt://localhost:1883   # against docker compose's Mosquitto
  MQTT_URL=mqtt://localhost:1883 mqttlab exercise basic-pubsub --json | jq '.[0].data'
Exit status: 0 when every expectation held, 1 when one did not (the failing lines say which).`,
    )
    .action(async (name: string, opts: { broker?: string; json?: boolean }) => {
      const names = selectExercises(name);
      const target = await resolveBroker(opts.broker);
      const broker = { url: target.url, label: target.label, shared: target.embedded === undefined };
      const onReport = opts.json ? undefined : (report: ExerciseReport) => console.log(`${formatReport(report)}\n`);
      const reports = await runExercises(names, broker, { onReport }).finally(() => target.close());
      if (opts.json) console.log(JSON.stringify(reports, jsonReplacer, 2));
      const failed = reports.flatMap((r) => r.checks.filter((c) => !c.ok).map((c) => `${r.exercise}: ${c.name}`));
      if (failed.length > 0) {
        console.error(`mqttlab: ${failed.length} expectation(s) failed:\n  ${failed.join('\n  ')}`);
        process.exitCode = 1;
      } else if (!opts.json) {
        console.log(`All ${reports.length} exercise(s) passed.`);
      }
    });
}

/** Buffers (payloads, correlation data) print as text when they are text, else as hex. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    const buffer = Buffer.from((value as { data: number[] }).data);
    const text = buffer.toString('utf8');
    return /^[\x20-\x7e]*$/.test(text) ? text : `0x${buffer.toString('hex')}`;
  }
  return value;
}
