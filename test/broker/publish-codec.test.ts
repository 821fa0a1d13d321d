import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { encodeAck } from '../../src/broker/publish-codec.js';

// The broker writes acknowledgements without properties itself (the QoS 1/2 hot path) and leaves every other
// packet to mqtt-packet: the bytes must be the ones mqtt-packet would have written.

describe('encodeAck: the bytes mqtt-packet writes', () => {
  test('PUBACK, PUBREC, PUBREL, PUBCOMP in 3.1, 3.1.1 and 5, with and without a reason code', () => {
    let cases = 0;
    for (const protocolVersion of [3, 4, 5] as const) {
      for (const cmd of ['puback', 'pubrec', 'pubrel', 'pubcomp'] as const) {
        for (const reasonCode of [undefined, 0x00, 0x10, 0x80, 0x87, 0x92]) {
          for (const messageId of [1, 258, 65535]) {
            const packet = { cmd, messageId, ...(reasonCode !== undefined && { reasonCode }) } as Packet;
            const expected = mqttPacket.generate(packet, { protocolVersion });
            assert.deepEqual(encodeAck(packet, protocolVersion), expected, `${cmd} v${protocolVersion} id ${messageId} rc ${reasonCode}`);
            cases++;
          }
        }
      }
    }
    assert.equal(cases, 216);
  });

  test('left to mqtt-packet: an acknowledgement with properties, and every other packet', () => {
    assert.equal(encodeAck({ cmd: 'puback', messageId: 1, reasonCode: 0x10, properties: { reasonString: 'why' } }, 5), undefined);
    assert.equal(encodeAck({ cmd: 'pingresp' }, 5), undefined);
    assert.equal(encodeAck({ cmd: 'suback', messageId: 1, granted: [0] }, 5), undefined);
  });
});
