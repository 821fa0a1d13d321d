import type { Command } from 'commander';
import { createBroker, reasonName } from '../broker/index.js';
import { DATABASE_FILE, openDataDir } from './data-dir.js';
import { parseInteger, onShutdown } from './util.js';

/** `mqttlab broker`: runs the embedded broker until Ctrl-C. */
export function registerBrokerCommand(program: Command): void {
  program
    .command('broker')
    .description('run the embedded MQTT 5.0 / 3.1.1 broker (TCP and WebSocket)')
    .option('-H, --host <address>', 'interface to listen on (use 0.0.0.0 to accept other machines)', '127.0.0.1')
    .option('-p, --port <port>', 'TCP port', parseInteger, 1883)
    .option('-w, --ws-port <port>', 'WebSocket port (subprotocol "mqtt"); 0 disables', parseInteger, 9001)
    .option('--max-packet-size <bytes>', 'largest packet accepted from a client', parseInteger)
    .option('--max-keepalive <seconds>', 'cap on client keep alive (announced as Server Keep Alive)', parseInteger)
    .option('--max-queued <count>', 'QoS 1/2 messages queued per session', parseInteger)
    .option('--max-buffered <bytes>', 'bytes waiting to be written to one client above which QoS 0 messages to it are dropped', parseInteger)
    .option('-d, --data-dir <dir>', `keep retained messages and sessions in <dir>/${DATABASE_FILE} (SQLite; created if missing), so they survive a restart or a crash; QoS 1/2 acks then wait until the message is stored. Without it, state is in memory only`)
    .option('--sys-interval <seconds>', 'seconds between $SYS/broker/... updates (0 disables)', parseInteger, 10)
    .option('-v, --verbose', 'log every connection, disconnection and dropped message')
    .addHelpText(
      'after',
      `
Examples:
  mqttlab broker                         # mqtt://127.0.0.1:1883 and ws://127.0.0.1:9001
  mqttlab broker -p 0 -w 0               # any free TCP port, no WebSocket
  mqttlab broker --data-dir ./data       # durable: state in ./data/mqttlab.db survives kill -9
  mosquitto_sub -V 5 -p 1883 -t 'sensors/#' -v
`,
    )
    .action(async (opts: { host: string; port: number; wsPort: number; maxPacketSize?: number; maxKeepalive?: number; maxQueued?: number; maxBuffered?: number; dataDir?: string; sysInterval: number; verbose?: boolean }) => {
      const persistence = opts.dataDir === undefined ? undefined : openDataDir(opts.dataDir);
      const running = await createBroker({
        persistence,
        host: opts.host,
        port: opts.port,
        wsPort: opts.wsPort === 0 ? false : opts.wsPort,
        maximumPacketSize: opts.maxPacketSize,
        maxKeepalive: opts.maxKeepalive,
        maxQueuedMessages: opts.maxQueued,
        maxBufferedBytes: opts.maxBuffered,
        sysInterval: opts.sysInterval,
      });
      const { broker } = running;
      if (opts.verbose) {
        broker.events.on('clientConnected', (c, present) => log(`connected    ${c.clientId} (MQTT ${c.protocolVersion === 5 ? '5.0' : '3.1.1'}, ${c.transport} ${c.remoteAddress ?? ''}) session present: ${present}`));
        broker.events.on('clientDisconnected', (c, reason) => log(`disconnected ${c.clientId}: ${reason}`));
        broker.events.on('messageDropped', (id, m, reason) => log(`dropped      ${m.topic} for ${id}: ${reason}`));
        broker.events.on('willPublished', (id, m) => log(`will         ${m.topic} for ${id}`));
      }
      console.log(`mqttlab broker listening on ${[running.url, running.wsUrl].filter(Boolean).join(' and ')}`);
      console.log(persistence ? `  state kept in ${persistence.path}` : '  state in memory only (--data-dir keeps it)');
      console.log(`  try: mosquitto_sub -V 5 -h ${opts.host} -p ${running.port} -t 'sensors/#' -v`);
      console.log('  Ctrl-C stops it (clients get DISCONNECT ' + reasonName(0x8b) + ')');
      onShutdown(async () => {
        await running.close();
        console.log('broker stopped');
      });
    });
}

function log(line: string): void {
  console.log(`${new Date().toISOString()} ${line}`);
}
