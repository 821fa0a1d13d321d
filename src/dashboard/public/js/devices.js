// The device grid with live presence, and the selected device's detail: latest values and charts.
import { ago, api, clock, text } from './common.js';
import { SUB, session, subscribe } from './session.js';

const METRICS = [
  { name: 'temperature', label: 'Temperature', unit: '°C', color: '#dc2626' },
  { name: 'humidity', label: 'Humidity', unit: '%', color: '#0891b2' },
  { name: 'battery', label: 'Battery', unit: '%', color: '#16a34a' },
];
const HISTORY_MS = 10 * 60 * 1000;

/** id → { id, site, status, statusChangedAt, lastSeen, live, latest: { metric: {v, ts, unit} } } */
const devices = new Map();
let selected = null;

/** The id of the device shown in the detail panel, or null. */
export function selectedDevice() {
  return selected;
}

function device(id) {
  let d = devices.get(id);
  if (!d) {
    d = { id, site: null, status: 'unknown', statusChangedAt: null, lastSeen: null, live: false, latest: {} };
    devices.set(id, d);
  }
  return d;
}

/** Draws the tiles and the totals; selects a device (the one in the URL's #, else the first) if none is. */
export function renderGrid() {
  const grid = document.getElementById('grid');
  const ids = [...devices.keys()].sort();
  for (const id of ids) {
    const d = devices.get(id);
    let tile = grid.querySelector(`[data-device="${CSS.escape(id)}"]`);
    if (!tile) {
      tile = document.createElement('button');
      tile.type = 'button';
      tile.className = 'tile';
      tile.dataset.device = id;
      tile.innerHTML =
        '<div class="tile-head"><span class="dot"></span><span class="id"></span></div>' +
        '<div class="site"></div><div class="vals"></div><div class="status"></div>';
      tile.addEventListener('click', () => select(id));
      // Keep the grid in id order when a device appears late.
      const next = [...grid.children].find((t) => t.dataset.device > id);
      grid.insertBefore(tile, next ?? null);
    }
    tile.dataset.status = d.status;
    tile.classList.toggle('selected', id === selected);
    tile.querySelector('.id').textContent = id;
    tile.querySelector('.site').textContent = d.site ?? '';
    const t = d.latest.temperature,
      b = d.latest.battery;
    tile.querySelector('.vals').textContent = [t && `${t.v.toFixed(1)} °C`, b && `bat ${b.v.toFixed(0)}%`].filter(Boolean).join(' · ');
    tile.querySelector('.status').textContent = `${d.status}${d.statusChangedAt ? ` · ${ago(d.statusChangedAt)}` : ''}`;
  }
  const all = [...devices.values()];
  document.getElementById('device-count').textContent = String(all.length);
  document.getElementById('online-count').textContent = String(all.filter((d) => d.status === 'online').length);
  document.getElementById('offline-count').textContent = String(all.filter((d) => d.status === 'offline').length);
  if (!selected && ids.length > 0)
    select(location.hash.length > 1 && devices.has(location.hash.slice(1)) ? location.hash.slice(1) : ids[0]);
  renderDetailHeader();
}

/** Seeds the devices from the ingest API. */
export async function loadDevices() {
  const list = await api('/api/devices');
  for (const item of list) {
    const d = device(item.id);
    d.site = item.site ?? d.site;
    d.lastSeen = item.lastSeen ?? d.lastSeen;
    // Once the browser has heard a status over MQTT that is authoritative; the API only seeds it (and
    // keeps the grid right when there is no WebSocket).
    if (!d.live) {
      d.status = item.status ?? 'unknown';
      d.statusChangedAt = item.statusChangedAt ?? null;
    }
  }
  renderGrid();
}

/** A retained or live `devices/<id>/status`. */
export function onStatus(topic, payload) {
  const id = topic.split('/')[1];
  const status = text(payload).trim();
  const d = device(id);
  d.live = true;
  if (d.status !== status) d.statusChangedAt = Date.now();
  d.status = status === 'online' || status === 'offline' ? status : 'unknown';
  renderGrid();
}

/** A reading seen on `telemetry/<site>/<device>/<metric>` by the traffic subscription: the tile's latest values. */
export function onReading(site, id, metric, reading) {
  const d = device(id);
  d.site = d.site ?? site;
  d.latest[metric] = reading;
  d.lastSeen = reading.ts ?? Date.now();
}

// -------------------------------------------------------------------------------------------- detail

const charts = {};

function makeLineChart(canvas, metric) {
  return new Chart(canvas, {
    type: 'line',
    data: {
      datasets: [
        { label: 'max', data: [], borderWidth: 0, pointRadius: 0, backgroundColor: `${metric.color}22`, fill: '+1' },
        { label: 'min', data: [], borderWidth: 0, pointRadius: 0, fill: false },
        {
          label: `${metric.label} (${metric.unit})`,
          data: [],
          borderColor: metric.color,
          backgroundColor: metric.color,
          borderWidth: 2,
          pointRadius: 0,
          tension: 0.25,
        },
      ],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      parsing: false,
      normalized: true,
      interaction: { mode: 'nearest', intersect: false },
      scales: {
        x: { type: 'linear', ticks: { callback: (v) => clock(v), maxTicksLimit: 5, font: { size: 10 } } },
        y: { ticks: { font: { size: 10 } } },
      },
      plugins: {
        legend: { labels: { filter: (item) => item.datasetIndex === 2, boxWidth: 10, font: { size: 11 } } },
        tooltip: { callbacks: { title: (items) => clock(items[0].parsed.x) } },
      },
    },
  });
}

/** Creates one chart per metric in the detail panel. */
export function makeDeviceCharts() {
  for (const m of METRICS) charts[m.name] = makeLineChart(document.getElementById(`chart-${m.name}`), m);
}

function renderDetailHeader() {
  const d = selected && devices.get(selected);
  if (!d) return;
  document.getElementById('detail-title').textContent = `${d.id}${d.site ? ` · ${d.site}` : ''}`;
  const badge = document.getElementById('detail-status');
  badge.textContent = d.status;
  badge.dataset.status = d.status;
  const latest = document.getElementById('latest');
  latest.innerHTML = '';
  for (const m of METRICS) {
    const r = d.latest[m.name];
    const span = document.createElement('span');
    span.innerHTML = `<b>${m.label}</b> ${r ? `${r.v.toFixed(m.name === 'temperature' ? 2 : 1)} ${r.unit ?? m.unit}` : '–'}`;
    latest.append(span);
  }
  const seen = document.createElement('span');
  seen.className = 'muted';
  seen.textContent = `last seen ${ago(d.lastSeen)}`;
  latest.append(seen);
}

/** Shows a device: follows its telemetry live (subscription 4) and loads its history into the charts. */
async function select(id) {
  if (selected === id) return;
  const previous = selected;
  selected = id;
  history.replaceState(null, '', `#${id}`);
  document.getElementById('ping-btn').disabled = !session.client;
  document.getElementById('cmd-topic').textContent = `commands/${id}/ping`;
  renderGrid();
  if (session.client && previous) session.client.unsubscribe(SUB.device.filters);
  SUB.device.filters = [`telemetry/+/${id}/#`];
  if (session.client?.connected) subscribe(SUB.device);
  for (const m of METRICS) {
    for (const ds of charts[m.name].data.datasets) ds.data = [];
  }
  const to = Date.now();
  await Promise.all(METRICS.map((m) => loadHistory(id, m, to)));
}

/** One metric's last HISTORY_MS of the device from the API, min/max bands included. */
async function loadHistory(id, m, to) {
  try {
    const series = await api(`/api/series?device=${encodeURIComponent(id)}&metric=${m.name}&from=${to - HISTORY_MS}&to=${to}&points=120`);
    if (selected !== id) return;
    const [max, min, line] = charts[m.name].data.datasets;
    const points = (series.points ?? []).slice().sort((a, b) => a.ts - b.ts);
    // Live points may have arrived while the history loaded: keep those newer than the history.
    const lastTs = points.length ? points[points.length - 1].ts : 0;
    const live = line.data.filter((p) => p.x > lastTs);
    max.data = points.map((p) => ({ x: p.ts, y: p.max ?? p.v }));
    min.data = points.map((p) => ({ x: p.ts, y: p.min ?? p.v }));
    line.data = [...points.map((p) => ({ x: p.ts, y: p.v })), ...live];
    charts[m.name].update('none');
  } catch (error) {
    console.warn(error);
  }
}

/** A reading of the selected device (subscription 4): appended to its chart. */
export function onDeviceTelemetry(topic, payload) {
  // telemetry/<site>/<device>/<metric>
  const [, site, id, metric] = topic.split('/');
  if (id !== selected || !charts[metric]) return;
  let reading;
  try {
    reading = JSON.parse(text(payload));
  } catch {
    return;
  }
  const d = device(id);
  d.site = d.site ?? site;
  const chart = charts[metric];
  const line = chart.data.datasets[2];
  line.data.push({ x: reading.ts, y: reading.v });
  const cutoff = Date.now() - HISTORY_MS;
  while (line.data.length && line.data[0].x < cutoff) line.data.shift();
  for (const band of chart.data.datasets.slice(0, 2)) while (band.data.length && band.data[0].x < cutoff) band.data.shift();
  chart.update('none');
}
