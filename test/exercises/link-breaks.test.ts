import assert from 'node:assert/strict';
import { test } from 'node:test';
import { demonstrateLinkBreakCase } from '../../src/exercises/qos-levels/link-break-cases.js';
import { demonstrateLinkBreaks } from '../../src/exercises/qos-levels/link-breaks.js';
import { describeEachBroker } from '../helpers/brokers.js';
import { exerciseBroker } from '../helpers/exercise-broker.js';

describeEachBroker('exercise 2: when the link breaks', (kind) => {
  const env = exerciseBroker(kind);

  test('QoS 0 cut before the broker: the message is lost, nothing is sent again (MQTT 5.0 §4.3.1)', async () => {
    const c = await demonstrateLinkBreakCase(env.ctx, 0);
    assert.equal(c.delivered, 0);
    assert.equal(c.publishes.length, 1, 'one PUBLISH, cut on its way');
    assert.match(c.trace.join('\n'), /→ PUBLISH +qos=0 .*✂ CUT/);
  });

  test('QoS 1 cut as the PUBACK returns: sent again with the same packet id, delivered twice [MQTT-4.4.0-1]', async () => {
    const c = await demonstrateLinkBreakCase(env.ctx, 1);
    assert.equal(c.delivered, 2);
    assert.equal(c.publishes.length, 2);
    assert.equal(c.publishes[0]!.packetId, c.publishes[1]!.packetId);
    assert.match(c.trace.join('\n'), /← PUBACK .*✂ CUT[\s\S]*sessionPresent=true[\s\S]*→ PUBLISH +qos=1[\s\S]*← PUBACK/);
  });

  test('QoS 2 cut between PUBREC and PUBREL: sent again, delivered once (the id is kept until PUBREL) [MQTT-4.3.3-10]', async () => {
    const c = await demonstrateLinkBreakCase(env.ctx, 2);
    assert.equal(c.delivered, 1);
    assert.equal(c.publishes.length, 2);
    assert.equal(c.publishes[0]!.packetId, c.publishes[1]!.packetId);
    assert.match(c.trace.join('\n'), /← PUBREC .*✂ CUT[\s\S]*→ PUBLISH +qos=2[\s\S]*← PUBREC[\s\S]*→ PUBREL[\s\S]*← PUBCOMP/);
  });

  test('many messages through links cut every 30 packets: QoS 0 never twice, QoS 1 nothing acknowledged lost, QoS 2 exactly once', {
    timeout: 90_000,
  }, async () => {
    const { report } = await demonstrateLinkBreaks(env.ctx, { messages: 100, cutEvery: 30 });
    const [q0, q1, q2] = report.outcomes;
    assert.ok(report.cuts > 5, `links were cut (${report.cuts})`);
    assert.equal(q0!.duplicated, 0);
    assert.deepEqual([q1!.acknowledged, q1!.lost], [100, 0]);
    assert.deepEqual([q2!.received, q2!.lost, q2!.duplicated], [100, 0, 0]);
  });
});
