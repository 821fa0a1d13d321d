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

/** MQTT Control Packet type values (the first byte's high nibble, MQTT 5.0 §2.1.2), by name. */
export const PacketType = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  UNSUBSCRIBE: 10,
  UNSUBACK: 11,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
  AUTH: 15,
} as const satisfies Record<Exclude<PacketTypeName, 'RESERVED'>, number>;
