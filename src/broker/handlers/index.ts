import type { Packet } from 'mqtt-packet';
import type { Broker } from '../broker.js';
import type { Connection } from '../connection.js';
import { ProtocolViolation } from '../protocol-violation.js';
import { ReasonCode } from '../../protocol/index.js';
import { handleConnect } from './connect.js';
import { handleDisconnect } from './disconnect.js';
import { handlePingreq } from './pingreq.js';
import { handlePuback } from './puback.js';
import { handlePubcomp } from './pubcomp.js';
import { handlePublish } from './publish.js';
import { handlePubrec } from './pubrec.js';
import { handlePubrel } from './pubrel.js';
import { handleSubscribe } from './subscribe.js';
import { handleUnsubscribe } from './unsubscribe.js';

export { SESSION_NEVER_EXPIRES } from './connect.js';

/** Routes a parsed packet from a client to its handler; one file per packet type. */
export function dispatch(broker: Broker, conn: Connection, packet: Packet): void {
  switch (packet.cmd) {
    case 'connect':
      return handleConnect(broker, conn, packet);
    case 'publish':
      return handlePublish(broker, conn, packet);
    case 'puback':
      return handlePuback(broker, conn, packet);
    case 'pubrec':
      return handlePubrec(broker, conn, packet);
    case 'pubrel':
      return handlePubrel(broker, conn, packet);
    case 'pubcomp':
      return handlePubcomp(broker, conn, packet);
    case 'subscribe':
      return handleSubscribe(broker, conn, packet);
    case 'unsubscribe':
      return handleUnsubscribe(broker, conn, packet);
    case 'pingreq':
      return handlePingreq(broker, conn, packet);
    case 'disconnect':
      return handleDisconnect(broker, conn, packet);
    case 'auth':
      // [MQTT-4.12.0-1] no enhanced authentication was negotiated, so AUTH is a Protocol Error.
      throw new ProtocolViolation(ReasonCode.ProtocolError, 'AUTH without an authentication method');
    default:
      // CONNACK, SUBACK, UNSUBACK and PINGRESP only flow from server to client.
      throw new ProtocolViolation(ReasonCode.ProtocolError, `${packet.cmd} is not sent by a client`);
  }
}
