import type { Command } from 'commander';
import { startDashboardServer } from '../dashboard/index.js';
import { onShutdown } from './shutdown.js';
import { parseInteger } from './util.js';

/** `mqttlab dashboard`: serves the web dashboard for an ingest API running in another process. */
export function registerDashboardCommand(program: Command): void {
  program
    .command('dashboard')
    .description('serve the telemetry web dashboard, forwarding /api/* to a running `mqttlab ingest`')
    .option('-a, --api <url>', 'base URL of the ingest HTTP API', 'http://127.0.0.1:8081')
    .option('--ws-url <url>', "the broker's MQTT-over-WebSocket URL for the browser (default: wsUrl from the API's /api/config)")
    .option('-H, --host <address>', 'interface to listen on (use 0.0.0.0 to accept other machines)', '127.0.0.1')
    .option('-p, --port <port>', 'HTTP port (0 = any free port)', parseInteger, 8080)
    .addHelpText(
      'after',
      `
The dashboard is a static web app (src/dashboard/public, no build step). The browser talks MQTT 5 over
WebSocket to the broker itself (MQTT.js) for everything live — presence from devices/+/status, telemetry,
alerts, commands with Response Topic + Correlation Data, the packet-flow page — and reads history from
the ingest API. \`mqttlab start\` serves the same dashboard together with broker, fleet and ingestion.

Examples:
  mqttlab dashboard --api http://127.0.0.1:8081
  mqttlab dashboard --api http://127.0.0.1:8081 --ws-url ws://127.0.0.1:9001 --port 0
`,
    )
    .action(async (opts: { api: string; wsUrl?: string; host: string; port: number }) => {
      const server = await startDashboardServer({ apiUrl: opts.api, wsUrl: opts.wsUrl, host: opts.host, port: opts.port }).catch(
        (error: NodeJS.ErrnoException) => {
          throw new Error(error.code === 'EADDRINUSE' ? `port ${opts.port} is in use: pass --port 0 or another port` : error.message);
        },
      );
      console.log(`mqttlab dashboard at ${server.url} (API: ${opts.api}${opts.wsUrl ? `, broker WebSocket: ${opts.wsUrl}` : ''})`);
      console.log(`  packet flow: ${server.url}flow.html · Ctrl-C stops it`);
      onShutdown(async () => {
        await server.close();
        console.log('dashboard stopped');
      });
    });
}
