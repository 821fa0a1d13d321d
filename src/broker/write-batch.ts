import type { Writable } from 'node:stream';

/*
 * Writes to a client leave once per turn of the event loop, after its I/O callbacks: a stream written to is
 * corked, and one setImmediate uncorks every corked stream after the poll phase. What the callbacks of one
 * turn wrote to a client — messages from many devices, each read in its own callback — goes out in one
 * writev, where uncorking on process.nextTick flushed after each callback, one write system call per
 * message (as Mosquitto 2 does). The delay is bounded by the rest of that turn's callbacks.
 */

const corked: Writable[] = [];

function uncorkAll(): void {
  // Uncorking writes synchronously and queues no JS that could cork again before the loop below ends.
  for (const stream of corked) stream.uncork();
  corked.length = 0;
}

/** Writes `bytes` to `stream`, corked until the end of this turn of the event loop. */
export function writeInTurn(stream: Writable, bytes: Buffer): void {
  if (stream.writableCorked === 0) {
    stream.cork();
    if (corked.push(stream) === 1) setImmediate(uncorkAll);
  }
  stream.write(bytes);
}
