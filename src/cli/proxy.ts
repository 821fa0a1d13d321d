import { Option, type Command } from 'commander';
import {
  createLinkProxy,
  describeFaults,
  formatLinkEventLine,
  formatPacketLine,
  parseCutOn,
  PcapWriter,
  summarizePacket,
  type CutOnRule,
  type LinkFaults,
  type PayloadFormat,
} from '../link/index.js';

import { onShutdown } from './shutdown.js';
import { parseInteger, parseNumber } from './util.js';

interface ProxyCommandOptions {
  listen: string;
  to: string;
  delay?: number;
  jitter?: number;
  rate?: number;
  cutEvery?: number;
  cutOn?: CutOnRule[];
  cutProb?: number;
  blackholeAfter?: number;
  seed: number;
  json?: boolean;
  payload: PayloadFormat;
  quiet?: boolean;
  pcap?: string;
}

/** Parses `[HOST:]PORT` (IPv6 in brackets: `[::1]:1884`). */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:(\[[^\]]+\]|[^:]+):)?(\d+)$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port > 65535) throw new Error(`--listen "${text}": expected [HOST:]PORT, e.g. 1884 or 127.0.0.1:1884`);
  return { host: (match[1] ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1'), port };
}

/** `mqttlab proxy`: a link emulator between MQTT clients and a broker that prints every packet. */
export function registerProxyCommand(program: Command): void {
  program
    .command('proxy')
    .description('relay MQTT between clients and a broker, print every packet both ways, and break the link on purpose')
    .option('--listen <[host:]port>', 'where clients connect', '127.0.0.1:1884')
    .option('--to <url>', 'the broker (mqtt://host:port or host:port; plain TCP)', 'mqtt://127.0.0.1:1883')
    .option('--delay <ms>', 'milliseconds added to every packet, each way', parseNumber)
    .option('--jitter <ms>', 'up to this many milliseconds more per packet, random (order kept, as TCP keeps it)', parseNumber)
    .option('--rate <bytes/s>', 'bandwidth each way in bytes per second (a 2,400 bit/s satellite link is 300)', parseNumber)
    .option('--cut-every <n>', 'let n packets through (both ways), then break the link on the next one', parseInteger)
    .option(
      '--cut-on <type[:to-broker|to-client]>',
      'break the link instead of forwarding the first such packet, e.g. puback:to-client (repeatable)',
      (v: string, all: CutOnRule[] = []) => [...all, parseCutOn(v)],
    )
    .option('--cut-prob <p>', 'probability of breaking the link at each packet', parseNumber)
    .option(
      '--blackhole-after <s>',
      'seconds after a client connects at which its link goes silent both ways, sockets left open (half-open)',
      parseNumber,
    )
    .option('--seed <n>', 'seed of jitter and cut-prob draws (same seed and traffic, same faults)', parseInteger, 1)
    .option('--json', 'one JSON object per line (packets and link events) instead of text')
    .addOption(new Option('--payload <format>', 'show payloads as').choices(['text', 'hex']).default('text'))
    .option('--quiet', 'print link events only, not every packet')
    .option('--pcap <file>', 'also write what crossed the link to a pcap file for Wireshark (decode as MQTT on the listen port)')
    .addHelpText(
      'after',
      `
A broken link closes both sides without DISCONNECT (RST), so the broker publishes the client's will and
an MQTT client reconnects; a silent link (--blackhole-after) keeps both sockets open and drops everything,
which only keep alive detects. Bytes are forwarded untouched; bytes that do not decode are shown as
MALFORMED and forwarded anyway (the broker decides).

Examples:
  mqttlab proxy --listen 1884 --to mqtt://127.0.0.1:1883            # watch every packet
  mosquitto_pub -V 5 -p 1884 -t t -m hi -q 1                        # ... of this client
  mqttlab proxy --listen 1884 --to localhost:1883 --cut-on puback:to-client   # QoS 1 resent with DUP
  mqttlab proxy --listen 1884 --rate 300 --delay 600                 # a 2,400 bit/s satellite link
  mqttlab proxy --listen 1884 --blackhole-after 5                    # half-open after 5 s: the will comes at 1.5 x keep alive
  mqttlab proxy --listen 1884 --json | jq -c 'select(.type == "PUBLISH")'
  mqttlab proxy --listen 1884 --pcap run.pcap -q; tshark -r run.pcap -d tcp.port==1884,mqtt
`,
    )
    .action(async (opts: ProxyCommandOptions) => {
      const faults: LinkFaults = {
        ...(opts.delay !== undefined && { delayMs: opts.delay }),
        ...(opts.jitter !== undefined && { jitterMs: opts.jitter }),
        ...(opts.rate !== undefined && { rateBytesPerSecond: opts.rate }),
        ...(opts.cutEvery !== undefined && { cutEvery: opts.cutEvery }),
        ...(opts.cutOn && { cutOn: opts.cutOn }),
        ...(opts.cutProb !== undefined && { cutProbability: opts.cutProb }),
        ...(opts.blackholeAfter !== undefined && { blackholeAfterSeconds: opts.blackholeAfter }),
      };
      const proxy = await createLinkProxy({ listen: parseListen(opts.listen), to: opts.to, faults, seed: opts.seed });
      const pcap = opts.pcap === undefined ? undefined : new PcapWriter(opts.pcap, proxy.port);
      if (pcap) {
        proxy.on('packet', (packet) => pcap.packet(packet));
        proxy.on('link', (event) => pcap.event(event));
      }
      const counts = { forwarded: 0, cut: 0, lost: 0, dropped: 0, malformed: 0 };
      const out = (line: string) => process.stdout.write(`${line}\n`);
      proxy.on('packet', (packet) => {
        counts[packet.fate]++;
        if (packet.malformed !== undefined) counts.malformed++;
        if (opts.quiet) return;
        const summary = summarizePacket(packet, opts.payload);
        out(opts.json ? JSON.stringify(summary) : formatPacketLine(summary));
      });
      proxy.on('link', (event) =>
        out(
          opts.json
            ? JSON.stringify({
                time: new Date(event.at).toISOString(),
                event: event.kind,
                connection: event.connection,
                clientId: event.clientId,
                detail: event.detail,
              })
            : formatLinkEventLine(event),
        ),
      );
      const log = opts.json ? console.error : console.log;
      log(`mqttlab proxy: clients connect to ${proxy.url}, relayed to ${opts.to}; faults: ${describeFaults(faults)}`);
      onShutdown(async () => {
        await proxy.close();
        pcap?.close();
        log(
          `proxy stopped: ${counts.forwarded} packets forwarded, ${counts.cut} cut, ${counts.lost} lost in transit, ` +
            `${counts.dropped} dropped by silence, ${counts.malformed} malformed`,
        );
      });
    });
}
