import { InvalidArgumentError } from 'commander';

/** Parses a non-negative integer option, with a one-line error otherwise. */
export function parseInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`"${value}" is not a non-negative integer`);
  return n;
}
