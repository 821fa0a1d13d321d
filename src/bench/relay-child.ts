import { startRelay } from './relay.js';

/*
 * The reference relay in a process of its own, measured like the embedded broker (targets.ts forks it).
 * Sends { port } once listening and exits when the parent says 'stop' or goes away.
 */
const relay = await startRelay('127.0.0.1', 0);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await relay.close();
  process.exit(0);
};
process.on('message', (m) => m === 'stop' && void stop());
process.on('disconnect', () => void stop());
process.on('SIGTERM', () => void stop());
process.send!({ port: relay.port });
