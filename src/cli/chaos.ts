import { createWriteStream } from 'node:fs';
import type { Command } from 'commander';
import type { QoS } from 'mqtt-packet';
import { CHAOS_DEFAULTS, formatChaosReport, runChaos, type ChaosOptions } from '../chaos/index.js';
import type { LinkFaults } from '../link/index.js';
import { startStatusLine } from './status-line.js';
import { parseInteger, parseNumber } from './util.js';

interface ChaosCommandOptions {
  broker: string;
  qos: string;
  messages: number;
  cutEvery?: number;
  cutProb?: number;
  delay?: number;
  jitter?: number;
  killBroker: number;
  receiveMaximum: number;
  window: number;
  seed: number;
  timeout: number;
  json?: boolean;
  trace?: string;
}

/** Parses `0,1,2` into QoS levels. */
function parseQosList(text: string): QoS[] {
  const levels = text.split(',').map((s) => s.trim());
  if (levels.length === 0 || levels.some((l) => !['0', '1', '2'].includes(l)))
    throw new Error(`--qos "${text}": a comma-separated list of 0, 1 and 2`);
  return [...new Set(levels.map(Number) as QoS[])];
}

/** `mqttlab chaos`: checks each QoS guarantee through broken links and broker crashes. */
export function registerChaosCommand(program: Command): void {
  program
    .command('chaos')
    .description('check the QoS guarantees end to end through links that break and a broker that is killed')
    .option(
      '-b, --broker <embedded|mosquitto|url>',
      'embedded: mqttlab broker --data-dir in a child process; mosquitto: a local Mosquitto with persistence; or a URL (no --kill-broker)',
      CHAOS_DEFAULTS.broker,
    )
    .option('--qos <levels>', 'QoS levels to check, comma-separated', '0,1,2')
    .option('--messages <n>', 'messages per QoS level', parseInteger, CHAOS_DEFAULTS.messages)
    .option('--cut-every <k>', "break each client's link after every k packets (default 50 unless --cut-prob)", parseInteger)
    .option('--cut-prob <p>', 'break a link at each packet with this probability instead', parseNumber)
    .option('--delay <ms>', 'also delay every packet, each way', parseNumber)
    .option('--jitter <ms>', 'and up to this much more', parseNumber)
    .option('--kill-broker <n>', 'SIGKILL and restart the broker n times during the run', parseInteger, 0)
    .option(
      '--receive-maximum <n>',
      "the subscribers' Receive Maximum (a large one resends a whole window at every reconnect)",
      parseInteger,
      CHAOS_DEFAULTS.receiveMaximum,
    )
    .option('--window <n>', 'unacknowledged messages per publisher at most', parseInteger, CHAOS_DEFAULTS.window)
    .option('--seed <n>', 'seed of the link faults', parseInteger, CHAOS_DEFAULTS.seed)
    .option('--timeout <s>', 'end the run after this many seconds whatever happened', parseInteger, CHAOS_DEFAULTS.timeoutMs / 1000)
    .option('--json', 'print the report as JSON')
    .option('--trace <file>', 'write every packet on the links, the cuts and the broker kills to a file (to see why a contract broke)')
    .addHelpText(
      'after',
      `
Per QoS level a publisher sends n numbered messages to a subscriber with a persistent session (Clean
Start 0, Session Expiry 1 h, automatic reconnect), both MQTT.js clients connected through a link
emulator (mqttlab proxy) that breaks their connections. The report counts, per QoS: sent, acknowledged
(PUBACK / PUBCOMP), received, lost (acknowledged but never received; at QoS 0 sent but never received),
duplicated, reordered, and judges each against its contract:
  QoS 0 at most once: nothing duplicated; QoS 1 at least once: nothing acknowledged lost;
  QoS 2 exactly once: nothing acknowledged lost and nothing duplicated.
Exit status 1 when a contract is broken or the time ran out before every message was acknowledged.

Examples:
  mqttlab chaos                                            # 1,000 messages per QoS, links cut every 50 packets
  mqttlab chaos --kill-broker 3 --messages 2000            # and the embedded broker killed -9 three times
  mqttlab chaos --broker mosquitto --kill-broker 3         # the same against Mosquitto's persistence
  mqttlab chaos --broker mqtt://localhost:1883 --cut-prob 0.02 --qos 1,2 --json
`,
    )
    .action(async (opts: ChaosCommandOptions) => {
      const faults: LinkFaults = {
        ...(opts.cutProb !== undefined ? { cutProbability: opts.cutProb } : { cutEvery: opts.cutEvery ?? 50 }),
        ...(opts.delay !== undefined && { delayMs: opts.delay }),
        ...(opts.jitter !== undefined && { jitterMs: opts.jitter }),
      };
      const options: ChaosOptions = {
        broker: opts.broker,
        qos: parseQosList(opts.qos),
        messages: opts.messages,
        faults,
        killBroker: opts.killBroker,
        seed: opts.seed,
        receiveMaximum: Math.max(1, opts.receiveMaximum),
        window: Math.max(1, opts.window),
        timeoutMs: opts.timeout * 1000,
      };
      const trace = opts.trace === undefined ? undefined : createWriteStream(opts.trace);
      if (trace) options.trace = (line) => trace.write(`${line}\n`);
      let latest = '';
      const status = startStatusLine(() => latest);
      const report = await runChaos(options, (p) => {
        const flows = p.flows
          .map((f) => `QoS ${f.qos} ${f.qos === 0 ? f.sent : f.acknowledged}/${options.messages} → ${f.received}`)
          .join(' | ');
        latest = `${(p.elapsedMs / 1000).toFixed(0)} s  ${flows} | cuts ${p.cuts} | kills ${p.kills}/${options.killBroker}`;
      }).finally(() => {
        status.stop();
        trace?.end();
      });
      const code = report.outcomes.some((o) => o.verdict !== 'pass') ? 1 : 0;
      console.log(opts.json ? JSON.stringify(report, null, 2) : formatChaosReport(report));
      process.exitCode = code;
    });
}
