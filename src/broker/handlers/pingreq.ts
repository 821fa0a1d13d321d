import type { IPingreqPacket } from 'mqtt-packet';
import type { Broker } from '../broker.js';
import type { Connection } from '../connection.js';

/** PINGREQ: answer PINGRESP [MQTT-3.12.4-1]; the keep alive clock was reset on receipt. */
export function handlePingreq(_broker: Broker, conn: Connection, _packet: IPingreqPacket): void {
  conn.write({ cmd: 'pingresp' });
}
