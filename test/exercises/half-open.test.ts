import assert from 'node:assert/strict';
import { test } from 'node:test';
import { demonstrateHalfOpen } from '../../src/exercises/retained-lastwill/half-open.js';
import { describeEachBroker } from '../helpers/brokers.js';
import { exerciseBroker } from '../helpers/exercise-broker.js';

describeEachBroker('exercise 3: a half-open link vs DISCONNECT vs reset', (kind) => {
  const env = exerciseBroker(kind);

  test('silent link: will after 1.5 × keep alive without a packet [MQTT-3.1.2-22]; DISCONNECT: none [MQTT-3.1.2-10]; reset: at once', {
    timeout: 60_000,
  }, async () => {
    const { endings, deadlineMs } = await demonstrateHalfOpen(env.ctx, { keepAliveSeconds: 1 });
    const [silent, clean, reset] = endings;
    assert.equal(deadlineMs, 1500);
    assert.ok(silent!.willAfterMs !== undefined, 'the broker published the will of the silent device');
    assert.ok(silent!.willAfterMs >= deadlineMs - 50, `not before 1.5 × keep alive (${silent!.willAfterMs} ms)`);
    const trace = silent!.trace.join('\n');
    assert.match(trace, /∅ silent/);
    assert.match(trace, /PINGREQ .*∅ dropped/, "the device's PINGREQ vanished in the silent link");
    assert.equal(clean!.willAfterMs, undefined, 'no will after a clean DISCONNECT');
    assert.ok(reset!.willAfterMs !== undefined && reset!.willAfterMs < 1000, `the will right after the reset (${reset!.willAfterMs} ms)`);
  });
});
