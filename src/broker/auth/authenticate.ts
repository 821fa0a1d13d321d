import type { IConnectPacket } from 'mqtt-packet';
import type { ResolvedOptions } from '../options.js';
import { ConnectReturnCode311, ReasonCode } from '../../protocol/index.js';

/** Why a CONNECT is refused: the CONNACK code for MQTT 5 and for 3.1.1, and a reason for the log. */
export interface Refusal {
  readonly reasonCode: number;
  readonly returnCode311: number;
  readonly reason: string;
}

/**
 * Checks a CONNECT's credentials as Mosquitto does: without a user name only if anonymous access is
 * allowed (else 0x87 Not authorized); with a password file the user must be in it with a matching
 * password (else 0x86 Bad User Name or Password); without one any user name is accepted.
 */
export function authenticate(options: ResolvedOptions, packet: IConnectPacket): Refusal | undefined {
  if (packet.username === undefined) {
    if (options.allowAnonymous) return undefined;
    return {
      reasonCode: ReasonCode.NotAuthorized,
      returnCode311: ConnectReturnCode311.NotAuthorized,
      reason: 'anonymous clients are not allowed',
    };
  }
  if (!options.passwords) return undefined;
  const password = typeof packet.password === 'string' ? Buffer.from(packet.password) : packet.password;
  if (options.passwords.check(packet.username, password)) return undefined;
  return {
    reasonCode: ReasonCode.BadUserNameOrPassword,
    returnCode311: ConnectReturnCode311.BadUserNameOrPassword,
    reason: `bad user name or password for "${packet.username}"`,
  };
}
