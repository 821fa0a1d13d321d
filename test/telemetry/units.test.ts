import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PresenceRegistry, RateWindow, SensorModel, TelemetryStore, THRESHOLDS, parseAlertTopic, parseCommandTopic, parseStatusTopic, parseTelemetryTopic } from '../../src/telemetry/index.js';

test('sensor model: same seed gives the same readings; values stay in plausible ranges', () => {
  const a = new SensorModel(42);
  const b = new SensorModel(42);
  const c = new SensorModel(43);
  const t0 = Date.UTC(2026, 0, 1, 12);
  const runA = Array.from({ length: 500 }, (_, i) => a.step(t0 + i * 1000).readings);
  const runB = Array.from({ length: 500 }, (_, i) => b.step(t0 + i * 1000).readings);
  const runC = Array.from({ length: 500 }, (_, i) => c.step(t0 + i * 1000).readings);
  assert.deepEqual(runA, runB);
  assert.notDeepEqual(runA, runC);
  for (const round of runA) {
    const [temperature, humidity, battery] = round.map((r) => r.v);
    assert.ok(temperature! > 5 && temperature! < 50, `temperature ${temperature}`);
    assert.ok(humidity! >= 0 && humidity! <= 100, `humidity ${humidity}`);
    assert.ok(battery! >= 0 && battery! <= 100, `battery ${battery}`);
  }
  assert.deepEqual(runA[0]!.map((r) => [r.metric, r.unit]), [['temperature', '°C'], ['humidity', '%'], ['battery', '%']]);
});

test('sensor model: alerts are edge-triggered — one per crossing, not one per reading', () => {
  const model = new SensorModel(7, { heatEventProbability: 0 });
  const alerts = Array.from({ length: 20_000 }, (_, i) => model.step(Date.UTC(2026, 0, 1) + i * 1000).alerts).flat();
  const low = alerts.filter((a) => a.type === 'low-battery');
  // The battery drains and is swapped below 3 %: each cycle crosses 15 % once.
  assert.ok(low.length >= 2, `${low.length} low-battery alerts`);
  assert.ok(low.length < 200, `${low.length} low-battery alerts: one per cycle, not per reading`);
  for (const a of low) assert.ok(a.v < THRESHOLDS.lowBattery);
  assert.equal(alerts.filter((a) => a.type === 'high-temperature').length, 0, 'no heat events, no temperature alerts');
  // Heat events push some devices over 30 °C; each alert's value is past the threshold.
  const heat = Array.from({ length: 20 }, (_, seed) => {
    const hot = new SensorModel(seed, { heatEventProbability: 0.01 });
    return Array.from({ length: 2000 }, (_, i) => hot.step(Date.UTC(2026, 0, 1) + i * 1000).alerts).flat();
  })
    .flat()
    .filter((a) => a.type === 'high-temperature');
  assert.ok(heat.length > 0, 'some heat alerts over 20 devices');
  for (const a of heat) assert.ok(a.v > THRESHOLDS.highTemperature, `${a.v}`);
});

test('store: series buckets hold mean, min and max of the readings in them', () => {
  const store = new TelemetryStore({ path: ':memory:', retentionHours: 0 });
  try {
    const base = 1_000_000;
    // 0..99 at ts base+0..base+99 → 4 buckets of 25 ms.
    for (let i = 0; i < 100; i++) store.addReading({ device: 'd1', site: 's', metric: 'temperature', ts: base + i, v: i, unit: '°C', worker: i % 2 ? 'w1' : 'w2' });
    store.addReading({ device: 'd2', site: 's', metric: 'temperature', ts: base, v: 1000, unit: '°C', worker: 'w1' });
    assert.equal(store.backlog, 101);
    store.flush();
    assert.equal(store.backlog, 0);
    assert.equal(store.readingsWritten, 101);
    const { bucketMs, points } = store.series('d1', 'temperature', base, base + 99, 4);
    assert.equal(bucketMs, 25);
    assert.deepEqual(points.map((p) => [p.n, p.min, p.max, p.v, p.ts]), [
      [25, 0, 24, 12, base + 12],
      [25, 25, 49, 37, base + 37],
      [25, 50, 74, 62, base + 62],
      [25, 75, 99, 87, base + 87],
    ]);
    assert.equal(store.series('d1', 'temperature', base + 200, base + 300, 10).points.length, 0);
    assert.deepEqual(store.latest('d1'), { temperature: { v: 99, unit: '°C', ts: base + 99 } });
    assert.deepEqual(store.countsByWorker(), [{ worker: 'w1', readings: 51, alerts: 0 }, { worker: 'w2', readings: 50, alerts: 0 }]);
  } finally {
    store.close();
  }
});

test('store: an alert redelivered with the same id is stored once and counted as a duplicate', () => {
  const store = new TelemetryStore({ path: ':memory:', retentionHours: 0 });
  try {
    const alert = { id: 'run-dev-001-1', device: 'dev-001', site: 'site-1', ts: 5, type: 'low-battery', message: 'battery 14 %', v: 14, worker: 'w1' };
    assert.equal(store.addAlert(alert), true);
    assert.equal(store.addAlert({ ...alert, worker: 'w2' }), false);
    assert.equal(store.alertsWritten, 1);
    assert.equal(store.alertDuplicates, 1);
    assert.deepEqual(store.alerts(10), [alert]);
    assert.deepEqual(store.totals(), { readings: 0, alerts: 1 });
  } finally {
    store.close();
  }
  assert.throws(() => store.addReading({ device: 'd', site: 's', metric: 'm', ts: 1, v: 1, unit: '', worker: 'w' }), /closed/);
});

test('presence: retained statuses seed the registry without a time, live changes carry one, empty payload forgets', () => {
  const p = new PresenceRegistry();
  assert.ok(p.applyStatus('dev-001', 'online', { retained: true, site: 'site-1' }));
  assert.equal(p.get('dev-001')!.statusChangedAt, null);
  assert.equal(p.applyStatus('dev-001', 'online', { retained: false }), undefined, 'no change, no event');
  const changed = p.applyStatus('dev-001', 'offline', { retained: false, now: 1234 });
  assert.deepEqual(changed, { id: 'dev-001', site: 'site-1', status: 'offline', statusChangedAt: 1234, lastSeen: null });
  p.applyStatus('dev-002', 'rebooting', { retained: false });
  assert.equal(p.get('dev-002')!.status, 'unknown');
  p.seen('dev-003', 'site-2', 99);
  assert.deepEqual(p.counts(), { devices: 3, online: 0, offline: 1 });
  p.applyStatus('dev-001', '', { retained: true });
  assert.equal(p.get('dev-001'), undefined);
  assert.deepEqual(p.list().map((d) => d.id), ['dev-002', 'dev-003']);
});

test('rates: counts per second over a window of whole seconds', () => {
  const r = new RateWindow(10);
  const t = 1_000_000_000_000;
  for (let s = 0; s < 10; s++) r.add(5, t + s * 1000);
  r.add(100, t + 10_000); // the current second is not counted yet
  assert.equal(r.perSecond(t + 10_500), 5);
  assert.equal(r.perSecond(t + 30_000), 0, 'old seconds fall out of the window');
});

test('topic scheme: parsers accept our topics and refuse wildcards, extra levels and $ prefixes', () => {
  assert.deepEqual(parseTelemetryTopic('telemetry/site-1/dev-001/temperature'), { site: 'site-1', device: 'dev-001', metric: 'temperature' });
  assert.equal(parseTelemetryTopic('telemetry/site-1/dev-001'), undefined);
  assert.equal(parseTelemetryTopic('telemetry/site-1/dev-001/temperature/x'), undefined);
  assert.equal(parseTelemetryTopic('telemetry/site-1/$dev/temperature'), undefined);
  assert.equal(parseTelemetryTopic('telemetry/site-1//temperature'), undefined);
  assert.deepEqual(parseAlertTopic('alerts/site-2/dev-009'), { site: 'site-2', device: 'dev-009' });
  assert.deepEqual(parseStatusTopic('devices/dev-001/status'), { device: 'dev-001' });
  assert.equal(parseStatusTopic('devices/dev-001/state'), undefined);
  assert.deepEqual(parseCommandTopic('commands/dev-001/ping'), { device: 'dev-001', command: 'ping' });
});

test('store: a file written by another schema version is refused with a clear message, nothing in it touched', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const Database = (await import('better-sqlite3')).default;
  const dir = mkdtempSync(join(tmpdir(), 'mqttlab-store-'));
  try {
    const path = join(dir, 'old.db');
    const old = new Database(path);
    old.exec('CREATE TABLE readings (device TEXT, v REAL); INSERT INTO readings VALUES (\'dev-001\', 1)');
    old.close();
    assert.throws(() => new TelemetryStore({ path }), /old\.db was written by another version of mqttlab \(schema 0, this one is 2\): move it away or pass another --db/);
    const check = new Database(path, { readonly: true });
    assert.deepEqual(check.prepare('SELECT * FROM readings').all(), [{ device: 'dev-001', v: 1 }]);
    check.close();
    // A store reopened by this version keeps its rows and counts them.
    const fresh = join(dir, 'fresh.db');
    const first = new TelemetryStore({ path: fresh, retentionHours: 0 });
    first.addReading({ device: 'd', site: 's', metric: 'm', ts: 1, v: 2, unit: 'u', worker: 'w1' });
    first.close();
    const second = new TelemetryStore({ path: fresh, retentionHours: 0 });
    assert.deepEqual(second.totals(), { readings: 1, alerts: 0 });
    assert.deepEqual(second.latest('d'), { m: { v: 2, unit: 'u', ts: 1 } });
    second.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
