import type { IUnsubscribePacket } from 'mqtt-packet';
import type { Broker } from '../broker.js';
import type { Connection } from '../connection.js';
import { ReasonCode } from '../reason-codes.js';

/** UNSUBSCRIBE: removes subscriptions, one reason code per filter (MQTT 5.0 §3.10, §3.11). */
export function handleUnsubscribe(broker: Broker, conn: Connection, packet: IUnsubscribePacket): void {
  const session = conn.session!;
  // mqtt-packet names the UNSUBACK reason codes `granted`; 3.1.1 UNSUBACK carries none.
  const granted = packet.unsubscriptions.map((filter) =>
    broker.removeSubscription(session, filter) ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted,
  );
  conn.write({ cmd: 'unsuback', messageId: packet.messageId, granted });
}
