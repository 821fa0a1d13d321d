// Packet flow page: publishes one message at QoS 0, 1 and 2 to a topic this page subscribes to, records
// what MQTT.js sent and received (`packetsend` / `packetreceive`) and draws it as a sequence diagram.
import { brokerWsUrl, clientId, connectBroker, showConnection, text } from './common.js';

const SVG = 'http://www.w3.org/2000/svg';
const myId = clientId('flow');
const topic = `mqttlab/flow/${myId}`;
/** Packets expected per run, keep-alive pings aside: both directions of the round trip through the broker. */
const EXPECTED = { 0: 2, 1: 4, 2: 8 };
const RUN_TIMEOUT_MS = 5000;

/** Every packet of this page's connection: { t (ms, performance.now), dir: 'out'|'in', packet }. */
const trace = [];
let client;
let running = false;
let brokerLabel = 'MQTT broker';

function record(dir, packet) {
  trace.push({ t: performance.now(), dir, packet });
}

/** Who a packet belongs to: the browser's own publish ('send') or the broker's delivery to it ('recv'). */
function role(entry) {
  const { dir, packet } = entry;
  switch (packet.cmd) {
    case 'publish':
    case 'pubrel':
      return dir === 'out' ? 'send' : 'recv';
    case 'puback':
    case 'pubrec':
    case 'pubcomp':
      return dir === 'in' ? 'send' : 'recv';
    default:
      return 'setup';
  }
}

function details(packet) {
  const parts = [];
  // A QoS 0 PUBLISH has no packet identifier [MQTT-2.2.1-2] (MQTT.js may still carry a 0 in the object).
  if (packet.messageId !== undefined && !(packet.cmd === 'publish' && packet.qos === 0)) parts.push(`id ${packet.messageId}`);
  if (packet.cmd === 'publish') {
    parts.push(`QoS ${packet.qos}`);
    if (packet.dup) parts.push('DUP');
    if (packet.retain) parts.push('RETAIN');
  }
  if (packet.cmd === 'subscribe') parts.push(packet.subscriptions.map((s) => `${s.topic} QoS ${s.qos}`).join(', '));
  if (packet.cmd === 'suback') parts.push(`granted ${(packet.granted ?? []).join(',')}`);
  if (packet.cmd === 'connect')
    parts.push(`MQTT ${packet.protocolVersion === 5 ? '5.0' : packet.protocolVersion}, keep alive ${packet.keepalive}s`);
  if (packet.cmd === 'connack') parts.push(`session present ${packet.sessionPresent ? 1 : 0}`);
  if (packet.reasonCode !== undefined && packet.cmd !== 'suback') parts.push(`reason 0x${packet.reasonCode.toString(16).padStart(2, '0')}`);
  return parts.join(' · ');
}

function el(name, attrs = {}, content) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (content !== undefined) node.textContent = content;
  return node;
}

/** Draws entries (in time order) as a client ↔ broker sequence diagram with timings relative to t0. */
function draw(container, entries, t0) {
  const width = 460;
  const clientX = 110;
  const brokerX = 400;
  const top = 54;
  const row = 50;
  const slant = 14;
  const height = top + entries.length * row + 30;
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', role: 'img', class: 'sequence' });
  svg.append(el('title', {}, `Sequence diagram: ${entries.map((e) => e.packet.cmd.toUpperCase()).join(', ')}`));
  const defs = el('defs');
  for (const r of ['send', 'recv', 'setup']) {
    const marker = el('marker', {
      id: `arrow-${r}`,
      viewBox: '0 0 10 10',
      refX: 9,
      refY: 5,
      markerWidth: 7,
      markerHeight: 7,
      orient: 'auto-start-reverse',
    });
    marker.append(el('path', { d: 'M0,0 L10,5 L0,10 z', class: `head ${r}` }));
    defs.append(marker);
  }
  svg.append(defs);
  // Participants and lifelines.
  for (const [x, label, sub] of [
    [clientX, 'Browser', 'MQTT.js client'],
    [brokerX, 'Broker', brokerLabel],
  ]) {
    svg.append(el('rect', { x: x - 58, y: 4, width: 116, height: 34, rx: 6, class: 'actor' }));
    svg.append(el('text', { x, y: 19, class: 'actor-name', 'text-anchor': 'middle' }, label));
    svg.append(el('text', { x, y: 32, class: 'actor-sub', 'text-anchor': 'middle' }, sub));
    svg.append(el('line', { x1: x, y1: 38, x2: x, y2: height - 6, class: 'lifeline' }));
  }
  entries.forEach((entry, i) => {
    const y = top + i * row + 18;
    const r = role(entry);
    const type = entry.packet.cmd.toUpperCase();
    const g = el('g', { class: `msg ${r}`, 'data-type': type, 'data-dir': entry.dir, 'data-id': entry.packet.messageId ?? '' });
    const [x1, y1, x2, y2] = entry.dir === 'out' ? [clientX, y, brokerX - 2, y + slant] : [brokerX, y, clientX + 2, y + slant];
    g.append(el('line', { x1, y1, x2, y2, class: `arrow ${r}`, 'marker-end': `url(#arrow-${r})` }));
    const mid = (clientX + brokerX) / 2;
    g.append(el('text', { x: mid, y: y - 5, class: 'ptype', 'text-anchor': 'middle' }, type));
    g.append(el('text', { x: mid, y: y + slant + 13, class: 'pdetail', 'text-anchor': 'middle' }, details(entry.packet)));
    g.append(
      el(
        'text',
        { x: clientX - 8, y: entry.dir === 'out' ? y + 4 : y + slant + 4, class: 'ptime', 'text-anchor': 'end' },
        `+${(entry.t - t0).toFixed(1)} ms`,
      ),
    );
    svg.append(g);
  });
  container.replaceChildren(svg);
  // The same packets as a table, for copy/paste and screen readers.
  const table = document.createElement('table');
  table.className = 'packets';
  table.innerHTML = '<thead><tr><th>t (ms)</th><th></th><th>packet</th><th>details</th></tr></thead>';
  const body = document.createElement('tbody');
  for (const entry of entries) {
    const tr = document.createElement('tr');
    tr.className = role(entry);
    for (const cell of [
      (entry.t - t0).toFixed(2),
      entry.dir === 'out' ? 'browser → broker' : 'broker → browser',
      entry.packet.cmd.toUpperCase(),
      details(entry.packet),
    ]) {
      const td = document.createElement('td');
      td.textContent = cell;
      tr.append(td);
    }
    body.append(tr);
  }
  table.append(body);
  container.append(table);
}

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Publishes once at `qos` and waits (bounded) until both halves of the flow crossed the wire. */
async function run(qos) {
  const section = document.querySelector(`[data-flow-qos="${qos}"]`);
  section.dataset.complete = 'false';
  const start = trace.length;
  const payload = `flow test QoS ${qos} · ${new Date().toISOString()}`;
  let delivered = false;
  const onMessage = (t, message) => {
    if (t === topic && text(message) === payload) delivered = true;
  };
  client.on('message', onMessage);
  let acknowledged = false;
  client.publish(topic, payload, { qos }, () => (acknowledged = true));
  const deadline = performance.now() + RUN_TIMEOUT_MS;
  const relevant = () => trace.slice(start).filter((e) => e.packet.cmd !== 'pingreq' && e.packet.cmd !== 'pingresp');
  while (performance.now() < deadline && !(delivered && acknowledged && relevant().length >= EXPECTED[qos])) await wait(10);
  // A moment more so a late packet of the receiving half (e.g. PUBCOMP) is not cut off.
  await wait(50);
  client.removeListener('message', onMessage);
  const entries = relevant().map((e) => ({
    ...e,
    packet: e.packet.cmd === 'publish' && e.packet.qos === 0 ? { ...e.packet, messageId: undefined } : e.packet,
  }));
  const first = entries.find((e) => e.dir === 'out' && e.packet.cmd === 'publish');
  draw(section.querySelector('.diagram'), entries, first ? first.t : (entries[0]?.t ?? 0));
  section.dataset.complete = String(delivered && acknowledged && entries.length >= EXPECTED[qos]);
  section.dataset.packets = entries.map((e) => e.packet.cmd.toUpperCase()).join(',');
}

async function runAll(which) {
  if (running) return;
  running = true;
  setButtons(false);
  try {
    for (const qos of which) await run(qos);
  } finally {
    running = false;
    setButtons(true);
  }
}

function setButtons(enabled) {
  for (const b of document.querySelectorAll('[data-run]')) b.disabled = !enabled;
}

async function start() {
  document.getElementById('flow-topic').textContent = topic;
  const url = await brokerWsUrl();
  if (!url) {
    showConnection('no WebSocket URL in /api/config', 'offline');
    return;
  }
  brokerLabel = url.replace(/^wss?:\/\//, '').replace(/\/.*$/, '');
  // manualConnect so that CONNECT itself is recorded.
  client = connectBroker(url, myId, showConnection, { manualConnect: true, reconnectPeriod: 0 });
  client.on('packetsend', (p) => record('out', p));
  client.on('packetreceive', (p) => record('in', p));
  client.connect();
  await new Promise((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  await new Promise((resolve, reject) => client.subscribe(topic, { qos: 2 }, (error) => (error ? reject(error) : resolve())));
  const setup = document.querySelector('[data-flow-qos="setup"]');
  const setupEntries = trace.filter((e) => role(e) === 'setup' && !e.packet.cmd.startsWith('ping'));
  draw(setup.querySelector('.diagram'), setupEntries, setupEntries[0]?.t ?? 0);
  setup.dataset.complete = 'true';
  for (const b of document.querySelectorAll('[data-run]')) {
    b.addEventListener('click', () => runAll(b.dataset.run === 'all' ? [0, 1, 2] : [Number(b.dataset.run)]));
  }
  await runAll([0, 1, 2]);
}

start().catch((error) => showConnection(`error: ${error.message}`, 'offline'));
