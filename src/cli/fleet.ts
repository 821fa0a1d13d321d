import type { Command } from 'commander';
import { resolveBroker } from './broker-target.js';
import type { LinkProfile } from '../link/index.js';
import { fleetLinkTotals, startFleet, type Fleet, type FleetLinkTotals } from '../telemetry/index.js';
import { connectionLog } from './connection-log.js';
import { fmt, startStatusLine } from './status-line.js';
import { onShutdown } from './shutdown.js';
import { integerFrom, linkProfilesHelp, parseInteger, parseLinkProfile } from './util.js';

interface FleetCommandOptions {
  devices: number;
  sites?: number;
  interval: number;
  chaos?: boolean;
  chaosEvery: number;
  seed: number;
  broker?: string;
  duration?: number;
  json?: boolean;
  verbose?: boolean;
  link?: LinkProfile;
}

/** `mqttlab fleet`: simulated devices against a broker until Ctrl-C or `--duration`. */
export function registerFleetCommand(program: Command): void {
  program
    .command('fleet')
    .description('run a fleet of simulated IoT devices: presence with a will, telemetry, alerts, request/reply commands')
    .option('-d, --devices <count>', 'devices, each with its own MQTT connection', integerFrom(1), 50)
    .option('--sites <count>', 'sites the devices are spread over (default: one per 20 devices)', parseInteger)
    .option('--interval <ms>', 'milliseconds between two rounds of readings of one device (3 readings each)', integerFrom(10), 2000)
    .option('--chaos', 'now and then drop a device without DISCONNECT (its will says offline) and bring it back')
    .option('--chaos-every <ms>', 'with --chaos: milliseconds between two drops', parseInteger, 5000)
    .option('--seed <n>', 'seed of the sensor models and of chaos (same seed, same readings)', parseInteger, 1)
    .option(
      '--link <profile>',
      'each device through its own emulated link (lan, wifi, cellular, satellite, flaky), with a persistent session and backoff',
      parseLinkProfile,
    )
    .option('-b, --broker <url>', 'broker URL (default: $MQTT_URL, else an embedded broker started for the run)')
    .option('--duration <seconds>', 'stop after this many seconds (default: run until Ctrl-C)', parseInteger)
    .option('--json', 'print a JSON summary on stdout when the fleet stops (no status line)')
    .option('-v, --verbose', 'log chaos drops and returns, and errors')
    .addHelpText(
      'after',
      `
Each device dev-NNN at site-K:
  devices/<id>/status                 retained "online"; its will (retained "offline", QoS 1) says offline
                                      when the connection drops without DISCONNECT
  telemetry/<site>/<id>/<metric>      {"v","unit","ts","seq","run"} at QoS 0: temperature, humidity, battery
  alerts/<site>/<id>                  {"id","type","message","v","ts"} at QoS 1 (high temperature, low battery)
  commands/<id>/<command>             answered on the request's Response Topic with its Correlation Data,
                                      at QoS 2: ping, status, set-interval {"intervalMs"}, alert {"message"}

Examples:
  mqttlab fleet --devices 200 --interval 1000 --broker mqtt://localhost:1883
  mqttlab fleet --devices 20 --chaos -v
  mqttlab fleet --devices 500 --duration 60 --json | jq .sent
  mosquitto_rr -V 5 -t commands/dev-001/ping -e replies/me -m '{}'    # ask a device, print its reply
  mqttlab fleet --devices 20 --link flaky --duration 30 --json | jq .links.totals

Link profiles (--link; delay and jitter per packet each way, rate per direction, cuts drawn per packet):
${linkProfilesHelp()}
With --link a device keeps a persistent session (Clean Start 0, Session Expiry 300 s), reconnects after
125–250 ms, then after doubling delays up to 8 s (jittered, seeded by --seed), and puts its link and
reconnect count in its status's user properties. Readings carry "seq" and "run", so ingestion counts the
QoS 0 readings lost; alerts carry "id", so a QoS 1 alert delivered twice is stored once and counted
(dashboard Links panel, /api/stats "links" of mqttlab ingest or mqttlab start).
`,
    )
    .action(async (opts: FleetCommandOptions) => {
      const target = await resolveBroker(opts.broker, { websocket: true });
      const log = (line: string) => (opts.json ? console.error(line) : console.log(line));
      const via = opts.link ? ` over ${opts.link.name} links` : '';
      const ws = target.embedded?.wsUrl ? ` (WebSocket ${target.embedded.wsUrl})` : '';
      log(`mqttlab fleet: ${opts.devices} devices${via} → ${target.label}${ws}`);
      const startedAt = Date.now();
      // Without a terminal there is no status line: say when devices lose the broker and come back.
      const logConnection = !process.stdout.isTTY || opts.verbose ? connectionLog(log) : undefined;
      let fleet: Fleet;
      try {
        fleet = await startFleet({
          url: target.url,
          devices: opts.devices,
          sites: opts.sites,
          intervalMs: opts.interval,
          seed: opts.seed,
          chaos: opts.chaos ? { everyMs: opts.chaosEvery } : false,
          link: opts.link,
          onEvent: (event) => {
            if (event.type === 'connected') {
              if (process.stderr.isTTY && (event.done % 10 === 0 || event.done === event.total))
                process.stderr.write(`\r\x1b[Kconnecting ${event.done}/${event.total}`);
              if (process.stderr.isTTY && event.done === event.total) process.stderr.write('\n');
            } else if (event.type === 'lost' || event.type === 'reconnected') {
              logConnection?.(event.device, event.type === 'lost' ? { state: 'lost', reason: event.reason } : { state: 'reconnected' });
            } else if (opts.verbose) {
              console.error(
                `${new Date().toISOString()} ${event.type} ${event.device}${event.type === 'error' ? `: ${event.message}` : ''}`,
              );
            }
          },
        });
      } catch (error) {
        await target.close();
        throw error;
      }
      const upIn = ((Date.now() - startedAt) / 1000).toFixed(1);
      log(`  all ${opts.devices} online in ${upIn} s · Ctrl-C stops (each device says offline, then DISCONNECT)`);
      const runStart = Date.now();
      let lastCount = 0;
      let lastAt = runStart;
      const status = opts.json
        ? { stop: () => {} }
        : startStatusLine(() => {
            const s = fleet.sent;
            const now = Date.now();
            const total = s.qos0 + s.qos1 + s.qos2;
            const rate = ((total - lastCount) * 1000) / Math.max(1, now - lastAt);
            lastCount = total;
            lastAt = now;
            const counts = `telemetry ${fmt(s.telemetry)} · alerts ${fmt(s.alerts)} · replies ${fmt(s.replies)} · errors ${fmt(s.errors)}`;
            const link = opts.link ? ` · ${linkLine(fleetLinkTotals(fleet.links()))}` : '';
            return `● ${fleet.online()}/${opts.devices} online · ${rate.toFixed(0)} msg/s · ${counts}${link}`;
          });
      let stopping = false;
      const stop = async () => {
        if (stopping) return;
        stopping = true;
        status.stop();
        await fleet.stop();
        await target.close();
        const seconds = (Date.now() - runStart) / 1000;
        const devices = fleet.links();
        const totals = fleetLinkTotals(devices);
        const summary = {
          devices: opts.devices,
          seconds: Math.round(seconds * 10) / 10,
          sent: fleet.sent,
          messagesPerSecond: Math.round(((fleet.sent.qos0 + fleet.sent.qos1 + fleet.sent.qos2) / seconds) * 10) / 10,
          ...(opts.link && { links: { profile: opts.link.name, faults: opts.link.faults, totals, devices } }),
        };
        if (opts.json) console.log(JSON.stringify(summary, null, 2));
        else {
          const sent = `${fmt(fleet.sent.telemetry)} readings, ${fmt(fleet.sent.alerts)} alerts, ${fmt(fleet.sent.replies)} replies`;
          console.log(`fleet stopped after ${summary.seconds} s: ${sent} (${summary.messagesPerSecond} msg/s)`);
          if (opts.link) console.log(`  ${opts.link.name} links: ${linkLine(totals)}`);
        }
      };
      if (opts.duration !== undefined) setTimeout(() => stop().then(() => process.exit(0)), opts.duration * 1000);
      onShutdown(stop);
    });
}

function linkLine(t: FleetLinkTotals): string {
  const lost = `${fmt(t.readingsLostOnLink)} readings lost on the link`;
  return `${fmt(t.cuts)} cuts · ${fmt(t.reconnects)} reconnects · ${lost} · ${fmt(t.alertsResent)} alerts resent`;
}
