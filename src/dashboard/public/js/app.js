// The overview page: device grid with live presence, per-device charts, rates by QoS, ingest workers,
// alerts and a request/reply command. History comes from the ingest API, everything live from MQTT
// over WebSocket (MQTT.js in the browser).
import { COLORS, ago, api, brokerWsUrl, clientId, clock, connectBroker, every, matches, num, showConnection, subscriptionIds, text } from './common.js';

const METRICS = [
  { name: 'temperature', label: 'Temperature', unit: '°C', color: '#dc2626' },
  { name: 'humidity', label: 'Humidity', unit: '%', color: '#0891b2' },
  { name: 'battery', label: 'Battery', unit: '%', color: '#16a34a' },
];
const HISTORY_MS = 10 * 60 * 1000;
const RATE_WINDOW_S = 60;
const COMMAND_TIMEOUT_MS = 10_000;

const myId = clientId('dashboard');
const replyTopic = `dashboard/${myId}/replies`;

// Subscription identifiers (MQTT 5 §3.8.2.1.2) tell which of our subscriptions a message matched, so the
// overlapping `telemetry/#` and `telemetry/+/<device>/#` are told apart without counting twice.
const SUB = {
  traffic: { id: 1, filters: ['telemetry/#', 'alerts/#', 'commands/#'], qos: 2 },
  status: { id: 2, filters: ['devices/+/status'], qos: 1 },
  replies: { id: 3, filters: [replyTopic], qos: 2 },
  device: { id: 4, filters: [], qos: 0 },
};

/** id → { id, site, status, statusChangedAt, lastSeen, live, latest: { metric: {v, ts, unit} } } */
const devices = new Map();
let selected = null;
let client = null;
const pending = new Map();
let commandSeq = 0;

// ---------------------------------------------------------------------------------------------- grid

function device(id) {
  let d = devices.get(id);
  if (!d) {
    d = { id, site: null, status: 'unknown', statusChangedAt: null, lastSeen: null, live: false, latest: {} };
    devices.set(id, d);
  }
  return d;
}

function renderGrid() {
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
      tile.innerHTML = '<div class="tile-head"><span class="dot"></span><span class="id"></span></div><div class="site"></div><div class="vals"></div><div class="status"></div>';
      tile.addEventListener('click', () => select(id));
      // Keep the grid in id order when a device appears late.
      const next = [...grid.children].find((t) => t.dataset.device > id);
      grid.insertBefore(tile, next ?? null);
    }
    tile.dataset.status = d.status;
    tile.classList.toggle('selected', id === selected);
    tile.querySelector('.id').textContent = id;
    tile.querySelector('.site').textContent = d.site ?? '';
    const t = d.latest.temperature, b = d.latest.battery;
    tile.querySelector('.vals').textContent = [t && `${t.v.toFixed(1)} °C`, b && `bat ${b.v.toFixed(0)}%`].filter(Boolean).join(' · ');
    tile.querySelector('.status').textContent = `${d.status}${d.statusChangedAt ? ` · ${ago(d.statusChangedAt)}` : ''}`;
  }
  const all = [...devices.values()];
  document.getElementById('device-count').textContent = String(all.length);
  document.getElementById('online-count').textContent = String(all.filter((d) => d.status === 'online').length);
  document.getElementById('offline-count').textContent = String(all.filter((d) => d.status === 'offline').length);
  if (!selected && ids.length > 0) select(location.hash.length > 1 && devices.has(location.hash.slice(1)) ? location.hash.slice(1) : ids[0]);
  renderDetailHeader();
}

async function loadDevices() {
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

function onStatus(topic, payload) {
  const id = topic.split('/')[1];
  const status = text(payload).trim();
  const d = device(id);
  d.live = true;
  if (d.status !== status) d.statusChangedAt = Date.now();
  d.status = status === 'online' || status === 'offline' ? status : 'unknown';
  renderGrid();
}

// -------------------------------------------------------------------------------------------- detail

const charts = {};

function makeLineChart(canvas, metric) {
  return new Chart(canvas, {
    type: 'line',
    data: {
      datasets: [
        { label: 'max', data: [], borderWidth: 0, pointRadius: 0, backgroundColor: metric.color + '22', fill: '+1' },
        { label: 'min', data: [], borderWidth: 0, pointRadius: 0, fill: false },
        { label: `${metric.label} (${metric.unit})`, data: [], borderColor: metric.color, backgroundColor: metric.color, borderWidth: 2, pointRadius: 0, tension: 0.25 },
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

async function select(id) {
  if (selected === id) return;
  const previous = selected;
  selected = id;
  history.replaceState(null, '', `#${id}`);
  document.getElementById('ping-btn').disabled = !client;
  document.getElementById('cmd-topic').textContent = `commands/${id}/ping`;
  renderGrid();
  if (client && previous) client.unsubscribe(SUB.device.filters);
  SUB.device.filters = [`telemetry/+/${id}/#`];
  if (client?.connected) subscribe(SUB.device);
  for (const m of METRICS) charts[m.name].data.datasets.forEach((ds) => (ds.data = []));
  const to = Date.now();
  await Promise.all(
    METRICS.map(async (m) => {
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
    }),
  );
}

function onDeviceTelemetry(topic, payload) {
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

// ------------------------------------------------------------------------------------------- command

function sendCommand(command) {
  const id = selected;
  const box = document.getElementById('cmd-reply');
  if (!client?.connected || !id) {
    box.dataset.state = 'error';
    box.textContent = 'Not connected to the broker over WebSocket.';
    return;
  }
  const correlation = `${myId}-${++commandSeq}`;
  const topic = `commands/${id}/${command}`;
  const sentAt = performance.now();
  box.dataset.state = 'pending';
  box.dataset.correlation = correlation;
  box.innerHTML = '';
  line(box, '→', `PUBLISH ${topic} · QoS 2 · Response Topic ${replyTopic} · Correlation Data "${correlation}"`);
  const timer = setTimeout(() => {
    pending.delete(correlation);
    if (box.dataset.correlation !== correlation) return;
    box.dataset.state = 'timeout';
    line(box, '✗', `no reply within ${COMMAND_TIMEOUT_MS / 1000} s (is ${id} offline?)`);
  }, COMMAND_TIMEOUT_MS);
  pending.set(correlation, { id, command, sentAt, timer });
  client.publish(
    topic,
    JSON.stringify({ command, requestedAt: Date.now(), from: myId }),
    { qos: 2, properties: { responseTopic: replyTopic, correlationData: correlation, contentType: 'application/json' } },
    (error) => {
      if (error) line(box, '✗', `publish failed: ${error.message}`);
      else if (box.dataset.correlation === correlation && box.dataset.state === 'pending') line(box, '✓', `PUBCOMP received after ${(performance.now() - sentAt).toFixed(1)} ms: the broker has the request (QoS 2 done)`);
    },
  );
}

function onReply(payload, packet) {
  const correlation = text(packet.properties?.correlationData);
  const request = pending.get(correlation);
  const box = document.getElementById('cmd-reply');
  if (!request) {
    line(box, '?', `reply with unknown Correlation Data "${correlation}": ${text(payload)}`);
    return;
  }
  pending.delete(correlation);
  clearTimeout(request.timer);
  if (box.dataset.correlation !== correlation) return;
  const ms = performance.now() - request.sentAt;
  let body = text(payload);
  let ok = false;
  try {
    const parsed = JSON.parse(body);
    ok = parsed.ok === true;
    body = JSON.stringify(parsed);
  } catch {
    /* show as text */
  }
  box.dataset.state = ok ? 'ok' : 'error';
  line(box, '←', `reply from ${request.id} on ${packet.topic} · QoS ${packet.qos} · Correlation Data "${correlation}" matches · ${ms.toFixed(1)} ms round trip`);
  const pre = document.createElement('pre');
  pre.className = 'reply-body';
  pre.textContent = body;
  box.append(pre);
}

function line(box, mark, message) {
  const div = document.createElement('div');
  div.innerHTML = `<span class="mark"></span> <span class="msg"></span>`;
  div.querySelector('.mark').textContent = mark;
  div.querySelector('.msg').textContent = message;
  box.append(div);
}

// ------------------------------------------------------------------------------------- rates & workers

let ratesChart;
let workersChart;
const counts = { 0: 0, 1: 0, 2: 0 };

function makeRatesChart() {
  const labels = Array.from({ length: RATE_WINDOW_S }, () => '');
  const dataset = (qos) => ({ label: `QoS ${qos}`, data: Array(RATE_WINDOW_S).fill(0), borderColor: COLORS[`qos${qos}`], backgroundColor: COLORS[`qos${qos}`], borderWidth: 2, pointRadius: 0, tension: 0.2 });
  ratesChart = new Chart(document.getElementById('chart-rates'), {
    type: 'line',
    data: { labels, datasets: [dataset(0), dataset(1), dataset(2)] },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: { y: { beginAtZero: true, title: { display: true, text: 'messages / s' } }, x: { ticks: { maxTicksLimit: 6, font: { size: 10 } } } },
      plugins: { legend: { labels: { boxWidth: 10 } } },
    },
  });
  setInterval(() => {
    ratesChart.data.labels.push(clock(Date.now()));
    ratesChart.data.labels.shift();
    for (const qos of [0, 1, 2]) {
      const data = ratesChart.data.datasets[qos].data;
      data.push(counts[qos]);
      data.shift();
      counts[qos] = 0;
    }
    ratesChart.update('none');
  }, 1000);
}

function makeWorkersChart() {
  workersChart = new Chart(document.getElementById('chart-workers'), {
    type: 'doughnut',
    data: { labels: [], datasets: [{ data: [], backgroundColor: COLORS.palette }] },
    options: { animation: false, maintainAspectRatio: false, plugins: { legend: { position: 'right', labels: { boxWidth: 10 } } } },
  });
}

async function loadWorkers() {
  const workers = await api('/api/workers');
  const total = workers.reduce((s, w) => s + (w.readings ?? 0) + (w.alerts ?? 0), 0);
  workersChart.data.labels = workers.map((w) => w.worker);
  workersChart.data.datasets[0].data = workers.map((w) => (w.readings ?? 0) + (w.alerts ?? 0));
  workersChart.update('none');
  const table = document.getElementById('workers-table');
  table.innerHTML = '';
  for (const w of workers) {
    const share = total ? (((w.readings ?? 0) + (w.alerts ?? 0)) / total) * 100 : 0;
    const row = document.createElement('div');
    row.dataset.worker = w.worker;
    row.textContent = `${w.worker}: ${num(w.readings)} readings, ${num(w.alerts)} alerts (${share.toFixed(1)}%)`;
    table.append(row);
  }
}

async function loadStats() {
  const s = await api('/api/stats');
  document.getElementById('readings-count').textContent = num(s.readings);
  document.getElementById('alerts-count').textContent = num(s.alerts);
  document.getElementById('backlog').textContent = num(s.backlog);
  const r = s.ratesPerSecond ?? {};
  document.getElementById('ingest-rate').textContent = `${num((r.qos0 ?? 0) + (r.qos1 ?? 0) + (r.qos2 ?? 0), 1)}/s`;
  document.getElementById('ingest-rate-qos').textContent = `QoS 0 ${num(r.qos0, 1)} · QoS 1 ${num(r.qos1, 1)} · QoS 2 ${num(r.qos2, 1)}`;
}

// -------------------------------------------------------------------------------------------- alerts

function addAlert(alert, site, id, prepend = true) {
  const list = document.getElementById('alerts');
  if (alert.id && list.querySelector(`[data-alert="${CSS.escape(String(alert.id))}"]`)) return;
  const li = document.createElement('li');
  if (alert.id) li.dataset.alert = String(alert.id);
  li.innerHTML = '<span class="when"></span> <b class="who"></b> <span class="what"></span>';
  li.querySelector('.when').textContent = alert.ts ? clock(alert.ts) : '';
  li.querySelector('.who').textContent = id ?? alert.device ?? alert.deviceId ?? '';
  li.querySelector('.what').textContent = `${alert.type ?? 'alert'}: ${alert.message ?? ''}${site ?? alert.site ? ` (${site ?? alert.site})` : ''}`;
  if (prepend) list.prepend(li);
  else list.append(li);
  while (list.children.length > 12) list.lastChild.remove();
}

async function loadAlerts() {
  try {
    const alerts = await api('/api/alerts?limit=12');
    for (const a of alerts) addAlert(a, undefined, undefined, false);
  } catch (error) {
    console.warn(error);
  }
}

// ---------------------------------------------------------------------------------------------- MQTT

function subscribe(sub) {
  if (sub.filters.length === 0) return;
  client.subscribe(sub.filters, { qos: sub.qos, properties: { subscriptionIdentifier: sub.id } }, (error) => {
    if (error) console.warn('subscribe failed', sub.filters, error);
  });
}

function onMessage(topic, payload, packet) {
  const ids = subscriptionIds(packet);
  // Brokers without subscription identifiers: fall back to matching the filters.
  const via = (sub) => (ids.length ? ids.includes(sub.id) : sub.filters.some((f) => matches(f, topic)));
  if (via(SUB.traffic)) {
    counts[packet.qos] = (counts[packet.qos] ?? 0) + 1;
    const parts = topic.split('/');
    if (parts[0] === 'telemetry' && parts.length === 4) {
      try {
        const reading = JSON.parse(text(payload));
        const d = device(parts[2]);
        d.site = d.site ?? parts[1];
        d.latest[parts[3]] = reading;
        d.lastSeen = reading.ts ?? Date.now();
      } catch {
        /* not JSON: not ours */
      }
    } else if (parts[0] === 'alerts' && parts.length === 3) {
      try {
        addAlert(JSON.parse(text(payload)), parts[1], parts[2]);
      } catch {
        /* ignore */
      }
    }
  }
  if (via(SUB.status)) onStatus(topic, payload);
  if (via(SUB.replies)) onReply(payload, packet);
  if (via(SUB.device)) onDeviceTelemetry(topic, payload);
}

async function startMqtt() {
  const url = await brokerWsUrl();
  if (!url) {
    showConnection('no WebSocket URL in /api/config: polling the API only', 'offline');
    return;
  }
  client = connectBroker(url, myId, showConnection);
  client.on('connect', () => {
    for (const sub of Object.values(SUB)) subscribe(sub);
    document.getElementById('ping-btn').disabled = !selected;
  });
  client.on('message', onMessage);
}

// ---------------------------------------------------------------------------------------------- start

for (const m of METRICS) charts[m.name] = makeLineChart(document.getElementById(`chart-${m.name}`), m);
makeRatesChart();
makeWorkersChart();
document.getElementById('ping-btn').addEventListener('click', () => sendCommand('ping'));
startMqtt();
every(5000, loadDevices);
every(2000, loadStats);
every(2000, loadWorkers);
loadAlerts();
// Tiles show "x s ago" and the latest values: refresh them once a second.
setInterval(renderGrid, 1000);
