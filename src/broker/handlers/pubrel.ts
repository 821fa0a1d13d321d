import type { IPubrelPacket } from 'mqtt-packet';
import type { Broker } from '../broker.js';
import type { Connection } from '../connection.js';
import { ReasonCode } from '../reason-codes.js';

/** PUBREL: the client releases an inbound QoS 2 packet id; we answer PUBCOMP (MQTT 5.0 §4.3.3). */
export function handlePubrel(_broker: Broker, conn: Connection, packet: IPubrelPacket): void {
  const known = conn.session!.inboundQos2.delete(packet.messageId!);
  conn.write({
    cmd: 'pubcomp',
    messageId: packet.messageId!,
    reasonCode: known ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound,
  });
}
