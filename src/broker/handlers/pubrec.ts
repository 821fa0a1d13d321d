import type { IPubrecPacket } from 'mqtt-packet';
import type { Broker } from '../broker.js';
import type { Connection } from '../connection.js';
import { isFailure, ReasonCode } from '../../protocol/index.js';

/** PUBREC: the client has our QoS 2 message; we release the id with PUBREL (MQTT 5.0 §4.3.3). */
export function handlePubrec(_broker: Broker, conn: Connection, packet: IPubrecPacket): void {
  const refused = isFailure(packet.reasonCode ?? ReasonCode.Success);
  if (!conn.session!.received(packet.messageId!, refused) && !refused) {
    // [MQTT-4.3.3-?] answer an unknown id with PUBREL 0x92 so the client can finish its flow.
    conn.write({ cmd: 'pubrel', messageId: packet.messageId!, reasonCode: ReasonCode.PacketIdentifierNotFound });
  }
}
