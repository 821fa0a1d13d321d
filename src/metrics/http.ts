import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';

/** Answers `GET /metrics` with the registries merged, in the Prometheus text format; false for any other path. */
export function metricsHandler(registries: () => Registry[]): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/metrics') return false;
    const merged = Registry.merge(registries());
    merged.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': merged.contentType, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (error: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`metrics failed: ${error.message}\n`);
      },
    );
    return true;
  };
}

/** An HTTP server of its own for `/metrics` (the broker's --metrics-port). */
export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves `/metrics` on host:port (0 = a free port); rejects with EADDRINUSE like any listen. */
export async function serveMetrics(registries: () => Registry[], host: string, port: number): Promise<MetricsServer> {
  const handle = metricsHandler(registries);
  const server = createServer((req, res) => {
    if (!handle(req, res)) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('not found: metrics are at /metrics\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
