/**
 * Prometheus metrics end to end: `mqttlab broker --metrics-port` and `mqttlab ingest` (its /metrics on
 * the API port) as child processes, a real Prometheus scraping both every second, a known load, and
 * the counters read back through Prometheus' query API. promtool checks both expositions.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { freePort, waitForPort } from '../../src/util/index.js';
import { collect, connectClient, end, waitUntil } from '../helpers/clients.js';
import { prometheusSkip, promtoolCheck, startPrometheus, type TestPrometheus } from '../helpers/prometheus.js';

const CLI = fileURLToPath(new URL('../../src/cli/index.js', import.meta.url));

/** The load: messages per QoS between two test clients, readings and alerts for ingestion, drops. */
const LOAD = { qos0: 30, qos1: 20, qos2: 10, readings: 40, alerts: 5, duplicateAlerts: 1, offlineDrops: 3 };

describe('Prometheus scrapes the broker and ingestion', { skip: prometheusSkip }, () => {
  const children: ChildProcess[] = [];
  const clients: MqttClient[] = [];
  let work: string;
  let brokerUrl: string;
  let brokerMetrics: string;
  let ingestMetrics: string;
  let prometheus: TestPrometheus | undefined;

  const cli = (args: string[]) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.resume();
    children.push(child);
    return child;
  };

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'mqttlab-metrics-'));
    const [mqttPort, metricsPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    // --data-dir: a crash-safe persistence, so QoS 1/2 acknowledgements wait for commits that are timed.
    const broker = cli([
      'broker',
      '-p',
      String(mqttPort),
      '-w',
      '0',
      '--sys-interval',
      '0',
      '--metrics-port',
      String(metricsPort),
      '--data-dir',
      join(work, 'broker'),
    ]);
    await waitForPort(metricsPort, 10_000, () => broker.exitCode !== null);
    brokerUrl = `mqtt://127.0.0.1:${mqttPort}`;
    brokerMetrics = `http://127.0.0.1:${metricsPort}/metrics`;
    const ingest = cli(['ingest', '--broker', brokerUrl, '--workers', '2', '--port', String(apiPort), '--store', ':memory:']);
    await waitForPort(apiPort, 10_000, () => ingest.exitCode !== null);
    ingestMetrics = `http://127.0.0.1:${apiPort}/metrics`;
    prometheus = await startPrometheus({ broker: brokerMetrics, ingest: ingestMetrics });
  });

  after(async () => {
    for (const c of clients) await end(c, true).catch(() => {});
    await prometheus?.close();
    for (const child of children) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(work, { recursive: true, force: true });
  });

  test('after a known load, Prometheus returns the counters the load implies', async () => {
    const client = async (clientId: string, options = {}) => {
      const c = await connectClient(brokerUrl, { clientId, ...options });
      clients.push(c);
      return c;
    };
    // An offline session with a QoS 0 subscription: QoS 0 messages to it are dropped (offline-qos0).
    const away = await client('metrics-away', { clean: false, properties: { sessionExpiryInterval: 300 } });
    await away.subscribeAsync('drop/#', { qos: 0 });
    await end(away);
    const subscriber = await client('metrics-sub');
    const received = collect(subscriber);
    await subscriber.subscribeAsync('load/#', { qos: 2 });
    const publisher = await client('metrics-pub');
    for (const [qos, count] of [
      [0, LOAD.qos0],
      [1, LOAD.qos1],
      [2, LOAD.qos2],
    ] as const) {
      for (let i = 0; i < count; i++) await publisher.publishAsync(`load/q${qos}`, `m${i}`, { qos });
    }
    for (let i = 0; i < LOAD.readings; i++)
      await publisher.publishAsync('telemetry/site-1/dev-m/temperature', JSON.stringify({ v: 20 + i / 10, unit: '°C', ts: Date.now() }), {
        qos: 0,
      });
    for (let i = 0; i < LOAD.alerts + LOAD.duplicateAlerts; i++)
      await publisher.publishAsync(
        'alerts/site-1/dev-m',
        JSON.stringify({ id: `metrics-alert-${Math.min(i, LOAD.alerts - 1)}`, type: 'test', message: 'm' }),
        { qos: 1 },
      );
    for (let i = 0; i < LOAD.offlineDrops; i++) await publisher.publishAsync('drop/x', 'gone', { qos: 0 });
    await waitUntil(() => received.length === LOAD.qos0 + LOAD.qos1 + LOAD.qos2, 5000, 'the subscriber received the load');

    const expected: Record<string, number> = {
      'mqttlab_broker_messages_received_total{qos="0"}': LOAD.qos0 + LOAD.readings + LOAD.offlineDrops,
      'mqttlab_broker_messages_received_total{qos="1"}': LOAD.qos1 + LOAD.alerts + LOAD.duplicateAlerts,
      'mqttlab_broker_messages_received_total{qos="2"}': LOAD.qos2,
      'mqttlab_broker_messages_sent_total{qos="0"}': LOAD.qos0 + LOAD.readings,
      'mqttlab_broker_messages_sent_total{qos="1"}': LOAD.qos1 + LOAD.alerts + LOAD.duplicateAlerts,
      'mqttlab_broker_messages_sent_total{qos="2"}': LOAD.qos2,
      'mqttlab_broker_messages_dropped_total{reason="offline-qos0"}': LOAD.offlineDrops,
      'mqttlab_broker_sessions{state="offline"}': 1,
      'sum(mqttlab_ingest_readings_stored_total)': LOAD.readings,
      'sum(mqttlab_ingest_alerts_stored_total)': LOAD.alerts,
      'sum(mqttlab_ingest_alert_duplicates_total)': LOAD.duplicateAlerts,
      'sum(mqttlab_ingest_lag_seconds_count)': LOAD.readings,
      'count(mqttlab_ingest_worker_connected == 1)': 2,
    };
    const seen: Record<string, number | undefined> = {};
    const deadline = Date.now() + 20_000;
    for (;;) {
      for (const expression of Object.keys(expected)) seen[expression] = await prometheus!.query(expression);
      if (Object.keys(expected).every((e) => seen[e] === expected[e]) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.deepEqual(seen, expected);
    // Bytes by QoS: a QoS 0 PUBLISH of "m0" on load/q0 is 2 + 2 + 7 + 2 bytes; the sum covers them all.
    assert.ok((await prometheus!.query('mqttlab_broker_publish_received_bytes_total{qos="0"}'))! >= LOAD.qos0 * 13);
    assert.ok((await prometheus!.query('mqttlab_broker_persistence_commit_seconds_count'))! > 0, 'QoS 1/2 acks waited for timed commits');
    assert.equal(await prometheus!.query('mqttlab_ingest_store_up'), 1);
    assert.equal(await prometheus!.query('up{job="broker"}'), 1);
    assert.equal(await prometheus!.query('up{job="ingest"}'), 1);
  });

  test('promtool check metrics passes on both endpoints', async () => {
    for (const endpoint of [brokerMetrics, ingestMetrics]) {
      const text = await (await fetch(endpoint)).text();
      assert.match(text, /^# HELP mqttlab_/m);
      const { code, output } = await promtoolCheck(text);
      assert.equal(code, 0, `${endpoint}: ${output}`);
    }
  });
});
