/** The fault layer: a link emulator that decodes every MQTT packet and breaks links on purpose. */
export { canRelay, createLinkProxy, LinkProxy, parseBrokerAddress, type LinkProxyEvents, type LinkProxyOptions } from './proxy.js';
export { describeFaults, parseCutOn, validateFaults, type CutOnRule, type LinkDirection, type LinkFaults } from './faults.js';
export type { LinkEvent, CutHow, LinkConnection } from './link-connection.js';
export { decodeFrame, type LinkPacket, type PacketFate, type ProtocolLevel } from './decode.js';
export {
  formatLinkEventLine,
  formatPacketLine,
  summarizePacket,
  type LineStyle,
  type PacketSummary,
  type PayloadFormat,
} from './format.js';
export { PcapWriter } from './pcap.js';
export { LINK_PROFILE_NAMES, LINK_PROFILES, linkProfile, type LinkProfile } from './profiles.js';
