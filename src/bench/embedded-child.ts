import { createBroker } from '../broker/index.js';

/*
 * The embedded broker in a process of its own, so that its CPU and memory are measured apart from the
 * load generator. Started by targets.ts with fork(); argv: maxQueuedMessages receiveMaximum. Sends
 * { port } once listening and closes when the parent says 'stop' or goes away.
 */
const [maxQueuedMessages, receiveMaximum] = process.argv.slice(2).map(Number);
const running = await createBroker({ host: '127.0.0.1', port: 0, wsPort: false, sysInterval: 0, maxQueuedMessages, receiveMaximum });
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await running.close();
  process.exit(0);
};
process.on('message', (m) => m === 'stop' && void stop());
process.on('disconnect', () => void stop());
process.on('SIGTERM', () => void stop());
process.send!({ port: running.port });
