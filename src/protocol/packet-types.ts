/** MQTT Control Packet type names by the value of the first byte's high nibble (MQTT 5.0 §2.1.2). */
export const PACKET_TYPES = [
  'RESERVED',
  'CONNECT',
  'CONNACK',
  'PUBLISH',
  'PUBACK',
  'PUBREC',
  'PUBREL',
  'PUBCOMP',
  'SUBSCRIBE',
  'SUBACK',
  'UNSUBSCRIBE',
  'UNSUBACK',
  'PINGREQ',
  'PINGRESP',
  'DISCONNECT',
  'AUTH',
] as const;

/** A packet type name, e.g. PUBACK. */
export type PacketTypeName = (typeof PACKET_TYPES)[number];

/** The type name of a frame from its first byte. */
export function packetTypeOf(firstByte: number): PacketTypeName {
  return PACKET_TYPES[firstByte >> 4]!;
}
