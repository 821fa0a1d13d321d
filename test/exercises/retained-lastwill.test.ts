import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connectMqtt, disconnect } from '../../src/client/index.js';
import { ExerciseContext, type ExerciseReport } from '../../src/exercises/index.js';
import { runRetainedLastwill, type RetainedLastwillResult } from '../../src/exercises/retained-lastwill/index.js';
import { sleep } from '../../src/exercises/report.js';
import { describeEachBroker, startBroker, type TestBroker } from '../helpers/brokers.js';

const types = (packets: Array<{ type: string }>) => packets.map((p) => p.type);

describeEachBroker('exercise 3: retained messages & last will', (kind) => {
  let b: TestBroker;
  // The exercise runs once per broker (~7 s, most of it the Will Delay); the tests read its results.
  let report: ExerciseReport<RetainedLastwillResult>;
  let data: RetainedLastwillResult;
  before(async () => {
    b = await startBroker(kind);
    const ctx = new ExerciseContext(b.url);
    try {
      report = await runRetainedLastwill(ctx);
      data = report.data;
    } finally {
      await ctx.closeAll();
    }
  });
  after(() => b.close());

  test('a late subscriber gets only the latest retained status, at once, with RETAIN=1 [MQTT-3.3.1-5], [MQTT-3.3.1-8]', () => {
    const late = data.retainedStatus.lateSubscriber;
    assert.deepEqual(
      late.received.map((m) => ({ payload: m.payload, retain: m.retain, qos: m.qos })),
      [{ payload: 'online', retain: true, qos: 1 }],
    );
    // Both brokers answer SUBACK first, then the retained PUBLISH (the spec does not fix the order).
    assert.deepEqual(types(late.packets), ['CONNECT', 'CONNACK', 'SUBSCRIBE', 'SUBACK', 'PUBLISH', 'PUBACK']);
    assert.equal(typeof late.afterSubackMs, 'number');
  });

  test('an empty retained payload reaches current subscribers and removes the retained message [MQTT-3.3.1-6], [MQTT-3.3.1-7]', () => {
    const { liveSubscriberGot, laterSubscriber } = data.retainedStatus.clear;
    assert.deepEqual(
      liveSubscriberGot.map((m) => ({ bytes: m.bytes, retain: m.retain })),
      [{ bytes: 0, retain: false }],
    );
    assert.deepEqual(laterSubscriber.received, []);
    assert.deepEqual(types(laterSubscriber.packets), ['CONNECT', 'CONNACK', 'SUBSCRIBE', 'SUBACK', 'DISCONNECT']);
  });

  test('the will is published when the connection closes without DISCONNECT, not on 0x00 [MQTT-3.1.2-8], [MQTT-3.14.4-3]', () => {
    const [crashed, clean] = data.lastWill.cases;
    assert.equal(crashed!.ending, 'socket destroyed, no DISCONNECT');
    assert.deepEqual(
      crashed!.watcherGot.map((m) => [m.topic, m.payload, m.qos]),
      [['devices/sensor-crash/status', 'offline', 1]],
    );
    assert.deepEqual(types(crashed!.devicePackets), ['CONNECT', 'CONNACK']);
    assert.equal(clean!.ending, 'DISCONNECT 0x00 (normal)');
    assert.deepEqual(clean!.watcherGot, []);
    assert.deepEqual(types(clean!.devicePackets), ['CONNECT', 'CONNACK', 'DISCONNECT']);
  });

  test('DISCONNECT with reason 0x04 asks for the will to be published (MQTT 5.0 §3.14.2.1)', () => {
    const withWill = data.lastWill.cases[2]!;
    assert.deepEqual(
      withWill.watcherGot.map((m) => [m.topic, m.payload]),
      [['devices/sensor-0x04/status', 'offline']],
    );
    const sent = withWill.devicePackets.find((p) => p.type === 'DISCONNECT');
    assert.equal(sent?.reasonCode, 0x04);
  });

  test('a will with Will Retain 1 is stored as retained [MQTT-3.1.2-15]; live copies carry RETAIN 0 [MQTT-3.3.1-12]', () => {
    assert.ok(data.lastWill.cases[0]!.watcherGot.every((m) => !m.retain));
    assert.deepEqual(
      data.lastWill.retainedAfterCrash.map((m) => [m.payload, m.retain]),
      [['offline', true]],
    );
  });

  test('device presence: late dashboards learn every state from retained messages, changes arrive live', () => {
    const p = data.presence;
    assert.equal(p.filter, 'devices/+/status');
    const [d1, d2] = [p.dashboards['dashboard-1']!, p.dashboards['dashboard-2']!];
    // Retained messages for a wildcard come in the broker's order: compare them as a set.
    const initial = d1
      .slice(0, 2)
      .map((s) => [s.device, s.status, s.retain])
      .sort();
    assert.deepEqual(initial, [
      ['sensor42', 'online', true],
      ['sensor43', 'online', true],
    ]);
    assert.deepEqual(
      d1.slice(2).map((s) => [s.device, s.status, s.retain]),
      [
        ['sensor42', 'offline', false],
        ['sensor42', 'online', false],
        ['sensor43', 'offline', false],
      ],
    );
    assert.deepEqual(d2.map((s) => [s.device, s.status, s.retain]).sort(), [
      ['sensor42', 'online', true],
      ['sensor43', 'offline', true],
    ]);
    assert.deepEqual(p.stateSeenByLateDashboard, { sensor42: 'online', sensor43: 'offline' });
    // The timeline is in time order and says who saw what.
    assert.ok(p.timeline.every((e, i) => i === 0 || e.at >= p.timeline[i - 1]!.at));
    assert.equal(p.timeline.filter((e) => e.who === 'dashboard-2' && e.status !== undefined).length, 2);
  });

  test('a reconnect within the Will Delay Interval cancels the will [MQTT-3.1.3-9]; staying away publishes it after the delay', () => {
    const w = data.willDelay;
    assert.equal(w.reconnect.sessionPresent, true);
    assert.deepEqual(types(w.reconnect.packets), ['CONNECT', 'CONNACK']);
    assert.deepEqual(w.reconnect.offline, []);
    assert.ok(w.reconnect.watchedMs > w.willDelaySeconds * 1000, `watched ${w.reconnect.watchedMs} ms`);
    assert.equal(w.stayAway.offline.length, 1);
    // Only "not at once": when exactly is the broker's business (Mosquitto counts whole seconds).
    assert.ok(w.stayAway.willAfterMs! >= 1000, `will after ${w.stayAway.willAfterMs} ms`);
    assert.deepEqual(
      w.watcher.map((m) => m.payload),
      ['online', 'online', 'offline'],
    );
  });

  test('every expectation held and the exercise left no retained message behind', async () => {
    assert.ok(report.checks.length >= 12);
    assert.deepEqual(
      report.checks.filter((c) => !c.ok),
      [],
    );
    const probe = await connectMqtt(b.url, { clientId: 'probe-e3' });
    try {
      const got: string[] = [];
      probe.on('message', (topic) => got.push(topic));
      await probe.subscribeAsync('devices/#', { qos: 1 });
      await sleep(300);
      assert.deepEqual(got, []);
    } finally {
      await disconnect(probe);
    }
  });
});
