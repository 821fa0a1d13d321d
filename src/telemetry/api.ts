import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Ingest } from './ingest.js';

/** A request the API refuses, with its HTTP status and a one-line reason. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_POINTS = 2000;
const DEFAULT_WINDOW_MS = 10 * 60 * 1000;

/**
 * The ingest JSON API (GET only):
 *   /api/config                          broker and WebSocket URLs for the dashboard
 *   /api/devices                         devices with presence
 *   /api/devices/<id>                    one device with its latest readings
 *   /api/devices/<id>/latest             the latest reading per metric
 *   /api/series?device=&metric=&from=&to=&points=   downsampled time series (mean, min, max per bucket)
 *   /api/workers                         per-worker ingest counts and share
 *   /api/stats                           totals, rates by QoS, backlog; `links`: per device its link,
 *                                        reconnects, readings lost and alerts duplicated, and their totals
 *   /api/alerts?limit=&device=           newest alerts
 */
export function createApiHandler(ingest: Ingest): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const answer = async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (!url.pathname.startsWith('/api/')) throw new ApiError(404, `not found: ${url.pathname} (the API is under /api/)`);
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new ApiError(405, `${req.method} not allowed: the API is read-only (GET)`);
      send(res, 200, await route(ingest, url));
    };
    answer().catch((error: Error) => {
      // A store query that fails (the database is down) is the server's problem, said in one line.
      if (error instanceof ApiError) send(res, error.status, { error: error.message });
      else send(res, 503, { error: `store unavailable: ${error.message}` });
    });
  };
}

async function route(ingest: Ingest, url: URL): Promise<unknown> {
  const path = url.pathname.replace(/\/+$/, '');
  const q = url.searchParams;
  switch (path) {
    case '/api/config':
      return { brokerUrl: ingest.brokerUrl, wsUrl: ingest.wsUrl ?? null, group: ingest.group, workers: ingest.workers().length };
    case '/api/devices':
      return ingest.presence.list();
    case '/api/stats':
      // The stats must answer while the database is down (they say so in store.unavailable): links is null then.
      return { ...ingest.stats(), links: await ingest.links().catch(() => null) };
    case '/api/workers': {
      const workers = ingest.workers();
      const total = workers.reduce((s, w) => s + w.readings + w.alerts, 0);
      return workers.map((w) => ({ ...w, share: total ? (w.readings + w.alerts) / total : 0 }));
    }
    case '/api/alerts':
      return ingest.store.alerts(intParam(q, 'limit', 50, 1, 1000), q.get('device') ?? undefined);
    case '/api/series':
      return series(ingest, q);
  }
  const device = /^\/api\/devices\/([^/]+)(\/latest)?$/.exec(path);
  if (device) {
    const id = decodeURIComponent(device[1]!);
    const presence = ingest.presence.get(id);
    const latest = await ingest.store.latest(id);
    if (!presence && Object.keys(latest).length === 0) throw new ApiError(404, `no device "${id}"`);
    return device[2]
      ? latest
      : {
          ...(presence ?? { id, site: null, status: 'unknown', statusChangedAt: null, lastSeen: null, link: null, reconnects: null }),
          latest,
        };
  }
  throw new ApiError(404, `not found: ${path}`);
}

async function series(ingest: Ingest, q: URLSearchParams): Promise<unknown> {
  const device = q.get('device');
  const metric = q.get('metric');
  if (!device) throw new ApiError(400, 'series needs ?device=<id>');
  if (!metric) throw new ApiError(400, 'series needs ?metric=<name> (temperature, humidity, battery)');
  const now = Date.now();
  const to = intParam(q, 'to', now, 0, Number.MAX_SAFE_INTEGER);
  const from = intParam(q, 'from', to - DEFAULT_WINDOW_MS, 0, Number.MAX_SAFE_INTEGER);
  if (from > to) throw new ApiError(400, `from (${from}) is after to (${to})`);
  const points = intParam(q, 'points', 120, 1, MAX_POINTS);
  return { device, metric, from, to, ...(await ingest.store.series(device, metric, from, to, points)) };
}

function intParam(q: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = q.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new ApiError(400, `${name} must be an integer from ${min} to ${max} (got "${raw}")`);
  return n;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(json),
  });
  res.end(res.req.method === 'HEAD' ? undefined : json);
}
