import type { LinkFaults } from './faults.js';

/** A named real-world link: the faults one device's connection goes through, and why these values. */
export interface LinkProfile {
  name: string;
  /** One line: what network this stands for and where its numbers come from. */
  rationale: string;
  faults: LinkFaults;
}

/**
 * The link profiles of `mqttlab fleet|start --link`. Delay and jitter apply to every packet each way
 * (a round trip is twice the delay); the rate is per direction of one connection; cuts are drawn per
 * packet, so a device that talks more is cut more often, as on a real radio link.
 */
export const LINK_PROFILES: readonly LinkProfile[] = [
  {
    name: 'lan',
    rationale: 'wired Ethernet in one building: sub-millisecond, no loss, no cuts',
    faults: { delayMs: 1 },
  },
  {
    name: 'wifi',
    rationale: 'home/office Wi-Fi: ~10 ms round trip with bursts of retries (jitter), ~20 Mbit/s shared, a rare drop on roaming',
    faults: { delayMs: 5, jitterMs: 15, rateBytesPerSecond: 2_500_000, cutProbability: 0.0005 },
  },
  {
    name: 'cellular',
    rationale: 'LTE-M / NB-IoT class modem: ~120 ms round trip, ~1 Mbit/s, drops on cell handover and carrier NAT timeouts',
    faults: { delayMs: 60, jitterMs: 40, rateBytesPerSecond: 125_000, cutProbability: 0.002 },
  },
  {
    name: 'satellite',
    rationale: 'geostationary link: ~600 ms round trip (36,000 km up and down), a 2,400 bit/s IoT channel (300 B/s)',
    faults: { delayMs: 300, jitterMs: 50, rateBytesPerSecond: 300, cutProbability: 0.001 },
  },
  {
    name: 'flaky',
    rationale: 'a marginal radio at the edge of coverage: a cut every ~50 packets on average, uneven delay',
    faults: { delayMs: 40, jitterMs: 60, cutProbability: 0.02 },
  },
];

/** Names of the link profiles, in order. */
export const LINK_PROFILE_NAMES: readonly string[] = LINK_PROFILES.map((p) => p.name);

/** The profile of this name; throws a one-line error naming the known ones otherwise. */
export function linkProfile(name: string): LinkProfile {
  const profile = LINK_PROFILES.find((p) => p.name === name.toLowerCase());
  if (!profile) throw new Error(`unknown link profile "${name}" (one of ${LINK_PROFILE_NAMES.join(', ')})`);
  return profile;
}
