import type { IPubrelPacket } from 'mqtt-packet';
import type { Broker } from '../broker.js';
import type { Connection } from '../connection.js';
import { ReasonCode } from '../../protocol/index.js';

/**
 * PUBREL: the client releases an inbound QoS 2 packet id; we answer PUBCOMP (MQTT 5.0 §4.3.3) once the
 * release is stored: after PUBCOMP the id starts a new message [MQTT-4.3.3-12], also after a restart.
 */
export function handlePubrel(broker: Broker, conn: Connection, packet: IPubrelPacket): void {
  const session = conn.session!;
  const known = session.inboundQos2.delete(packet.messageId!);
  if (known) broker.store.sessionChanged(session);
  broker.ackAfterStored(conn, {
    cmd: 'pubcomp',
    messageId: packet.messageId!,
    reasonCode: known ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound,
  });
}
