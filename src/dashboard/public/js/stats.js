// Rates by QoS (counted from the traffic subscription), the ingest workers' shares and the totals.
import { COLORS, api, clock, num } from './common.js';
import { renderLinks } from './links.js';

const RATE_WINDOW_S = 60;
let ratesChart;
let workersChart;
const counts = { 0: 0, 1: 0, 2: 0 };

/** Counts one message of the traffic subscription at its QoS. */
export function countMessage(qos) {
  counts[qos] = (counts[qos] ?? 0) + 1;
}

/** The messages-per-second chart, shifted once a second. */
export function makeRatesChart() {
  const labels = Array.from({ length: RATE_WINDOW_S }, () => '');
  const dataset = (qos) => ({
    label: `QoS ${qos}`,
    data: Array(RATE_WINDOW_S).fill(0),
    borderColor: COLORS[`qos${qos}`],
    backgroundColor: COLORS[`qos${qos}`],
    borderWidth: 2,
    pointRadius: 0,
    tension: 0.2,
  });
  ratesChart = new Chart(document.getElementById('chart-rates'), {
    type: 'line',
    data: { labels, datasets: [dataset(0), dataset(1), dataset(2)] },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: {
        y: { beginAtZero: true, title: { display: true, text: 'messages / s' } },
        x: { ticks: { maxTicksLimit: 6, font: { size: 10 } } },
      },
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

/** The doughnut of the ingest workers' shares. */
export function makeWorkersChart() {
  workersChart = new Chart(document.getElementById('chart-workers'), {
    type: 'doughnut',
    data: { labels: [], datasets: [{ data: [], backgroundColor: COLORS.palette }] },
    options: { animation: false, maintainAspectRatio: false, plugins: { legend: { position: 'right', labels: { boxWidth: 10 } } } },
  });
}

/** Each ingest worker's readings and alerts, from the API. */
export async function loadWorkers() {
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
    const where = w.node ? ` on ${w.node}` : '';
    row.textContent = `${w.worker}${where}: ${num(w.readings)} readings, ${num(w.alerts)} alerts (${share.toFixed(1)}%)`;
    table.append(row);
  }
}

/** The totals cards, from the API. */
export async function loadStats() {
  const s = await api('/api/stats');
  document.getElementById('readings-count').textContent = num(s.readings);
  document.getElementById('alerts-count').textContent = num(s.alerts);
  document.getElementById('backlog').textContent = num(s.backlog);
  const r = s.ratesPerSecond ?? {};
  document.getElementById('ingest-rate').textContent = `${num((r.qos0 ?? 0) + (r.qos1 ?? 0) + (r.qos2 ?? 0), 1)}/s`;
  document.getElementById('ingest-rate-qos').textContent = `QoS 0 ${num(r.qos0, 1)} · QoS 1 ${num(r.qos1, 1)} · QoS 2 ${num(r.qos2, 1)}`;
  renderLinks(s.links);
  // A cluster (mqttlab start --nodes N): its nodes and the clients connected to each.
  if (s.nodes) {
    document.getElementById('nodes-card').hidden = false;
    document.getElementById('nodes-count').textContent = num(s.nodes.length);
    const clients = s.nodes.map((n) => `${n.node} ${num(n.clientsConnected)}`).join(' · ');
    document.getElementById('nodes-clients').textContent = `clients: ${clients}`;
  }
}
