// Shared by the dashboard pages: the ingest API, the browser's MQTT connection and small formatters.
// MQTT.js (global `mqtt`) and Chart.js (global `Chart`) are loaded by <script> tags from /vendor/.

/** GET a JSON document from the ingest API (same origin). */
export async function api(path) {
  const response = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

/**
 * The WebSocket URL of the broker: `?ws=` in the page URL wins, else `wsUrl` of /api/config.
 * Returns null when neither says one (the dashboard then polls the API only).
 */
export async function brokerWsUrl() {
  const fromQuery = new URLSearchParams(location.search).get('ws');
  if (fromQuery) return fromQuery;
  try {
    const config = await api('/api/config');
    return config.wsUrl ?? null;
  } catch {
    return null;
  }
}

/** A client id that is unique per page load. */
export function clientId(prefix) {
  const random = Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, '0')).join('');
  return `${prefix}-${random}`;
}

/** Connects MQTT.js over WebSocket with MQTT 5; `onState(text, state)` hears about the connection. */
export function connectBroker(url, id, onState, extra = {}) {
  const client = globalThis.mqtt.connect(url, {
    protocolVersion: 5,
    clientId: id,
    clean: true,
    keepalive: 30,
    connectTimeout: 5000,
    reconnectPeriod: 2000,
    ...extra,
  });
  client.on('connect', () => onState(`MQTT 5 over WebSocket · ${url} · ${id}`, 'connected'));
  client.on('reconnect', () => onState(`reconnecting to ${url} …`, 'connecting'));
  client.on('offline', () => onState(`offline (${url})`, 'offline'));
  client.on('error', (error) => onState(`error: ${error.message}`, 'offline'));
  return client;
}

/** Sets the connection pill in the page header. */
export function showConnection(text, state) {
  const pill = document.getElementById('conn');
  if (!pill) return;
  pill.textContent = text;
  pill.dataset.state = state;
}

/** The payload as text (MQTT.js gives a Buffer polyfill, a Uint8Array). */
export function text(payload) {
  if (payload === undefined || payload === null) return '';
  if (typeof payload === 'string') return payload;
  return new TextDecoder().decode(payload);
}

/** HH:MM:SS of an epoch-ms time. */
export function clock(ms) {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** "12 s ago", "3 min ago". */
export function ago(ms) {
  if (!ms) return '–';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

/** 12345 → "12,345"; rates with one decimal. */
export function num(n, digits = 0) {
  if (n === undefined || n === null || Number.isNaN(n)) return '–';
  return Number(n).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** Runs `fn` now and every `ms`, skipping a tick while the previous run is still busy. */
export function every(ms, fn) {
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      await fn();
    } catch (error) {
      console.warn(error);
    } finally {
      busy = false;
    }
  };
  tick();
  return setInterval(tick, ms);
}

/** MQTT topic filter match (+ and #), for routing messages to the part of the page that wants them. */
export function matches(filter, topic) {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Subscription identifiers of a received PUBLISH as an array (MQTT 5 §3.3.2.3.8). */
export function subscriptionIds(packet) {
  const ids = packet?.properties?.subscriptionIdentifier;
  if (ids === undefined) return [];
  return Array.isArray(ids) ? ids : [ids];
}

export const COLORS = {
  qos0: '#2563eb',
  qos1: '#d97706',
  qos2: '#7c3aed',
  online: '#16a34a',
  offline: '#dc2626',
  palette: ['#2563eb', '#16a34a', '#d97706', '#7c3aed', '#db2777', '#0891b2', '#65a30d', '#9333ea'],
};
