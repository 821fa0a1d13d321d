import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  amqplibDefaultPropertyBytes,
  basicAckFrame,
  basicDeliverFrame,
  basicPublishFrame,
  contentBodyFrames,
  contentHeaderFrame,
} from '../../src/comparison/amqp-frames.js';
import { AMQP_SAMPLE, measureAmqpOverhead, type AmqpOverhead } from '../../src/comparison/amqp-overhead.js';
import { findRabbitMq, startRabbitMq, type LocalServer } from '../../src/comparison/servers.js';
import { splitAmqp } from '../../src/comparison/wire-counter.js';

// Every AMQP 0-9-1 frame: type 1 + channel 2 + size 4 + payload + frame-end 1 = payload + 8 (§4.2.3).
test('AMQP frame sizes worked out from the 0-9-1 spec for the sample message', () => {
  // basic.publish: 8 + class/method 4 + reserved short 2 + exchange "amq.topic" (1 + 9) + routing key (1 + 25) + bits 1 = 51
  assert.equal(basicPublishFrame('amq.topic', 'sensors.temperature.room1'), 51);
  // content header: 8 + class 2 + weight 2 + body size 8 + flags 2 + headers table (empty: 4-byte length) = 26
  assert.equal(contentHeaderFrame(amqplibDefaultPropertyBytes()), 26);
  // body: 8 + 16 = 24
  assert.equal(contentBodyFrames(16), 24);
  assert.equal(contentBodyFrames(256), 264);
  // basic.deliver: 8 + 4 + consumer tag "room1" (1 + 5) + delivery tag 8 + redelivered 1 + exchange 10 + key 26 = 63
  assert.equal(basicDeliverFrame('room1', 'amq.topic', 'sensors.temperature.room1'), 63);
  // basic.ack: 8 + 4 + delivery tag 8 + multiple 1 = 21
  assert.equal(basicAckFrame(), 21);
  // A body larger than frame-max - 8 is split: 131072-byte frames carry 131064 bytes each.
  assert.equal(contentBodyFrames(200_000), 2 * 8 + 200_000);
});

test('splitAmqp labels frames by class and method id, after the 8-byte protocol header', () => {
  const header = Buffer.from('AMQP\x00\x00\x09\x01', 'latin1');
  // channel.open on channel 1: type 1, channel 1, size 5, class 20 method 10, reserved shortstr "" , frame-end
  const channelOpen = Buffer.from([1, 0, 1, 0, 0, 0, 5, 0, 20, 0, 10, 0, 0xce]);
  const heartbeat = Buffer.from([8, 0, 0, 0, 0, 0, 0, 0xce]);
  const units = splitAmqp(Buffer.concat([header, channelOpen, heartbeat, Buffer.from([1, 0])]));
  assert.deepEqual(
    units.map((u) => [u.type, u.bytes]),
    [
      ['protocol-header', 8],
      ['channel.open', 13],
      ['heartbeat', 8],
    ],
  );
});

const rabbit = findRabbitMq();
describe('AMQP frames counted on the socket against a real RabbitMQ', {
  skip: rabbit
    ? false
    : 'rabbitmq-server is not installed (apt-get install rabbitmq-server): AMQP byte counts not checked against a live broker',
}, () => {
  let server: LocalServer;
  let r: AmqpOverhead;
  before(async () => {
    server = await startRabbitMq({ timeoutMs: 40_000 });
    r = await measureAmqpOverhead(server.port, server.version);
  });
  after(() => server?.close());

  const frames = (rows: Array<{ direction: string; type: string; bytes: number }>) =>
    rows.map((f) => `${f.direction} ${f.type} ${f.bytes}`);

  test('a published 16-byte message is basic.publish 51 + content-header 26 + content-body 24 = 101 bytes', () => {
    const p = r.publishes.find((x) => !x.confirms && x.payloadBytes === 16)!;
    assert.deepEqual(frames(p.publisher.frames), ['→ basic.publish 51', '→ content-header 26', '→ content-body 24']);
    assert.equal(p.publisher.bytes, 101);
  });

  test('with publisher confirms the broker answers each message with a 21-byte basic.ack', () => {
    const p = r.publishes.find((x) => x.confirms && x.payloadBytes === 256)!;
    assert.deepEqual(frames(p.publisher.frames), ['→ basic.publish 51', '→ content-header 26', '→ content-body 264', '← basic.ack 21']);
  });

  test('the consumer gets basic.deliver 63 + header 26 + body, and acks with 21 bytes', () => {
    const p = r.publishes.find((x) => !x.confirms && x.payloadBytes === 16)!;
    assert.deepEqual(frames(p.subscriber.frames), ['← basic.deliver 63', '← content-header 26', '← content-body 24', '→ basic.ack 21']);
    assert.equal(AMQP_SAMPLE.consumerTag, 'room1');
  });

  test('connection setup: protocol header 8, tune 20, tune-ok 20, open 16, open-ok 13; channel.open 13, open-ok 16', () => {
    const setup = r.setup.find((s) => s.side === 'publisher' && s.step.startsWith('connection ('))!;
    const byType = Object.fromEntries(setup.frames.map((f) => [f.type, f.bytes]));
    // tune: 8 + 4 + channel-max 2 + frame-max 4 + heartbeat 2 = 20; open: 8 + 4 + vhost "/" (1 + 1) + reserved "" 1 + bit 1 = 16
    // open-ok: 8 + 4 + reserved shortstr "" 1 = 13
    assert.equal(byType['protocol-header'], 8);
    assert.equal(byType['connection.tune'], 20);
    assert.equal(byType['connection.tune-ok'], 20);
    assert.equal(byType['connection.open'], 16);
    assert.equal(byType['connection.open-ok'], 13);
    // start and start-ok carry server/client property tables (product, version, capabilities …): hundreds of bytes.
    assert.ok(byType['connection.start']! > 300 && byType['connection.start-ok']! > 200);
    const channel = r.setup.find((s) => s.side === 'publisher' && s.step === 'channel.open')!;
    // channel.open: 8 + 4 + reserved shortstr 1 = 13; open-ok: 8 + 4 + reserved longstr 4 = 16
    assert.deepEqual(frames(channel.frames), ['→ channel.open 13', '← channel.open-ok 16']);
    const confirm = r.setup.find((s) => s.step === 'channel.open + confirm.select')!;
    // confirm.select: 8 + 4 + nowait bit 1 = 13; select-ok: 8 + 4 = 12
    assert.deepEqual(frames(confirm.frames).slice(2), ['→ confirm.select 13', '← confirm.select-ok 12']);
  });
});
