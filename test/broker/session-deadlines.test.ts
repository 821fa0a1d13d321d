import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { QoS } from 'mqtt-packet';
import { Deadlines } from '../../src/broker/deadlines.js';
import type { DropReason } from '../../src/broker/events.js';
import type { Message } from '../../src/broker/message.js';
import { Session, type Delivery, type SessionLimits, type SessionLink } from '../../src/broker/session.js';
import { ManualClock } from '../helpers/manual-clock.js';

/* Session and Deadlines on their own: a fake link instead of a connection, a manual clock instead of time. */

/** A link that records what the session sends; `congested` and the Receive Maximum are set by the test. */
class FakeLink implements SessionLink {
  readonly sent: Array<{ payload: string; packetId?: number; dup: boolean }> = [];
  readonly pubrels: number[] = [];
  congested = false;
  constructor(readonly clientReceiveMaximum = 65535) {}
  sendPublish(delivery: Delivery, packetId: number | undefined, dup: boolean): boolean {
    this.sent.push({ payload: delivery.message.payload.toString(), packetId, dup });
    return true;
  }
  sendPubrel(packetId: number): void {
    this.pubrels.push(packetId);
  }
}

function delivery(payload: string, qos: QoS = 1, expiresAt?: number): Delivery {
  const message: Message = { topic: 't', payload: Buffer.from(payload), qos, retain: false, properties: {}, expiresAt };
  return { message, qos, retain: false, subscriptionIds: [] };
}

/** A session with the given limits; `held` is the broker-wide count its reservations leave. */
function session(limits: Partial<SessionLimits> = {}, budget = Infinity) {
  const clock = new ManualClock();
  const drops: Array<[string, DropReason]> = [];
  const state = { held: 0 };
  const s = new Session('c', {
    limits: { maxQueuedMessages: 1000, maxQueuedBytes: 1 << 30, maxInflightBytes: 1 << 30, ...limits },
    onDrop: (_id, m, reason) => drops.push([m.payload.toString(), reason]),
    onChange: () => {},
    reserve: (bytes) => {
      if (bytes > 0 && state.held + bytes > budget) return false;
      state.held += bytes;
      return true;
    },
    now: () => clock.now(),
  });
  return { s, drops, state, clock };
}

describe('Session (fake link)', () => {
  test("QoS 1 beyond the client's Receive Maximum waits in the queue; each completion sends the next [MQTT-4.9.0-2]", () => {
    const { s } = session();
    const link = new FakeLink(2);
    s.attach(link, 0);
    for (const p of ['a', 'b', 'c', 'd']) s.deliver(delivery(p), 0);
    assert.deepEqual(
      link.sent.map((x) => x.payload),
      ['a', 'b'],
    );
    assert.equal(s.queue.length, 2);
    s.complete(link.sent[0]!.packetId!);
    assert.deepEqual(
      link.sent.map((x) => x.payload),
      ['a', 'b', 'c'],
    );
  });

  test('the in-flight byte budget holds back the next message, but never the first', () => {
    const { s } = session({ maxInflightBytes: 100 });
    const link = new FakeLink();
    s.attach(link, 0);
    // Topic "t" + 60 bytes = 61 each; the first 200-byte one goes alone.
    s.deliver(delivery('x'.repeat(200)), 0);
    s.deliver(delivery('y'.repeat(60)), 0);
    assert.equal(link.sent.length, 1);
    s.complete(link.sent[0]!.packetId!);
    s.deliver(delivery('z'.repeat(60)), 0);
    assert.deepEqual(
      link.sent.map((x) => x.payload[0]),
      ['x', 'y'],
    );
    assert.equal(s.inflightBytes, 61);
    assert.equal(s.queuedBytes, 61);
  });

  test('past maxQueuedBytes the new message is dropped as queue-full; past the broker budget as broker-queue-full', () => {
    const { s, drops } = session({ maxQueuedBytes: 130 });
    for (const p of ['1'.repeat(60), '2'.repeat(60), '3'.repeat(60)]) s.deliver(delivery(p), 0);
    assert.deepEqual(drops, [['3'.repeat(60), 'queue-full']]);
    const tight = session({}, 100);
    tight.s.deliver(delivery('a'.repeat(60)), 0);
    tight.s.deliver(delivery('b'.repeat(60)), 0);
    assert.deepEqual(tight.drops, [['b'.repeat(60), 'broker-queue-full']]);
  });

  test('attach resends in-flight PUBLISH with DUP=1 and PUBREL for released ids [MQTT-4.4.0-1]', () => {
    const { s } = session();
    const first = new FakeLink();
    s.attach(first, 0);
    s.deliver(delivery('one', 2), 0);
    s.deliver(delivery('two', 2), 0);
    s.received(first.sent[0]!.packetId!, false);
    s.detach(0);
    const second = new FakeLink();
    s.attach(second, 0);
    assert.deepEqual(second.pubrels, [first.sent[0]!.packetId]);
    assert.deepEqual(second.sent, [{ payload: 'two', packetId: first.sent[1]!.packetId, dup: true }]);
  });

  test('an expired message is dropped on the way out, and release() gives every held byte back', () => {
    const { s, drops, state, clock } = session();
    s.deliver(delivery('old', 1, clock.now() + 1000), clock.now());
    s.deliver(delivery('new', 1), clock.now());
    clock.advance(2000);
    const link = new FakeLink();
    s.attach(link, clock.now());
    assert.deepEqual(
      link.sent.map((x) => x.payload),
      ['new'],
    );
    assert.deepEqual(drops, [['old', 'expired']]);
    assert.equal(state.held, 4);
    s.release();
    assert.equal(state.held, 0);
  });
});

describe('Deadlines (manual clock)', () => {
  test('runs a deadline at its time, not before; remove cancels; the same key replaces', () => {
    const clock = new ManualClock();
    const d = new Deadlines(clock);
    const ran: string[] = [];
    d.add('a', clock.now() + 1000, () => ran.push('a'));
    d.add('b', clock.now() + 500, () => ran.push('b'));
    d.add('c', clock.now() + 700, () => ran.push('c'));
    d.remove('c');
    d.add('b', clock.now() + 2000, () => ran.push('b2'));
    clock.advance(999);
    assert.deepEqual(ran, []);
    clock.advance(1);
    assert.deepEqual(ran, ['a']);
    clock.advance(1000);
    assert.deepEqual(ran, ['a', 'b2']);
    assert.equal(d.has('b'), false);
  });

  test('a deadline beyond a Node timer (40 days) waits in steps and runs once, at its time', () => {
    const clock = new ManualClock();
    const d = new Deadlines(clock);
    let runs = 0;
    const day = 86_400_000;
    d.add('far', clock.now() + 40 * day, () => runs++);
    clock.advance(39 * day);
    assert.equal(runs, 0);
    clock.advance(day);
    assert.equal(runs, 1);
  });

  test('a callback that throws is reported; the others due with it still run', () => {
    const clock = new ManualClock();
    const errors: string[] = [];
    const d = new Deadlines(clock, (e) => errors.push(e.message));
    const ran: string[] = [];
    d.add('x', clock.now() + 10, () => {
      throw new Error('boom');
    });
    d.add('y', clock.now() + 10, () => ran.push('y'));
    clock.advance(10);
    assert.deepEqual(errors, ['boom']);
    assert.deepEqual(ran, ['y']);
  });
});
