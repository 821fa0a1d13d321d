/** Median and spread of one metric over rounds. */
export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
}

/** Median of the values (mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Count, median, min and max of the values. */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { n: 0, median: Number.NaN, min: Number.NaN, max: Number.NaN };
  return { n: values.length, median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/** A ratio of medians a/b with its widest spread over the rounds: min(a)/max(b) to max(a)/min(b). */
export interface Ratio {
  ratio: number;
  min: number;
  max: number;
}

/** The ratio of the medians of a and b, and how far it can move given each side's min–max. */
export function ratioOfMedians(a: readonly number[], b: readonly number[]): Ratio {
  const sa = summarize(a);
  const sb = summarize(b);
  return { ratio: sa.median / sb.median, min: sa.min / sb.max, max: sa.max / sb.min };
}
