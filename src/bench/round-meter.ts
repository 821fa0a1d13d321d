import { monotonicMicros } from './load-client.js';
import { targetCpuSeconds, targetRssKb, type BenchTarget } from './targets.js';

/*
 * What a round measures around its load, the same for every scenario: wall time, the broker process's CPU
 * and memory (summed over the node processes of a cluster and its nats-server), the parent's own CPU; and the wait for the
 * subscribers to receive what was sent.
 */

/** A round's wall time, the broker's CPU seconds and RSS (KB), and the parent's CPU seconds. */
export interface RoundTotals {
  wall: number;
  brokerCpu?: number;
  brokerRss?: number;
  parentCpu: number;
}

/** Counts from now: `t0` is the start in microseconds; `totals()` what passed since. */
export class RoundMeter {
  readonly t0 = monotonicMicros();
  private readonly brokerCpu0: number | undefined;
  private readonly parentCpu0 = process.cpuUsage();

  /** A broker that is not our child (a URL) has no broker figures. */
  constructor(private readonly target: BenchTarget) {
    this.brokerCpu0 = targetCpuSeconds(target);
  }

  /** Seconds since the start. */
  elapsed(): number {
    return (monotonicMicros() - this.t0) / 1e6;
  }

  totals(): RoundTotals {
    const parentCpu = process.cpuUsage(this.parentCpu0);
    return {
      wall: this.elapsed(),
      brokerCpu: this.brokerCpu0 === undefined ? undefined : targetCpuSeconds(this.target)! - this.brokerCpu0,
      brokerRss: targetRssKb(this.target),
      parentCpu: (parentCpu.user + parentCpu.system) / 1e6,
    };
  }
}

/**
 * The wait for the subscribers: `progressed()` is called on each report of theirs; `until(expected)`
 * resolves once `received()` reached `expected`, or after `seconds` with whatever arrived (lost is counted).
 */
export class DeliveryWait {
  private check = () => {};

  constructor(
    private readonly received: () => number,
    private readonly seconds: number,
  ) {}

  progressed(): void {
    this.check();
  }

  until(expected: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.seconds * 1000);
      this.check = () => {
        if (this.received() >= expected) {
          clearTimeout(timer);
          resolve();
        }
      };
      this.check();
    });
  }
}
