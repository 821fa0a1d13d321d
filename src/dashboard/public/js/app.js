// The overview page: device grid with live presence, per-device charts, rates by QoS, ingest workers,
// alerts and a request/reply command. History comes from the ingest API, everything live from MQTT
// over WebSocket (MQTT.js in the browser).
import { addAlert, loadAlerts } from './alerts.js';
import { onReply, sendCommand } from './command.js';
import { brokerWsUrl, connectBroker, every, matches, showConnection, subscriptionIds, text } from './common.js';
import { loadDevices, makeDeviceCharts, onDeviceTelemetry, onReading, onStatus, renderGrid, selectedDevice } from './devices.js';
import { myId, SUB, session, subscribe } from './session.js';
import { countMessage, loadStats, loadWorkers, makeRatesChart, makeWorkersChart } from './stats.js';

/** A message on the traffic subscription: counted by QoS; readings update the tiles, alerts the list. */
function onTraffic(topic, payload, packet) {
  countMessage(packet.qos);
  const parts = topic.split('/');
  if (parts[0] === 'telemetry' && parts.length === 4) {
    try {
      onReading(parts[1], parts[2], parts[3], JSON.parse(text(payload)));
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

function onMessage(topic, payload, packet) {
  const ids = subscriptionIds(packet);
  // Brokers without subscription identifiers: fall back to matching the filters.
  const via = (sub) => (ids.length ? ids.includes(sub.id) : sub.filters.some((f) => matches(f, topic)));
  if (via(SUB.traffic)) onTraffic(topic, payload, packet);
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
  const client = connectBroker(url, myId, showConnection);
  session.client = client;
  client.on('connect', () => {
    for (const sub of Object.values(SUB)) subscribe(sub);
    document.getElementById('ping-btn').disabled = !selectedDevice();
  });
  client.on('message', onMessage);
}

makeDeviceCharts();
makeRatesChart();
makeWorkersChart();
document.getElementById('ping-btn').addEventListener('click', () => sendCommand('ping', selectedDevice()));
startMqtt();
every(5000, loadDevices);
every(2000, loadStats);
every(2000, loadWorkers);
loadAlerts();
// Tiles show "x s ago" and the latest values: refresh them once a second.
setInterval(renderGrid, 1000);
