/**
 * Reads a Variable Byte Integer (MQTT 5.0 §1.5.5: 7 bits a byte, at most 4 bytes) at `offset`: its value
 * and the offset after it; undefined when the bytes end first or a fifth byte would be needed.
 */
export function readVariableByteInteger(bytes: Buffer, offset: number): { value: number; next: number } | undefined {
  let value = 0;
  let multiplier = 1;
  let i = offset;
  for (let n = 0; n < 4; n++) {
    if (i >= bytes.length) return undefined;
    const byte = bytes[i++]!;
    value += (byte & 0x7f) * multiplier;
    multiplier *= 128;
    if ((byte & 0x80) === 0) return { value, next: i };
  }
  return undefined;
}
