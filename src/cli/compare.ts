import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { generateComparisonReport, openComparison, renderHtml, renderMarkdown, renderText } from '../comparison/index.js';
import { terminalWidth } from '../util/index.js';
import { parseInteger } from './util.js';

interface CompareOptions {
  broker?: string;
  mosquitto?: boolean;
  rabbitmq: boolean;
  rabbitmqUrl?: string;
  out?: string;
  force?: boolean;
  json?: boolean;
  messages: number;
  latencySamples?: number;
}

/** What --out writes. */
const OUT_FILES = ['comparison.md', 'comparison.html'];

/** `mqttlab compare`: exercise 5, the measured protocol comparison. */
export function registerCompareCommand(program: Command): void {
  program
    .command('compare')
    .description(
      'compare MQTT, Kafka, RabbitMQ (AMQP) and Cloud Pub/Sub: bytes on the wire, latency, throughput, guarantees — ' +
        'measured where the servers are here, computed from the specs or cited otherwise',
    )
    .option('-b, --broker <url>', 'measure MQTT on this broker (default: an embedded broker started for the run)')
    .option('--mosquitto', 'also measure a Mosquitto started on loopback (marked "not measured" when not installed)')
    .option('--no-rabbitmq', 'do not start RabbitMQ (AMQP is then marked "not measured")')
    .option('--rabbitmq-url <url>', 'measure AMQP on this RabbitMQ instead of starting one (amqp://user:pass@host:port)')
    .option('-o, --out <dir>', 'write comparison.md and comparison.html (self-contained, with bar charts) into this directory')
    .option('--force', 'with --out: replace comparison.md/.html that are already there (e.g. the committed docs/)')
    .option('--json', 'print the report as JSON instead of text')
    .option('--messages <n>', 'messages per throughput burst', parseInteger, 5000)
    .option('--latency-samples <n>', 'sequential messages timed for latency (default: min(500, messages))', parseInteger)
    .addHelpText(
      'after',
      `
RabbitMQ: when Debian's rabbitmq-server is installed, a private node is started on a free loopback port
(own node name, data, logs, epmd port and Erlang cookie in a temp dir) and stopped afterwards.

Examples:
  mqttlab compare                          # embedded broker (+ RabbitMQ if installed), text report
  mqttlab compare --mosquitto --out report/          # also Mosquitto; writes report/comparison.md and .html
  mqttlab compare --mosquitto --out docs/ --force    # regenerates the committed docs/comparison.*
  mqttlab compare --json | jq '.overhead.rows'
Exit status: 1 when a counted byte size disagrees with the spec or load balancing misbehaved.`,
    )
    .action(async (opts: CompareOptions) => {
      const log = (line: string) => process.stderr.write(`${line}\n`);
      // Checked before anything starts: a run takes a while, and the committed docs/ must not go by accident.
      if (opts.out && !opts.force) {
        const existing = OUT_FILES.map((f) => join(opts.out!, f)).filter((f) => existsSync(f));
        if (existing.length > 0)
          throw new Error(
            `${existing.join(' and ')} already exist${existing.length === 1 ? 's' : ''}: ` +
              'pass --force to replace, or --out another directory',
          );
      }
      const { ctx, close } = await openComparison({
        broker: opts.broker,
        mosquitto: opts.mosquitto,
        rabbitmq: opts.rabbitmqUrl ?? opts.rabbitmq,
        messages: opts.messages,
        latencySamples: opts.latencySamples,
        log,
      });
      const command = ['mqttlab compare', ...process.argv.slice(3)].join(' ');
      const report = await generateComparisonReport(ctx, { command, log }).finally(() => close());
      if (opts.out) {
        mkdirSync(opts.out, { recursive: true });
        writeFileSync(join(opts.out, 'comparison.md'), renderMarkdown(report));
        writeFileSync(join(opts.out, 'comparison.html'), renderHtml(report));
        log(`wrote ${OUT_FILES.map((f) => join(opts.out!, f)).join(' and ')}`);
      }
      console.log(opts.json ? JSON.stringify(report, null, 2) : renderText(report, terminalWidth()));
      const failed = report.checks.filter((c) => !c.ok);
      if (failed.length > 0) {
        console.error(
          `mqttlab: ${failed.length} check(s) failed:\n  ${failed.map((c) => `${c.name}${c.detail ? ` — ${c.detail}` : ''}`).join('\n  ')}`,
        );
        process.exitCode = 1;
      }
    });
}
