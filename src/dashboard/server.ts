import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Serves the dashboard (static files, no build step) and the two browser libraries it loads from
 * node_modules. Returns true when it answered the request, false to let another handler (the ingest API)
 * answer it — so the dashboard and the API share one HTTP server and one URL.
 */
export type DashboardHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface DashboardHandlerOptions {
  /** Folder with index.html etc. Default: `<package>/src/dashboard/public`, found from this compiled file. */
  publicDir?: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/**
 * The public folder. The compiled file lives in `<root>/dist/src/dashboard/` (or another outDir), the
 * source in `<root>/src/dashboard/`; the HTML/CSS/JS are not compiled, so they are served from the source
 * tree: walk up until `src/dashboard/public/index.html` is found.
 */
export function findPublicDir(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (let i = 0; i < 8; i++) {
    const direct = join(dir, 'public');
    if (existsSync(join(direct, 'index.html')) && dir.endsWith(join('src', 'dashboard'))) return direct;
    const candidate = join(dir, 'src', 'dashboard', 'public');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`dashboard files not found (looked for src/dashboard/public/index.html above ${from})`);
}

/** Browser builds served under /vendor/: MQTT.js (UMD, global `mqtt`) and Chart.js 4 (UMD, global `Chart`). */
export function vendorFiles(): Record<string, string> {
  const require = createRequire(import.meta.url);
  // Neither package exports its dist/ folder for Node, so go from the resolved entry points.
  const mqttRoot = packageRoot(require.resolve('mqtt'), 'mqtt');
  const chartRoot = packageRoot(require.resolve('chart.js'), 'chart.js');
  return {
    '/vendor/mqtt.min.js': join(mqttRoot, 'dist', 'mqtt.min.js'),
    '/vendor/chart.umd.min.js': join(chartRoot, 'dist', 'chart.umd.min.js'),
  };
}

function packageRoot(entry: string, name: string): string {
  let dir = dirname(entry);
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && dir.endsWith(sep + name)) return dir;
    dir = dirname(dir);
  }
  throw new Error(`cannot find the ${name} package folder from ${entry}`);
}

/** The dashboard's request handler (GET/HEAD only; anything else falls through). */
export function createDashboardHandler(options: DashboardHandlerOptions = {}): DashboardHandler {
  const publicDir = resolve(options.publicDir ?? findPublicDir());
  const vendor = vendorFiles();
  for (const [route, file] of Object.entries(vendor)) {
    if (!existsSync(file)) throw new Error(`${route}: ${file} is missing (run npm install)`);
  }
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      return false;
    }
    if (pathname.startsWith('/api/')) return false;
    let file: string | undefined = vendor[pathname];
    if (!file) {
      const relative = pathname === '/' ? 'index.html' : pathname.replace(/^\/+/, '');
      const candidate = resolve(publicDir, relative);
      // Never outside the public folder (../ and encoded variants end up outside after resolve()).
      if (!candidate.startsWith(publicDir + sep)) return false;
      if (!existsSync(candidate) || !statSync(candidate).isFile()) return false;
      file = candidate;
    }
    const body = readFileSync(file);
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': body.length,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}

export interface DashboardServerOptions {
  /** Where the ingest API runs (e.g. http://127.0.0.1:8081); `/api/*` is forwarded there. */
  apiUrl: string;
  /** WebSocket URL for the browser's MQTT client; overrides `wsUrl` of the API's /api/config. */
  wsUrl?: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
}

export interface DashboardServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A stand-alone dashboard server for when ingestion runs in another process (`mqttlab dashboard`):
 * serves the files and forwards `/api/*` to the ingest API.
 */
export async function startDashboardServer(options: DashboardServerOptions): Promise<DashboardServer> {
  const handler = createDashboardHandler();
  const api = new URL(options.apiUrl);
  const server: Server = createServer((req, res) => {
    if (handler(req, res)) return;
    if (!(req.url ?? '').startsWith('/api/')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found' }));
      return;
    }
    const upstream = httpRequest(
      {
        protocol: api.protocol,
        hostname: api.hostname,
        port: api.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: api.host },
      },
      (answer) => {
        if (req.url?.startsWith('/api/config') && options.wsUrl !== undefined && (answer.statusCode ?? 500) < 300) {
          const chunks: Buffer[] = [];
          answer.on('data', (c: Buffer) => chunks.push(c));
          answer.on('end', () => {
            let config: Record<string, unknown> = {};
            try {
              config = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
            } catch {
              /* keep {} */
            }
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...config, wsUrl: options.wsUrl }));
          });
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.setTimeout(10_000, () => upstream.destroy(new Error('timeout')));
    upstream.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: `ingest API at ${options.apiUrl} did not answer: ${error.message}` }));
    });
    req.pipe(upstream);
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, host, () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
}
