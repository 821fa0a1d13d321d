import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { LINK_PROFILE_NAMES, LINK_PROFILES, linkProfile, validateFaults } from '../../src/link/index.js';
import { Random } from '../../src/util/index.js';
import {
  Backoff,
  openStore,
  PresenceRegistry,
  RateWindow,
  SensorModel,
  THRESHOLDS,
  parseAlertTopic,
  parseCommandTopic,
  parseStatusTopic,
  parseTelemetryTopic,
} from '../../src/telemetry/index.js';

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
  assert.deepEqual(
    runA[0]!.map((r) => [r.metric, r.unit]),
    [
      ['temperature', '°C'],
      ['humidity', '%'],
      ['battery', '%'],
    ],
  );
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

test('presence: retained statuses seed the registry without a time, live changes carry one, empty payload forgets', () => {
  const p = new PresenceRegistry();
  assert.ok(p.applyStatus('dev-001', 'online', { retained: true, site: 'site-1' }));
  assert.equal(p.get('dev-001')!.statusChangedAt, null);
  assert.equal(p.applyStatus('dev-001', 'online', { retained: false }), undefined, 'no change, no event');
  const changed = p.applyStatus('dev-001', 'offline', { retained: false, now: 1234 });
  assert.deepEqual(changed, {
    id: 'dev-001',
    site: 'site-1',
    status: 'offline',
    statusChangedAt: 1234,
    lastSeen: null,
    link: null,
    reconnects: null,
  });
  p.applyStatus('dev-002', 'rebooting', { retained: false });
  assert.equal(p.get('dev-002')!.status, 'unknown');
  p.seen('dev-003', 'site-2', 99);
  assert.deepEqual(p.counts(), { devices: 3, online: 0, offline: 1 });
  p.applyStatus('dev-001', '', { retained: true });
  assert.equal(p.get('dev-001'), undefined);
  assert.deepEqual(
    p.list().map((d) => d.id),
    ['dev-002', 'dev-003'],
  );
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
  assert.deepEqual(parseTelemetryTopic('telemetry/site-1/dev-001/temperature'), {
    site: 'site-1',
    device: 'dev-001',
    metric: 'temperature',
  });
  assert.equal(parseTelemetryTopic('telemetry/site-1/dev-001'), undefined);
  assert.equal(parseTelemetryTopic('telemetry/site-1/dev-001/temperature/x'), undefined);
  assert.equal(parseTelemetryTopic('telemetry/site-1/$dev/temperature'), undefined);
  assert.equal(parseTelemetryTopic('telemetry/site-1//temperature'), undefined);
  assert.deepEqual(parseAlertTopic('alerts/site-2/dev-009'), { site: 'site-2', device: 'dev-009' });
  assert.deepEqual(parseStatusTopic('devices/dev-001/status'), { device: 'dev-001' });
  assert.equal(parseStatusTopic('devices/dev-001/state'), undefined);
  assert.deepEqual(parseCommandTopic('commands/dev-001/ping'), { device: 'dev-001', command: 'ping' });
});

test('SQLite store: a schema 2 file (before the link counters) is upgraded in place, its rows kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mqttlab-store-'));
  try {
    const path = join(dir, 'v2.db');
    const first = await openStore(path, { retentionHours: 0 });
    first.addReading({ device: 'd', site: 's', metric: 'm', ts: 1, v: 2, unit: 'u', worker: 'w1' });
    await first.close();
    const v2 = new Database(path);
    v2.exec('DROP TABLE reading_runs; DROP TABLE alert_duplicates; PRAGMA user_version = 2');
    v2.close();
    const upgraded = await openStore(path, { retentionHours: 0 });
    try {
      assert.deepEqual(upgraded.totals(), { readings: 1, alerts: 0 });
      upgraded.addReading({ device: 'd', site: 's', metric: 'm', ts: 3, v: 4, unit: 'u', worker: 'w1', seq: 3, run: 'r' });
      upgraded.addReading({ device: 'd', site: 's', metric: 'm', ts: 1, v: 4, unit: 'u', worker: 'w1', seq: 1, run: 'r' });
      await upgraded.flush();
      assert.deepEqual(await upgraded.deliveryByDevice(), [{ device: 'd', readingsLost: 1, alertsDuplicated: 0 }]);
    } finally {
      await upgraded.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SQLite store: a file written by another schema version is refused with a clear message, nothing in it touched', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mqttlab-store-'));
  try {
    const path = join(dir, 'old.db');
    const old = new Database(path);
    old.exec("CREATE TABLE readings (device TEXT, v REAL); INSERT INTO readings VALUES ('dev-001', 1)");
    old.close();
    await assert.rejects(
      openStore(path),
      /old\.db was written by another version of mqttlab \(schema 0, this one is 3\): move it away or pass another --store/,
    );
    const check = new Database(path, { readonly: true });
    assert.deepEqual(check.prepare('SELECT * FROM readings').all(), [{ device: 'dev-001', v: 1 }]);
    check.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('presence: a status carries the device’s link and reconnects; the will (without them) keeps the last ones', () => {
  const p = new PresenceRegistry();
  p.applyStatus('dev-001', 'online', { retained: false, site: 'site-1', link: 'flaky', reconnects: 0 });
  p.applyStatus('dev-001', 'offline', { retained: false, site: 'site-1' });
  p.applyStatus('dev-001', 'online', { retained: false, link: 'flaky', reconnects: 1 });
  p.applyStatus('dev-001', 'online', { retained: false, link: 'flaky', reconnects: 2 });
  assert.deepEqual([p.get('dev-001')!.link, p.get('dev-001')!.reconnects], ['flaky', 2]);
  p.applyStatus('dev-001', 'online', { retained: true, link: 'flaky', reconnects: 1 });
  assert.equal(p.get('dev-001')!.reconnects, 2, 'an older count (a retained status replayed) never lowers it');
});

test('reconnect backoff: each delay in [d/2, d) with d doubling from the base up to the bound, back to the base on reset', () => {
  const backoff = new Backoff(new Random(7), { baseMs: 100, maxMs: 1000 });
  const delays = Array.from({ length: 8 }, () => backoff.next());
  const ceilings = [100, 200, 400, 800, 1000, 1000, 1000, 1000];
  for (const [i, d] of delays.entries())
    assert.ok(d >= ceilings[i]! / 2 && d <= ceilings[i]!, `delay ${i}: ${d} ms, ceiling ${ceilings[i]}`);
  backoff.reset();
  assert.ok(backoff.next() <= 100);
  const again = new Backoff(new Random(7), { baseMs: 100, maxMs: 1000 });
  assert.deepEqual(
    Array.from({ length: 8 }, () => again.next()),
    delays,
    'same seed, same delays',
  );
});

test('link profiles: lan, wifi, cellular, satellite, flaky, each valid and explained; an unknown name is one line naming them', () => {
  assert.deepEqual(LINK_PROFILE_NAMES, ['lan', 'wifi', 'cellular', 'satellite', 'flaky']);
  for (const p of LINK_PROFILES) {
    assert.doesNotThrow(() => validateFaults(p.faults), p.name);
    assert.ok(p.rationale.length > 20, p.name);
  }
  assert.equal(linkProfile('Satellite').faults.rateBytesPerSecond, 300);
  assert.throws(() => linkProfile('5g'), { message: 'unknown link profile "5g" (one of lan, wifi, cellular, satellite, flaky)' });
});
