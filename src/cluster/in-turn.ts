/*
 * The QoS 0 messages a node sends to NATS leave once per turn of the event loop. The NATS client writes what was
 * published at the end of the microtask checkpoint, that is after each I/O callback: messages from many
 * devices, each read in its own callback, went out in one write system call each (the socket writes were
 * the largest item of a node's CPU profile under `mqttlab bench fleet --broker cluster`). Run from one
 * setImmediate after the poll phase, the publishes of a turn share one write, as src/broker/write-batch.ts
 * does for the clients' sockets. The delay is bounded by the rest of that turn's callbacks. (QoS 1/2
 * publishes to JetStream deferred the same way showed no gain in `bench fan-in --qos 1`: not done.)
 */

const queued: Array<() => void> = [];

function runQueued(): void {
  // What these runs queue goes out in the next turn, not in this loop.
  const batch = queued.splice(0);
  for (const run of batch) run();
}

/** Runs `run` once the I/O callbacks of this turn of the event loop are done, with the others queued in it. */
export function inTurn(run: () => void): void {
  if (queued.push(run) === 1) setImmediate(runQueued);
}
