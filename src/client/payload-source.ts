import { type FileHandle, open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/** The largest payload one PUBLISH can carry: the Remaining Length limit (MQTT 5.0 §1.5.5) less its headers. */
export const MAX_PAYLOAD_BYTES = 268_435_455 - 65_535 - 16;

/** Where the payload of `mqttlab pub` comes from, as mosquitto_pub's -m, -f, -s, -l and -n. */
export type PayloadSource =
  | { kind: 'message'; text: string }
  | { kind: 'file'; path: string }
  | { kind: 'stdin' }
  | { kind: 'lines' }
  | { kind: 'empty' };

/** The payloads to publish, in order: one for every source but `lines`, which gives one per line of stdin. */
export async function* payloadsFrom(source: PayloadSource, stdin: Readable = process.stdin): AsyncGenerator<Buffer> {
  switch (source.kind) {
    case 'message':
      yield Buffer.from(source.text, 'utf8');
      return;
    case 'empty':
      yield Buffer.alloc(0);
      return;
    case 'file':
      yield await readFileBounded(source.path);
      return;
    case 'stdin':
      yield await readAllBounded(stdin);
      return;
    case 'lines':
      for await (const line of createInterface({ input: stdin, crlfDelay: Infinity })) {
        const payload = Buffer.from(line, 'utf8');
        if (payload.length > MAX_PAYLOAD_BYTES)
          throw new Error(`a line of stdin is larger than the largest MQTT payload (${MAX_PAYLOAD_BYTES} bytes)`);
        yield payload;
      }
  }
}

async function readFileBounded(path: string): Promise<Buffer> {
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (error) {
    throw new Error(`cannot read -f ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    const { size } = await file.stat();
    if (size > MAX_PAYLOAD_BYTES)
      throw new Error(`-f ${path} has ${size} bytes, more than the largest MQTT payload (${MAX_PAYLOAD_BYTES})`);
    return await file.readFile();
  } finally {
    await file.close();
  }
}

async function readAllBounded(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += (chunk as Buffer).length;
    if (total > MAX_PAYLOAD_BYTES) throw new Error(`stdin has more than the largest MQTT payload (${MAX_PAYLOAD_BYTES} bytes)`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
