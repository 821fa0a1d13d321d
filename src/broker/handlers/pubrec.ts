import type { IPubrecPacket } from 'mqtt-packet';
import type { Broker } from '../broker.js';
import type { Connection } from '../connection.js';
import { isFailure, ReasonCode } from '../../protocol/index.js';

/** PUBREC: the client has our QoS 2 message; we release the id with PUBREL (MQTT 5.0 §4.3.3). */
export function handlePubrec(_broker: Broker, conn: Connection, packet: IPubrecPacket): void {
  const refused = isFailure(packet.reasonCode ?? ReasonCode.Success);
  if (!conn.session!.received(packet.messageId!, refused) && !refused) {
    // [MQTT-4.3.3-4] a PUBREC below 0x80 gets a PUBREL: for an unknown id 0x92 (§3.6.2.1), so the client can finish.
    conn.write({ cmd: 'pubrel', messageId: packet.messageId!, reasonCode: ReasonCode.PacketIdentifierNotFound });
  }
}
