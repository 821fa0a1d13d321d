/*
 * The Variable Byte Integer (MQTT 5.0 §1.5.5): 7 bits a byte, least significant group first, the high bit set
 * while more bytes follow, at most 4 bytes [MQTT-1.5.5-1]. The one implementation every part uses.
 */

/** The largest value a Variable Byte Integer can hold (268,435,455). */
export const VARIABLE_BYTE_INTEGER_MAX = 268_435_455;

/** Result of `variableByteIntegerEnd` when the bytes end before the integer does. */
export const INCOMPLETE = -1;
/** Result of `variableByteIntegerEnd` when a fifth byte would be needed (malformed). */
export const MALFORMED = -2;

/**
 * The offset just after the integer at `offset`, INCOMPLETE when the bytes end first, MALFORMED when a fifth
 * byte would be needed. Allocation-free, for the per-packet paths.
 */
export function variableByteIntegerEnd(bytes: Uint8Array, offset: number): number {
  for (let n = 0; n < 4; n++) {
    const i = offset + n;
    if (i >= bytes.length) return INCOMPLETE;
    if ((bytes[i]! & 0x80) === 0) return i + 1;
  }
  return MALFORMED;
}

/** The value of the integer at `offset`, whose end `variableByteIntegerEnd` has already found. */
export function decodeVariableByteInteger(bytes: Uint8Array, offset: number): number {
  let value = 0;
  let multiplier = 1;
  for (let i = offset; i < offset + 4; i++) {
    const byte = bytes[i]!;
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) break;
    multiplier *= 128;
  }
  return value;
}

/** Reads the integer at `offset`: its value and the offset after it; undefined when incomplete or malformed. */
export function readVariableByteInteger(bytes: Uint8Array, offset: number): { value: number; next: number } | undefined {
  const next = variableByteIntegerEnd(bytes, offset);
  return next < 0 ? undefined : { value: decodeVariableByteInteger(bytes, offset), next };
}

/** Bytes the encoding of `n` takes (1 to 4). */
export function variableByteIntegerSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : 4;
}

/** Writes `n` into `buf` at `at`; returns the offset after it. */
export function writeVariableByteInteger(buf: Uint8Array, at: number, n: number): number {
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    buf[at++] = byte;
  } while (n > 0);
  return at;
}
