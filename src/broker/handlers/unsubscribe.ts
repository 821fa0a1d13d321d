import type { IUnsubscribePacket } from 'mqtt-packet';
import type { Broker } from '../broker.js';
import type { Connection } from '../connection.js';
import { ProtocolViolation } from '../protocol-violation.js';
import { ReasonCode } from '../../protocol/index.js';

/** UNSUBSCRIBE: removes subscriptions, one reason code per filter (MQTT 5.0 §3.10, §3.11). */
export function handleUnsubscribe(broker: Broker, conn: Connection, packet: IUnsubscribePacket): void {
  const session = conn.session!;
  // [MQTT-2.2.1-3] UNSUBSCRIBE needs a non-zero Packet Identifier.
  if (!packet.messageId) throw new ProtocolViolation(ReasonCode.ProtocolError, 'UNSUBSCRIBE with Packet Identifier 0');
  // [MQTT-3.10.3-2] at least one Topic Filter; an empty payload is a Protocol Error.
  if (packet.unsubscriptions.length === 0) throw new ProtocolViolation(ReasonCode.ProtocolError, 'UNSUBSCRIBE without a topic filter');
  // mqtt-packet names the UNSUBACK reason codes `granted`; 3.1.1 UNSUBACK carries none.
  const granted = packet.unsubscriptions.map((filter) =>
    broker.removeSubscription(session, filter) ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted,
  );
  broker.ackAfterStored(conn, { cmd: 'unsuback', messageId: packet.messageId, granted });
}
