import { killCleanups, ownTerminationSignals, pendingCleanups, runCleanups } from '../util/index.js';

/** Exit status of a run cut short by a signal: 128 + its number, as shells report it. */
const SIGNAL_EXIT: Record<'SIGINT' | 'SIGTERM', number> = { SIGINT: 130, SIGTERM: 143 };

/** The longest an orderly stop may take before everything left is killed. */
const STOP_BOUND_MS = 30_000;

let orderlyStop: (() => Promise<void>) | undefined;

/**
 * Makes Ctrl-C (or SIGTERM) the normal end of a long-running command (`broker`, `start`, `fleet`, …): `stop`
 * runs once, then whatever the process still has running, and the exit status is 0.
 */
export function onShutdown(stop: () => Promise<void>): void {
  orderlyStop = stop;
}

/**
 * Ctrl-C and SIGTERM for every command. A long-running command stops through its `onShutdown`; any other
 * (compare, exercise, bench, capacity …) is interrupted: what it started — a RabbitMQ node, Mosquitto,
 * child processes and their temp dirs — is stopped and named on stderr, and it exits 130 (143 for
 * SIGTERM). A second signal kills what is left at once.
 */
export function installShutdownHandlers(): void {
  ownTerminationSignals();
  let stopping = false;
  const handler = (signal: 'SIGINT' | 'SIGTERM') => {
    if (stopping) {
      killCleanups();
      process.exit(SIGNAL_EXIT[signal]);
    }
    stopping = true;
    const interrupted = orderlyStop === undefined;
    const running = pendingCleanups();
    if (interrupted) console.error(`\nmqttlab: interrupted${running.length > 0 ? `; stopping ${running.join(', ')} …` : ''}`);
    const bound = setTimeout(() => {
      console.error(`mqttlab: still stopping after ${STOP_BOUND_MS / 1000} s; killing what is left`);
      killCleanups();
      process.exit(SIGNAL_EXIT[signal]);
    }, STOP_BOUND_MS);
    bound.unref();
    (orderlyStop ?? (async () => {}))()
      .then(() => runCleanups())
      .then(
        (stopped) => {
          if (interrupted && stopped.length > 0) console.error(`mqttlab: stopped ${stopped.join(', ')}`);
          process.exit(interrupted ? SIGNAL_EXIT[signal] : 0);
        },
        (error: Error) => {
          console.error(`mqttlab: error while stopping: ${error.message}`);
          killCleanups();
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
}

/** Stops what a failed command left running (before its one-line error is printed); returns what was stopped. */
export function stopAfterError(): Promise<string[]> {
  return runCleanups();
}
