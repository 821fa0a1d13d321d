import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerUrlFrom } from '../client/index.js';
import { createLinkProxy, describeFaults, formatLinkEventLine, formatPacketLine, summarizePacket, type LinkProxy } from '../link/index.js';
import { externalBroker, startKillableBroker, type KillableBroker } from './broker-process.js';
import { ChaosFlow } from './flow.js';
import type { BrokerKill, ChaosOptions, ChaosProgress, ChaosReport } from './options.js';

/** Starts the broker the options name. */
async function openBroker(options: ChaosOptions, dataDir: string): Promise<KillableBroker> {
  if (options.broker === 'embedded' || options.broker === 'mosquitto') return startKillableBroker(options.broker, dataDir);
  const url = brokerUrlFrom(options.broker)!;
  if (!url.startsWith('mqtt://') && !url.startsWith('tcp://')) throw new Error(`chaos relays plain TCP: ${url} is not mqtt://`);
  if (options.killBroker > 0) throw new Error('--kill-broker needs --broker embedded or mosquitto (a broker it started and can restart)');
  return externalBroker(url);
}

/**
 * Sends `messages` messages per QoS from a publisher to a persistent subscriber, both through links with
 * the given faults, SIGKILLs and restarts the broker `killBroker` times on the way, then repairs the links
 * and lets the subscribers catch up, and checks what arrived against each QoS contract. Bounded by `timeoutMs`.
 */
export async function runChaos(options: ChaosOptions, onProgress?: (progress: ChaosProgress) => void): Promise<ChaosReport> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mqttlab-chaos-'));
  let broker: KillableBroker | undefined;
  let proxy: LinkProxy | undefined;
  const flows: ChaosFlow[] = [];
  try {
    broker = await openBroker(options, dataDir);
    proxy = await createLinkProxy({ to: broker.url, faults: options.faults, seed: options.seed });
    return await new ChaosRun(options, broker, proxy, flows).run(onProgress);
  } finally {
    for (const flow of flows) flow.close();
    await proxy?.close();
    await broker?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** One run's moving parts and counts. */
class ChaosRun {
  private readonly started = Date.now();
  private readonly deadline: number;
  /** When the faults stop at the latest, leaving the rest of the time to the repaired link. */
  private readonly faultsDeadline: number;
  private readonly kills: BrokerKill[] = [];
  private cuts = 0;
  private publishing = true;

  constructor(
    private readonly options: ChaosOptions,
    private readonly broker: KillableBroker,
    private readonly proxy: LinkProxy,
    private readonly flows: ChaosFlow[],
  ) {
    this.deadline = this.started + options.timeoutMs;
    this.faultsDeadline = this.deadline - (options.repairMs ?? Math.min(15_000, options.timeoutMs / 4));
    const run = randomBytes(3).toString('hex');
    for (const qos of options.qos) {
      const settings = {
        url: proxy.url,
        topic: `mqttlab/chaos/${run}/qos${qos}`,
        clientIdPrefix: `chaos-${run}-q${qos}`,
        messages: options.messages,
        window: options.window,
        receiveMaximum: options.receiveMaximum,
      };
      flows.push(new ChaosFlow(qos, settings));
    }
    this.watchLinks();
  }

  async run(onProgress?: (progress: ChaosProgress) => void): Promise<ChaosReport> {
    await Promise.all(this.flows.map((f) => f.start(this.faultsDeadline)));
    const ticker = onProgress ? setInterval(() => onProgress(this.progress()), 1000) : undefined;
    try {
      const killer = this.killOnSchedule();
      await Promise.all(this.flows.map((f) => f.publishAll(this.faultsDeadline)));
      this.publishing = false;
      await killer;
      const faultsMs = Date.now() - this.started;
      // The link is repaired: what the subscribers still miss after catching up is lost, not just late.
      this.proxy.faults = {};
      this.trace('### faults off: the links are perfect from here on');
      for (const flow of this.flows) flow.tally.markRepair();
      await Promise.all(this.flows.map((f) => f.drain(this.deadline)));
      return this.report(faultsMs);
    } finally {
      this.publishing = false;
      clearInterval(ticker);
    }
  }

  private report(faultsMs: number): ChaosReport {
    const outcomes = this.flows.map((f) => f.tally.outcome());
    return {
      broker: this.broker.label,
      faults: describeFaults(this.options.faults),
      messagesPerQos: this.options.messages,
      receiveMaximum: this.options.receiveMaximum,
      outcomes,
      kills: this.kills,
      cuts: this.cuts,
      reconnects: {
        publishers: sum(this.flows.map((f) => f.reconnects.publisher)),
        subscribers: sum(this.flows.map((f) => f.reconnects.subscriber)),
      },
      faultsMs,
      durationMs: Date.now() - this.started,
      brokerErrors: this.broker.errors(),
      timedOut: Date.now() >= this.deadline,
    };
  }

  private progress(): ChaosProgress {
    return {
      elapsedMs: Date.now() - this.started,
      flows: this.flows.map((f) => ({
        qos: f.qos,
        sent: f.tally.sent,
        acknowledged: f.tally.acknowledgedCount,
        received: f.tally.receivedCount,
      })),
      cuts: this.cuts,
      kills: this.kills.length,
      repaired: !this.publishing,
    };
  }

  /** Counts cuts and DUP=1 deliveries per flow, and passes every packet to the trace. */
  private watchLinks(): void {
    const byTopic = new Map(this.flows.map((f) => [f.topic, f]));
    this.proxy.on('link', (e) => {
      if (e.kind === 'cut' && !e.detail.startsWith('broker unreachable')) this.cuts++;
      this.trace(formatLinkEventLine(e));
    });
    this.proxy.on('packet', (p) => {
      if (p.direction === 'to-client' && p.packet?.cmd === 'publish' && p.packet.dup) {
        const flow = byTopic.get(p.packet.topic);
        if (flow) flow.tally.dupFlags++;
      }
      if (this.options.trace) this.trace(formatPacketLine(summarizePacket(p)));
    });
  }

  private trace(line: string): void {
    this.options.trace?.(line);
  }

  /** Kills and restarts the broker `killBroker` times, at progress 1/(n+1), 2/(n+1), … of the messages. */
  private async killOnSchedule(): Promise<void> {
    const count = this.options.killBroker;
    const total = this.options.messages * this.flows.length;
    const progress = () => sum(this.flows.map((f) => (f.qos === 0 ? f.tally.sent : f.tally.acknowledgedCount))) / total;
    const going = () => this.publishing && Date.now() < this.faultsDeadline;
    for (let k = 1; k <= count; k++) {
      while (going() && progress() < k / (count + 1)) await new Promise((r) => setTimeout(r, 10));
      if (!going()) return;
      const atMs = Date.now() - this.started;
      const at = progress();
      this.trace(`### broker SIGKILL ${k} of ${count}`);
      await this.broker.kill();
      const down = Date.now();
      await this.broker.restart();
      this.kills.push({ atMs, progress: Math.round(at * 1000) / 1000, downMs: Date.now() - down });
      this.trace(`### broker restarted after ${Date.now() - down} ms`);
    }
  }
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
