import type { IPubcompPacket } from 'mqtt-packet';
import type { Broker } from '../broker.js';
import type { Connection } from '../connection.js';

/** PUBCOMP: the QoS 2 flow of a message we sent is complete (MQTT 5.0 §4.3.3). */
export function handlePubcomp(_broker: Broker, conn: Connection, packet: IPubcompPacket): void {
  conn.session!.complete(packet.messageId!);
}
