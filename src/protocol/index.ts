/** The MQTT wire vocabulary every part shares: Variable Byte Integer, framing, frame fields, reason codes, topic rules. */
export {
  decodeVariableByteInteger,
  INCOMPLETE,
  MALFORMED,
  readVariableByteInteger,
  VARIABLE_BYTE_INTEGER_MAX,
  variableByteIntegerEnd,
  variableByteIntegerSize,
  writeVariableByteInteger,
} from './variable-byte-integer.js';
export { Framer, packetEnd, type FramingError } from './framer.js';
export { bodyStart, frameTopicStrings, peekConnectVersion, publishTopicBytes, type FrameStrings } from './frame-fields.js';
export {
  ConnectReturnCode311,
  isFailure,
  ReasonCode,
  reasonName,
  SubackFailure311,
  toConnectReturnCode311,
  type ReasonCodeValue,
} from './reason-codes.js';
export {
  isValidTopicFilter,
  isValidTopicName,
  parseTopicFilter,
  topicLevelCount,
  topicMatchesFilter,
  type ParsedFilter,
} from './topics.js';
export { PACKET_TYPES, PacketType, packetTypeOf, type PacketTypeName } from './packet-types.js';
