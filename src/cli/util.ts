import { InvalidArgumentError } from 'commander';
import { describeFaults, LINK_PROFILES, linkProfile, type LinkProfile } from '../link/index.js';

/** Parses a non-negative integer option, with a one-line error otherwise. */
export function parseInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`"${value}" is not a non-negative integer`);
  return n;
}

/** ` (did you mean "x"?)` for the closest name (a prefix, a part of it, or a near spelling), else ''. */
export function didYouMean(input: string, names: string[]): string {
  const lower = input.toLowerCase();
  const match =
    names.find((n) => n.startsWith(lower)) ??
    names.find((n) => n.includes(lower) || lower.includes(n)) ??
    names.find((n) => editDistance(lower, n) <= Math.max(1, Math.floor(n.length / 4)));
  return match ? `: did you mean "${match}"?` : '';
}

/** Levenshtein distance, for short names only. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++)
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

/** A parser for an integer option bounded to [min, max], with a one-line error naming the range. */
export function integerFrom(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `"${value}" is not a whole number from ${min} up`
          : `"${value}" is not a whole number from ${min} to ${max}`,
      );
    }
    return n;
  };
}

/** Parses a non-negative number option (fractions allowed), with a one-line error otherwise. */
export function parseNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`"${value}" is not a non-negative number`);
  return n;
}

/** Parses `--link <profile>`: a profile of src/link/profiles.ts, or a one-line error naming them. */
export function parseLinkProfile(value: string): LinkProfile {
  try {
    return linkProfile(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** The `--help` lines listing the link profiles: name, faults and why. */
export function linkProfilesHelp(): string {
  const width = Math.max(...LINK_PROFILES.map((p) => p.name.length));
  return LINK_PROFILES.map((p) => `  ${p.name.padEnd(width)}  ${describeFaults(p.faults)}\n  ${' '.repeat(width)}  ${p.rationale}`).join(
    '\n',
  );
}
