import type { IPubackPacket } from 'mqtt-packet';
import type { Broker } from '../broker.js';
import type { Connection } from '../connection.js';

/** PUBACK: a QoS 1 message we sent is done (MQTT 5.0 §4.3.2). Unknown ids are ignored, as Mosquitto does. */
export function handlePuback(_broker: Broker, conn: Connection, packet: IPubackPacket): void {
  conn.session!.complete(packet.messageId!);
}
