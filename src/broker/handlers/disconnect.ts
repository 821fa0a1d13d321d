import type { IDisconnectPacket } from 'mqtt-packet';
import type { Broker } from '../broker.js';
import type { Connection } from '../connection.js';
import { ProtocolViolation } from '../protocol-violation.js';
import { ReasonCode } from '../../protocol/index.js';

/** DISCONNECT from the client: the will is discarded unless the reason is 0x04 (MQTT 5.0 §3.14). */
export function handleDisconnect(_broker: Broker, conn: Connection, packet: IDisconnectPacket): void {
  const session = conn.session!;
  const expiry = packet.properties?.sessionExpiryInterval;
  if (expiry !== undefined) {
    // [MQTT-3.14.2-2] a session that was to end at disconnect cannot be extended here.
    if (session.expiryInterval === 0 && expiry !== 0) {
      throw new ProtocolViolation(ReasonCode.ProtocolError, 'Session Expiry Interval set on DISCONNECT after 0 on CONNECT');
    }
    session.expiryInterval = expiry;
  }
  // [MQTT-3.14.4-3] a normal DISCONNECT deletes the will; 0x04 asks for it to be published.
  if ((packet.reasonCode ?? ReasonCode.NormalDisconnection) !== ReasonCode.DisconnectWithWillMessage) conn.will = undefined;
  // [MQTT-3.14.4-1] the server must not send anything after the client's DISCONNECT.
  conn.close(`client sent DISCONNECT (reason 0x${(packet.reasonCode ?? 0).toString(16).padStart(2, '0')})`);
}
