import { randomBytes } from 'node:crypto';
import type { IConnackPacket, IConnectPacket } from 'mqtt-packet';
import { authenticate, type Refusal } from '../auth/authenticate.js';
import type { Broker } from '../broker.js';
import type { Connection } from '../connection.js';
import { PROTOCOL_MAX_PACKET_SIZE } from '../options.js';
import { ProtocolViolation } from '../protocol-violation.js';
import { ConnectReturnCode311, isValidTopicName, ReasonCode, topicLevelCount } from '../../protocol/index.js';

/** 0xFFFFFFFF: the session never expires [MQTT-3.1.2-23 non-normative]. */
export const SESSION_NEVER_EXPIRES = 0xffffffff;

/** CONNECT: checks, session start or resume, takeover, CONNACK (MQTT 5.0 §3.1, §3.2). */
export function handleConnect(broker: Broker, conn: Connection, packet: IConnectPacket): void {
  if (conn.connectReceived) {
    // [MQTT-3.1.0-2] a second CONNECT is a Protocol Error.
    throw new ProtocolViolation(ReasonCode.ProtocolError, 'second CONNECT on one connection');
  }
  conn.connectReceived = true;
  conn.protocolVersion = packet.protocolVersion ?? 4;
  const v5 = conn.protocolVersion === 5;
  const properties = packet.properties ?? {};

  // [MQTT-3.1.2-12] a Will QoS of 3 is a Malformed Packet.
  if (packet.will && (packet.will.qos ?? 0) > 2) throw new ProtocolViolation(ReasonCode.MalformedPacket, 'Will QoS 3');
  if (!v5 && packet.password !== undefined && packet.username === undefined) {
    // [MQTT-3.1.2-22] (3.1.1) a Password Flag without the User Name Flag is malformed.
    throw new ProtocolViolation(ReasonCode.MalformedPacket, 'password without user name');
  }

  if (v5) {
    // §3.1.2.11.3, §3.1.2.11.4: a Receive Maximum or Maximum Packet Size of 0 is a Protocol Error.
    if (properties.receiveMaximum === 0) throw new ProtocolViolation(ReasonCode.ProtocolError, 'Receive Maximum of 0');
    if (properties.maximumPacketSize === 0) throw new ProtocolViolation(ReasonCode.ProtocolError, 'Maximum Packet Size of 0');
    if (properties.authenticationMethod !== undefined) {
      // [MQTT-4.12.0-1] we offer no enhanced authentication method.
      conn.refuseConnect(
        ReasonCode.BadAuthenticationMethod,
        ConnectReturnCode311.NotAuthorized,
        `unsupported authentication method ${properties.authenticationMethod}`,
        packet,
      );
      return;
    }
  }

  const cleanStart = packet.clean !== false;
  let clientId = packet.clientId;
  let assignedClientId: string | undefined;
  if (clientId === '') {
    if (!v5 && !cleanStart) {
      // [MQTT-3.1.3-8] (3.1.1) a zero-length id needs CleanSession=1.
      conn.refuseConnect(
        ReasonCode.ClientIdentifierNotValid,
        ConnectReturnCode311.IdentifierRejected,
        'empty client id without clean session',
        packet,
      );
      return;
    }
    if (conn.protocolVersion === 3) {
      // MQTT 3.1 (MQIsdp) §3.1: the Client Identifier is 1 to 23 characters; there is no assigned id.
      conn.refuseConnect(
        ReasonCode.ClientIdentifierNotValid,
        ConnectReturnCode311.IdentifierRejected,
        'MQTT 3.1 CONNECT with an empty client id',
        packet,
      );
      return;
    }
    // [MQTT-3.1.3-6] assign a unique id, returned to an MQTT 5 client [MQTT-3.2.2-16].
    clientId = `mqttlab-${randomBytes(8).toString('hex')}`;
    assignedClientId = clientId;
  }

  if (packet.will && !isValidTopicName(packet.will.topic)) {
    conn.refuseConnect(ReasonCode.TopicNameInvalid, ConnectReturnCode311.ServerUnavailable, 'will topic is not a valid topic name', packet);
    return;
  }
  if (packet.will && topicLevelCount(packet.will.topic) > broker.options.maxTopicLevels) {
    // A will is published later, outside any handler: a topic too deep to route is refused now.
    conn.refuseConnect(
      ReasonCode.TopicNameInvalid,
      ConnectReturnCode311.ServerUnavailable,
      `will topic deeper than ${broker.options.maxTopicLevels} levels`,
      packet,
    );
    return;
  }

  const refusal =
    connectionLimit(broker, clientId) ??
    sessionLimit(broker, clientId) ??
    authenticate(broker.options, packet) ??
    willDenied(broker, clientId, packet);
  if (refusal) {
    const wait =
      refusal.reasonCode === ReasonCode.BadUserNameOrPassword ? broker.authBackoff.failed(conn.remoteAddress, broker.clock.now()) : 0;
    if (wait === 0) {
      conn.refuseConnect(refusal.reasonCode, refusal.returnCode311, refusal.reason, packet);
    } else {
      // Held back (authFailureDelay): packets sent meanwhile are ignored, as the CONNECT is not yet answered.
      conn.refusalPending = true;
      broker.clock.schedule(
        () => conn.refuseConnect(refusal.reasonCode, refusal.returnCode311, `${refusal.reason} (answered after ${wait} ms)`, packet),
        wait,
      );
    }
    return;
  }

  let keepalive = packet.keepalive ?? 0;
  let serverKeepAlive: number | undefined;
  const max = broker.options.maxKeepalive;
  if (v5 && (keepalive > max || (keepalive === 0 && max < 65535))) {
    // [MQTT-3.2.2-21] the client must use the Server Keep Alive we return.
    keepalive = max;
    serverKeepAlive = max;
  }

  conn.clientId = clientId;
  conn.username = packet.username;
  conn.keepalive = keepalive;
  conn.will = packet.will;
  if (v5) {
    conn.clientReceiveMaximum = properties.receiveMaximum ?? 65535;
    conn.clientMaximumPacketSize = properties.maximumPacketSize ?? PROTOCOL_MAX_PACKET_SIZE;
    conn.clientTopicAliasMaximum = properties.topicAliasMaximum ?? 0;
  }

  const cluster = broker.options.cluster;
  if (!cluster) {
    openAndAcknowledge(broker, conn, packet, clientId, { v5, cleanStart, assignedClientId, serverKeepAlive });
    return;
  }
  // In a cluster the session may live on another node: it is handed over here before CONNACK.
  const opened = { v5, cleanStart, assignedClientId, serverKeepAlive };
  conn.hold(
    cluster.claimSession(clientId, cleanStart, packet.will).then(
      () => {
        if (!conn.isClosed) openAndAcknowledge(broker, conn, packet, clientId, opened);
      },
      (error: Error) =>
        conn.refuseConnect(
          ReasonCode.ServerUnavailable,
          ConnectReturnCode311.ServerUnavailable,
          `the cluster could not hand over the session: ${error.message}`,
          packet,
        ),
    ),
  );
}

/** What CONNECT decided before the session is opened. */
interface Opening {
  v5: boolean;
  cleanStart: boolean;
  assignedClientId: string | undefined;
  serverKeepAlive: number | undefined;
}

/** Takes over a live connection, opens or resumes the session, writes CONNACK. */
function openAndAcknowledge(
  broker: Broker,
  conn: Connection,
  packet: IConnectPacket,
  clientId: string,
  { v5, cleanStart, assignedClientId, serverKeepAlive }: Opening,
): void {
  const properties = packet.properties ?? {};
  // [MQTT-3.1.4-3] an existing connection with this client id is taken over.
  broker.takeOver(clientId);
  const { session, present } = broker.openSession(clientId, cleanStart);
  // [MQTT-3.1.2-11 / 3.1.1] 3.1.1 CleanSession=0 keeps the session until the client says otherwise.
  session.expiryInterval = v5 ? (properties.sessionExpiryInterval ?? 0) : cleanStart ? 0 : SESSION_NEVER_EXPIRES;
  session.username = packet.username;
  conn.session = session;

  const connack: IConnackPacket = { cmd: 'connack', sessionPresent: present };
  if (v5) {
    connack.reasonCode = ReasonCode.Success;
    connack.properties = {
      receiveMaximum: broker.options.receiveMaximum,
      topicAliasMaximum: broker.options.topicAliasMaximum,
      retainAvailable: true,
      wildcardSubscriptionAvailable: true,
      subscriptionIdentifiersAvailable: true,
      sharedSubscriptionAvailable: true,
    };
    if (broker.options.maximumPacketSize < PROTOCOL_MAX_PACKET_SIZE)
      connack.properties.maximumPacketSize = broker.options.maximumPacketSize;
    if (assignedClientId !== undefined) connack.properties.assignedClientIdentifier = assignedClientId;
    if (serverKeepAlive !== undefined) connack.properties.serverKeepAlive = serverKeepAlive;
  } else {
    connack.returnCode = ConnectReturnCode311.Accepted;
  }
  conn.write(connack);
  conn.connackSent = true;
  broker.sessionAttached(conn, session, present);
}

/** `maxConnections` reached (a takeover of the same client id does not add one): CONNACK 0x97 Quota exceeded. */
function connectionLimit(broker: Broker, clientId: string): Refusal | undefined {
  const max = broker.options.maxConnections;
  if (max === 0) return undefined;
  let open = 0;
  for (const c of broker.connections) if (c.connackSent && !c.isClosed && c.clientId !== clientId) open++;
  if (open < max) return undefined;
  return {
    reasonCode: ReasonCode.QuotaExceeded,
    returnCode311: ConnectReturnCode311.ServerUnavailable,
    reason: `${max} clients already connected`,
  };
}

/**
 * `maxSessions` reached: a client id without a session here would add one (a resumed or taken-over session
 * does not), CONNACK 0x97 Quota exceeded. Without it, clients connecting with ever new ids and a long
 * Session Expiry would leave sessions behind until memory ran out.
 */
function sessionLimit(broker: Broker, clientId: string): Refusal | undefined {
  const max = broker.options.maxSessions;
  if (max === 0 || broker.sessions.size < max || broker.sessions.has(clientId)) return undefined;
  return {
    reasonCode: ReasonCode.QuotaExceeded,
    returnCode311: ConnectReturnCode311.ServerUnavailable,
    reason: `${max} sessions already held`,
  };
}

/** A will on a topic the client may not publish to is refused at CONNECT with 0x87 Not authorized. */
function willDenied(broker: Broker, clientId: string, packet: IConnectPacket): Refusal | undefined {
  const acl = broker.options.acl;
  if (!packet.will || !acl || acl.canPublish({ clientId, username: packet.username }, packet.will.topic)) return undefined;
  broker.events.emit('accessDenied', { clientId, username: packet.username, action: 'will', topic: packet.will.topic });
  return {
    reasonCode: ReasonCode.NotAuthorized,
    returnCode311: ConnectReturnCode311.NotAuthorized,
    reason: `will topic "${packet.will.topic}" not allowed by the ACL`,
  };
}
