import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ExerciseContext, outcome } from '../../src/exercises/index.js';
import {
  demonstrateFlowControl,
  demonstrateMessageExpiry,
  demonstrateRequestReply,
  demonstrateSharedSubscriptions,
  demonstrateTopicAliases,
  demonstrateUserProperties,
  runMqtt5Features,
} from '../../src/exercises/mqtt5-features/index.js';
import { describeEachBroker, startBroker, type TestBroker } from '../helpers/brokers.js';

describeEachBroker('exercise 4: MQTT 5.0 features', (kind) => {
  let b: TestBroker;
  before(async () => (b = await startBroker(kind)));
  after(() => b.close());

  /** Runs one seed function on a fresh context and closes its clients. */
  async function withContext<T>(body: (ctx: ExerciseContext) => Promise<T>): Promise<T> {
    const ctx = new ExerciseContext(b.url);
    try {
      return await body(ctx);
    } finally {
      await ctx.closeAll();
    }
  }

  test('a shared subscription delivers each message to exactly one worker; a plain subscriber gets all (MQTT 5.0 §4.8.2)', async () => {
    const r = await withContext((ctx) => demonstrateSharedSubscriptions(ctx, { workers: 3, messages: 30 }));
    assert.equal(r.shareFilter, '$share/workers/jobs/thumbnails');
    assert.deepEqual(r.duplicates, []);
    assert.deepEqual(r.missing, []);
    assert.equal(
      r.workers.reduce((n, w) => n + w.count, 0),
      30,
    );
    assert.ok(
      r.workers.every((w) => w.count > 0),
      JSON.stringify(r.workers.map((w) => w.count)),
    );
    assert.equal(r.plainSubscriber.count, 30);
    // The spec leaves the choice of member to the server. One broker (ours, Mosquitto) picks round robin; on
    // the cluster each node pulls from the group's JetStream consumer, whose waiting pulls are served in turn
    // but re-issued when they expire, so the turn can shift under load: there, exactly once and a share each.
    if (kind !== 'cluster') {
      assert.deepEqual(
        r.workers.map((w) => w.seqs),
        [
          [1, 4, 7, 10, 13, 16, 19, 22, 25, 28],
          [2, 5, 8, 11, 14, 17, 20, 23, 26, 29],
          [3, 6, 9, 12, 15, 18, 21, 24, 27, 30],
        ],
      );
      // Round robin ignores what is in a message: one device's readings land on every worker.
      assert.ok(Object.values(r.devices).every((workers) => workers.length === 3));
    }
  });

  test('expired messages are not delivered; live ones carry their remaining lifetime [MQTT-3.3.2-5], [MQTT-3.3.2-6]', async () => {
    const r = await withContext((ctx) => demonstrateMessageExpiry(ctx));
    assert.equal(r.queued.sessionPresent, true);
    const [shortQueued, longQueued] = r.queued.messages;
    assert.equal(shortQueued!.delivered, false, 'the 1 s message expired while the subscriber was offline');
    assert.equal(longQueued!.delivered, true);
    assert.ok(longQueued!.expiryOnWire! < 60 && longQueued!.expiryOnWire! >= 55, `remaining ${longQueued!.expiryOnWire}`);
    // The resumed session got exactly one PUBLISH, after CONNACK, and acknowledged it.
    assert.deepEqual(
      r.queued.packets.map((p) => p.type),
      ['CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK'],
    );
    const [shortRetained, longRetained] = r.retained.messages;
    assert.equal(shortRetained!.delivered, false, 'an expired retained message is no longer retained');
    assert.equal(longRetained!.delivered, true);
    assert.ok(longRetained!.expiryOnWire! >= 1 && longRetained!.expiryOnWire! < 4, `remaining ${longRetained!.expiryOnWire}`);
    // A retained message sent because of a new subscription has RETAIN=1 [MQTT-3.3.1-9].
    assert.equal(longRetained!.retainFlag, true);
  });

  test('request/reply: replies answered out of order are matched by Correlation Data [MQTT-3.3.2-15], [MQTT-3.3.2-16]', async () => {
    const r = await withContext((ctx) => demonstrateRequestReply(ctx, { requests: 5 }));
    assert.equal(r.requests.length, 5);
    assert.ok(
      r.requests.every((q) => q.matched && q.reply?.square === q.x * q.x),
      JSON.stringify(r.requests),
    );
    assert.equal(r.unmatchedReplies, 0);
    assert.deepEqual(r.responderSaw, { responseTopicIntact: 5, correlationIntact: 5, requests: 5 });
    assert.deepEqual([...r.arrivalOrder].sort(), [1, 2, 3, 4, 5]);
    assert.deepEqual(
      [...r.requests.map((q) => q.responderDelayMs)].sort((a, b) => a - b),
      [0, 20, 40, 60, 80],
    );
    // Request #1 out and in (Response Topic + Correlation Data), its reply out and in (Correlation Data only).
    assert.deepEqual(
      r.packets.map((p) => `${p.client} ${p.direction}`),
      ['requester out', 'responder in', 'responder out', 'requester in'],
    );
    assert.equal(r.packets[1]!.properties?.responseTopic, r.responseTopic);
    assert.equal(r.packets[3]!.properties?.responseTopic, undefined);
    assert.equal(r.packets[3]!.topic, r.responseTopic);
  });

  test('user properties arrive unaltered and in order, a repeated name included [MQTT-3.3.2-17], [MQTT-3.3.2-18]', async () => {
    const r = await withContext((ctx) => demonstrateUserProperties(ctx));
    assert.deepEqual(r.receivedPairs, [
      ['source', 'gateway-7'],
      ['schema-version', '2'],
      ['tag', 'calibrated'],
      ['tag', 'indoor'],
      ['tag', 'floor-3'],
    ]);
    // mqtt-packet parses user properties into a null-prototype object; compare the entries.
    assert.deepEqual({ ...r.received }, r.sent);
    assert.ok(r.bytesOnWire > 0);
  });

  test('a topic alias replaces the topic name after the first PUBLISH and saves its bytes [MQTT-3.3.2-9], [MQTT-3.3.2-11]', async () => {
    const r = await withContext((ctx) => demonstrateTopicAliases(ctx, { messages: 10 }));
    // Our default Topic Alias Maximum is 64; Mosquitto's max_topic_alias defaults to 10.
    assert.equal(r.brokerTopicAliasMaximum, kind !== 'mosquitto' ? 64 : 10);
    assert.deepEqual(r.aliasedTopics, [r.topic, ...Array(9).fill('')]);
    // An aliased PUBLISH keeps a 2-byte empty topic and adds the 3-byte Topic Alias property.
    assert.equal(r.savedPerMessage, Buffer.byteLength(r.topic) - 3);
    assert.equal(r.firstMessageExtra, 3);
    assert.ok(r.withAlias.slice(1).every((bytes, i) => bytes === r.withAlias[1] && bytes < r.withoutAlias[i + 1]!));
    assert.deepEqual(r.pubackReasonCodes, Array(10).fill(0));
    assert.deepEqual(r.delivered, { count: 20, allOnTopic: true });
    assert.equal(r.inbound.publishes, 20);
    if (kind !== 'mosquitto') {
      // We alias towards a client that allows it: the first PUBLISH sets alias 1, the rest use it.
      assert.deepEqual(r.inbound, { publishes: 20, aliased: 19, maxAlias: 1 });
    } else {
      // Mosquitto 2.0.11 never aliases towards clients (allowed: aliasing is the sender's choice).
      assert.deepEqual(r.inbound, { publishes: 20, aliased: 0, maxAlias: 0 });
    }
  });

  test("the broker keeps within the subscriber's Receive Maximum [MQTT-3.3.4-9], [MQTT-4.9.0-2]", async () => {
    const r = await withContext((ctx) => demonstrateFlowControl(ctx, { receiveMaximum: 2, messages: 10, ackDelayMs: 50 }));
    assert.equal(r.limited.received, 10);
    assert.equal(r.unlimited.received, 10);
    assert.equal(r.limited.timeline.filter((e) => e.event === 'PUBACK').length, 10);
    if (kind !== 'mosquitto') {
      assert.equal(r.limited.maxInFlight, 2);
    } else {
      // Mosquitto 2.0.11 deviates from [MQTT-3.3.4-9] / [MQTT-4.9.0-2] ("the Server MUST NOT send more than
      // Receive Maximum QoS 1 and QoS 2 PUBLISH packets for which it has not received PUBACK …"): each
      // PUBACK releases two queued PUBLISHes, so the window grows by one per acknowledgement.
      assert.ok(r.limited.maxInFlight > 2, `max in flight ${r.limited.maxInFlight}`);
    }
    // Without a Receive Maximum (65,535) both brokers send all ten at once.
    assert.equal(r.unlimited.maxInFlight, 10);
  });

  test('the whole exercise reports its sections, answers the key question and checks what it shows', async () => {
    const report = await withContext((ctx) => runMqtt5Features(ctx, { flaky: { messages: 60, faultsSeconds: 3 } }));
    assert.equal(report.exercise, 'mqtt5-features');
    assert.equal(report.sections.length, 7);
    assert.equal(report.keyQuestion.answer.length, 4);
    assert.match(report.keyQuestion.answer[0]!, /30 messages went worker-1 \d+, worker-2 \d+, worker-3 \d+/);
    assert.deepEqual(
      report.checks.filter((c) => outcome(c) === 'failure'),
      [],
    );
    const deviations = report.checks.filter((c) => outcome(c) === 'deviation');
    if (kind !== 'mosquitto') {
      assert.deepEqual(deviations, []);
    } else {
      // Mosquitto 2.0.11 deviates only from the Receive Maximum statements (see the flow-control tests): a
      // deviation of the broker, reported with its statements, not a failure of the exercise. The flaky link
      // (when its resumes overran the window) shows the same deviation a second time.
      assert.ok(deviations.length >= 1 && deviations.length <= 2, JSON.stringify(deviations));
      assert.ok(
        deviations.every((d) => d.statements!.join() === 'MQTT-3.3.4-9,MQTT-4.9.0-2'),
        JSON.stringify(deviations),
      );
    }
  });
});
