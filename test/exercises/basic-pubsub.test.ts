import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ExerciseContext } from '../../src/exercises/index.js';
import { explainMatch, runBasicPubsub, SENSOR_TOPICS } from '../../src/exercises/basic-pubsub.js';
import { describeEachBroker, startBroker, type TestBroker } from '../helpers/brokers.js';

describeEachBroker('exercise 1: basic pub/sub', (kind) => {
  let b: TestBroker;
  before(async () => (b = await startBroker(kind)));
  after(() => b.close());

  test('each wildcard filter receives exactly the topics it matches', async () => {
    const ctx = new ExerciseContext(b.url);
    try {
      const report = await runBasicPubsub(ctx);
      const byFilter = Object.fromEntries(report.data.filters.map((f) => [f.filter, [...f.received].sort()]));
      assert.deepEqual(byFilter['sensors/+/room1'], ['sensors/humidity/room1', 'sensors/temperature/room1']);
      assert.deepEqual(byFilter['sensors/temperature/+'], ['sensors/temperature/room1', 'sensors/temperature/room2']);
      // '#' also matches the parent level itself: 'sensors/#' receives 'sensors'.
      assert.deepEqual(byFilter['sensors/#'], [...SENSOR_TOPICS.filter((t) => t.startsWith('sensors'))].sort());
      assert.equal(byFilter['+/+/+']!.length, 5);
      assert.deepEqual(byFilter['home/#'], ['home/livingroom/light/status']);
      assert.ok(report.checks.length > 0 && report.checks.every((c) => c.ok), JSON.stringify(report.checks.filter((c) => !c.ok)));
      // The publisher's packets were traced: CONNECT, CONNACK, then PUBLISH/PUBACK per topic.
      const publisher = ctx.trace.packets.filter((p) => p.client === 'publisher').map((p) => p.type);
      assert.deepEqual(publisher.slice(0, 4), ['CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK']);
      assert.equal(publisher.filter((t) => t === 'PUBACK').length, SENSOR_TOPICS.length);
    } finally {
      await ctx.closeAll();
    }
  });

  test('topics are namespaced by the run prefix on a shared broker', async () => {
    const ctx = new ExerciseContext(b.url, 'mqttlab/test1/');
    try {
      const report = await runBasicPubsub(ctx);
      assert.ok(report.data.published.every((p) => p.topic.startsWith('mqttlab/test1/')));
      assert.ok(report.checks.every((c) => c.ok));
    } finally {
      await ctx.closeAll();
    }
  });
});

test('explainMatch says why a topic does or does not match', () => {
  assert.match(explainMatch('sensors/+/room1', 'sensors/temperature/room1'), /^yes: \+ takes "temperature"/);
  assert.match(explainMatch('sensors/+', 'sensors/temperature/room1'), /^no: topic has 3 levels/);
  assert.match(explainMatch('sensors/#', 'sensors'), /^yes: .*zero levels/);
  assert.match(explainMatch('#', '$SYS/broker/uptime'), /^no: topics starting with \$/);
});
