/** MQTT 5 reason codes by name (MQTT 5.0 §2.4), so no handler writes a bare number. */
export const ReasonCode = {
  Success: 0x00,
  NormalDisconnection: 0x00,
  GrantedQoS0: 0x00,
  GrantedQoS1: 0x01,
  GrantedQoS2: 0x02,
  DisconnectWithWillMessage: 0x04,
  NoMatchingSubscribers: 0x10,
  NoSubscriptionExisted: 0x11,
  UnspecifiedError: 0x80,
  MalformedPacket: 0x81,
  ProtocolError: 0x82,
  ImplementationSpecificError: 0x83,
  UnsupportedProtocolVersion: 0x84,
  ClientIdentifierNotValid: 0x85,
  BadUserNameOrPassword: 0x86,
  NotAuthorized: 0x87,
  ServerUnavailable: 0x88,
  ServerBusy: 0x89,
  Banned: 0x8a,
  ServerShuttingDown: 0x8b,
  BadAuthenticationMethod: 0x8c,
  KeepAliveTimeout: 0x8d,
  SessionTakenOver: 0x8e,
  TopicFilterInvalid: 0x8f,
  TopicNameInvalid: 0x90,
  PacketIdentifierInUse: 0x91,
  PacketIdentifierNotFound: 0x92,
  ReceiveMaximumExceeded: 0x93,
  TopicAliasInvalid: 0x94,
  PacketTooLarge: 0x95,
  MessageRateTooHigh: 0x96,
  QuotaExceeded: 0x97,
  AdministrativeAction: 0x98,
  PayloadFormatInvalid: 0x99,
  RetainNotSupported: 0x9a,
  QoSNotSupported: 0x9b,
  UseAnotherServer: 0x9c,
  ServerMoved: 0x9d,
  SharedSubscriptionsNotSupported: 0x9e,
  ConnectionRateExceeded: 0x9f,
  MaximumConnectTime: 0xa0,
  SubscriptionIdentifiersNotSupported: 0xa1,
  WildcardSubscriptionsNotSupported: 0xa2,
} as const;

export type ReasonCodeValue = (typeof ReasonCode)[keyof typeof ReasonCode];

/** MQTT 3.1.1 CONNACK return codes (MQTT 3.1.1 §3.2.2.3). */
export const ConnectReturnCode311 = {
  Accepted: 0,
  UnacceptableProtocolVersion: 1,
  IdentifierRejected: 2,
  ServerUnavailable: 3,
  BadUserNameOrPassword: 4,
  NotAuthorized: 5,
} as const;

/**
 * True for a failure: reason codes 0x80 and above are failures, below are successes (MQTT 5.0 §2.4); the same
 * holds for the 3.1.1 SUBACK failure code 0x80.
 */
export function isFailure(code: number): boolean {
  return code >= ReasonCode.UnspecifiedError;
}

/** MQTT 3.1.1 SUBACK failure return code. */
export const SubackFailure311 = 0x80;

/** Maps an MQTT 5 CONNACK reason code to the closest MQTT 3.1.1 return code. */
export function toConnectReturnCode311(reason: number): number {
  switch (reason) {
    case ReasonCode.Success:
      return ConnectReturnCode311.Accepted;
    case ReasonCode.UnsupportedProtocolVersion:
      return ConnectReturnCode311.UnacceptableProtocolVersion;
    case ReasonCode.ClientIdentifierNotValid:
      return ConnectReturnCode311.IdentifierRejected;
    case ReasonCode.BadUserNameOrPassword:
      return ConnectReturnCode311.BadUserNameOrPassword;
    case ReasonCode.NotAuthorized:
      return ConnectReturnCode311.NotAuthorized;
    default:
      return ConnectReturnCode311.ServerUnavailable;
  }
}

const namesByCode = new Map<number, string>();
for (const [name, code] of Object.entries(ReasonCode)) {
  if (!namesByCode.has(code)) namesByCode.set(code, name);
}

/** A readable name for a reason code, e.g. 0x8e → "SessionTakenOver (0x8e)". */
export function reasonName(code: number): string {
  const name = namesByCode.get(code) ?? 'Unknown';
  return `${name} (0x${code.toString(16).padStart(2, '0')})`;
}
