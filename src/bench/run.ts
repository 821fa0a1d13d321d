import { cpus, loadavg } from 'node:os';
import { runConnections, FD_MARGIN } from './connections.js';
import { runFleet } from './fleet.js';
import { runFlow } from './flow.js';
import type { Metrics } from './metrics.js';
import type { BenchOptions } from './options.js';
import { ratioOfMedians, summarize, type Ratio, type Summary } from './stats.js';
import { startTarget } from './targets.js';

/** One round against one broker. */
export interface RoundResult {
  round: number;
  broker: string;
  metrics: Metrics;
  /** Why clients ended early (reason → clients); empty when none did. */
  errors: Record<string, number>;
}

/** Where a run was taken, to judge its noise. */
export interface MachineNotes {
  cpus: number;
  cpuModel: string;
  node: string;
  /** 1-minute load average before and after the run (other work on the machine shows here). */
  loadBefore: number;
  loadAfter: number;
}

/** A whole benchmark run: settings, every round, medians with min–max, and ratios when comparing. */
export interface BenchReport {
  settings: BenchOptions;
  machine: MachineNotes;
  rounds: RoundResult[];
  /** Per broker, per metric. */
  summary: Record<string, Record<string, Summary>>;
  /** First broker over second, per metric: ratio of medians and its spread; only with --compare. */
  ratios?: Record<string, Ratio>;
  /** First broker over each of the others (the second included), per metric; only with --compare. */
  ratiosTo?: Record<string, Record<string, Ratio>>;
}

/** What the progress display is told. */
export interface BenchProgress {
  /** 1-based index over all broker rounds. */
  step: number;
  steps: number;
  broker: string;
  /** 0..1 within the step. */
  fraction: number;
}

/**
 * Runs the rounds, alternating the brokers (A B A B ...) so that both see the same noise of a shared
 * machine; every round starts its broker afresh and stops it afterwards.
 */
export async function runBench(o: BenchOptions, onProgress: (p: BenchProgress) => void = () => {}): Promise<BenchReport> {
  const loadBefore = loadavg()[0]!;
  const rounds: RoundResult[] = [];
  const steps = o.rounds * o.brokers.length;
  const clients =
    o.scenario === 'connections' ? o.clients : o.scenario === 'fleet' ? o.devices + o.subscribers : o.publishers + o.subscribers;
  const openFiles = clients + FD_MARGIN;
  for (let round = 1; round <= o.rounds; round++) {
    for (const broker of o.brokers) {
      const step = rounds.length + 1;
      onProgress({ step, steps, broker, fraction: 0 });
      const settings = { maxQueued: 1_000_000, inflight: o.inflight, openFiles, profileDir: o.profileDir };
      const target = await startTarget(broker, settings, clients);
      try {
        const report = (fraction: number) => onProgress({ step, steps, broker, fraction: Math.min(1, fraction) });
        const scenario = o.scenario === 'connections' ? runConnections : o.scenario === 'fleet' ? runFleet : runFlow;
        const outcome = await scenario(target, o, report);
        rounds.push({ round, broker, ...outcome });
      } finally {
        await target.close();
      }
      onProgress({ step, steps, broker, fraction: 1 });
    }
  }
  const summary: BenchReport['summary'] = {};
  for (const broker of o.brokers) {
    summary[broker] = {};
    const mine = rounds.filter((r) => r.broker === broker);
    for (const name of Object.keys(mine[0]!.metrics)) {
      const values = mine.map((r) => r.metrics[name]).filter((v): v is number => typeof v === 'number');
      if (values.length > 0) summary[broker]![name] = summarize(values);
    }
  }
  let ratiosTo: BenchReport['ratiosTo'];
  if (o.brokers.length > 1) {
    ratiosTo = {};
    const [first, ...others] = o.brokers as [string, ...string[]];
    const values = (broker: string, name: string) =>
      rounds
        .filter((r) => r.broker === broker)
        .map((r) => r.metrics[name])
        .filter((v): v is number => typeof v === 'number');
    for (const other of others) {
      const ratios: Record<string, Ratio> = {};
      for (const name of Object.keys(summary[first]!)) {
        if (summary[other]![name]) ratios[name] = ratioOfMedians(values(first, name), values(other, name));
      }
      ratiosTo[other] = ratios;
    }
  }
  const machine: MachineNotes = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? '?',
    node: process.version,
    loadBefore,
    loadAfter: loadavg()[0]!,
  };
  return { settings: o, machine, rounds, summary, ratios: ratiosTo?.[o.brokers[1]!], ratiosTo };
}
