import * as hdr from 'hdr-histogram-js';

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** Highest latency recorded, in microseconds (60 s); larger values are clamped to it. */
const HIGHEST_US = 60_000_000;

/** An HDR histogram of latencies recorded in microseconds (3 significant digits). */
export class LatencyHistogram {
  private readonly histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 3,
  });

  /** Records one latency in microseconds (below 1 µs counts as 1, above 60 s as 60 s). */
  record(microseconds: number): void {
    this.histogram.recordValue(Math.min(HIGHEST_US, Math.max(1, Math.round(microseconds))));
  }

  /** Adds every value of another histogram (the subscribers of other processes). */
  add(other: LatencyHistogram): void {
    this.histogram.add(other.histogram);
  }

  /** The histogram as compressed base64, to send to another process. */
  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.histogram);
  }

  /** A histogram from `encode()`'s output. */
  static decode(encoded: string): LatencyHistogram {
    const h = new LatencyHistogram();
    h.histogram.add(hdr.decodeFromCompressedBase64(encoded));
    return h;
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  /** p50, p99, p99.9, max and mean in milliseconds. */
  summary(): LatencySummary {
    const h = this.histogram;
    const ms = (us: number) => Math.round(us) / 1000;
    if (h.totalCount === 0) return { count: 0, mean: 0, p50: 0, p99: 0, p999: 0, max: 0 };
    return {
      count: h.totalCount,
      mean: ms(h.mean),
      p50: ms(h.getValueAtPercentile(50)),
      p99: ms(h.getValueAtPercentile(99)),
      p999: ms(h.getValueAtPercentile(99.9)),
      max: ms(h.maxValue),
    };
  }
}
