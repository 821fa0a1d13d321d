import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExerciseContext } from '../../src/exercises/index.js';
import {
  compareQosLevels,
  demonstrateDowngrade,
  demonstrateQos0,
  demonstrateQos1,
  demonstrateQos2,
  EXPECTED_FLOW,
  runQosLevels,
} from '../../src/exercises/qos-levels.js';
import { describeEachBroker } from '../helpers/brokers.js';
import { exerciseBroker } from '../helpers/exercise-broker.js';

describeEachBroker('exercise 2: QoS levels', (kind) => {
  const env = exerciseBroker(kind);

  test('each QoS shows its packet flow on both sides of the broker [MQTT-4.3.1..4.3.3]', async () => {
    for (const demonstrate of [demonstrateQos0, demonstrateQos1, demonstrateQos2]) {
      const flow = await demonstrate(env.ctx);
      assert.deepEqual(flow.publisherSequence, EXPECTED_FLOW[flow.qos].publisher);
      assert.deepEqual(flow.subscriberSequence, EXPECTED_FLOW[flow.qos].subscriber);
      if (flow.qos > 0) {
        // The broker picks its own non-zero packet id towards the subscriber [MQTT-2.2.1-3].
        const ids = flow.subscriber.map((p) => p.messageId);
        assert.ok(
          ids.every((id) => id !== undefined && id > 0 && id === ids[0]),
          `one non-zero id per flow: ${ids}`,
        );
      }
    }
  });

  test('a subscriber receives min(published QoS, granted QoS) [MQTT-3.8.4-8]', async () => {
    const { grid } = await demonstrateDowngrade(env.ctx);
    assert.deepEqual(grid, [
      [0, 0, 0],
      [0, 1, 1],
      [0, 1, 2],
    ]);
  });

  test('comparing QoS levels: every message arrives, and each costs 1, 2 or 4 packets per side', async () => {
    const comparison = await compareQosLevels(env.ctx, 20);
    assert.deepEqual(
      comparison.map((c) => c.received),
      [20, 20, 20],
    );
    assert.deepEqual(
      comparison.map((c) => c.packetsPerMessage),
      [
        { publisher: 1, subscriber: 1 },
        { publisher: 2, subscriber: 2 },
        { publisher: 4, subscriber: 4 },
      ],
    );
    assert.ok(comparison[0]!.bytesPerMessage.publisher < comparison[1]!.bytesPerMessage.publisher);
    assert.ok(comparison[1]!.bytesPerMessage.publisher < comparison[2]!.bytesPerMessage.publisher);
  });

  test('the whole exercise holds every expectation and answers the key question', async () => {
    const own = new ExerciseContext(env.broker.url);
    try {
      const report = await runQosLevels(own, { messages: 10, linkBreakMessages: 50 });
      assert.deepEqual(
        report.checks.filter((c) => !c.ok),
        [],
      );
      assert.match(report.keyQuestion.answer.join(' '), /packets\/s/);
    } finally {
      await own.closeAll();
    }
  });
});
