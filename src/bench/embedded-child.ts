import { createBroker, type RunningBroker } from '../broker/index.js';
import { createClusterBroker } from '../cluster/index.js';

/*
 * The embedded broker in a process of its own, so that its CPU and memory are measured apart from the
 * load generator. Started by targets.ts with fork(); argv: maxQueuedMessages receiveMaximum, then for a
 * node of the `cluster` target the NATS URLs and the node's name. Sends { port } once listening and
 * closes when the parent says 'stop' or goes away.
 */
const [maxQueuedMessages, receiveMaximum] = process.argv.slice(2, 4).map(Number);
const [natsUrls, node] = process.argv.slice(4);
const options = { host: '127.0.0.1', port: 0, wsPort: false, sysInterval: 0, maxQueuedMessages, receiveMaximum } as const;
const running: RunningBroker = natsUrls
  ? await createClusterBroker({ ...options, cluster: { servers: natsUrls.split(','), node } })
  : await createBroker(options);
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
