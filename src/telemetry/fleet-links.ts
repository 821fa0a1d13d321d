import { canRelay, createLinkProxy, type LinkPacket, type LinkProfile, type LinkProxy } from '../link/index.js';
import { parseAlertTopic, parseTelemetryTopic } from './topics.js';

/** What one device's link did, as the link proxy saw it. */
export interface LinkCounters {
  /** QoS 0 readings (PUBLISH towards the broker) the link cut or lost in transit. */
  readingsLostOnLink: number;
  /** QoS 1 alerts sent again after a cut with the packet id of one not acknowledged (the broker may deliver these twice). */
  alertsResent: number;
  /** Connections the link cut. */
  cuts: number;
}

/** One device's own emulated link: a proxy between it and the broker, and what it counted. */
export interface DeviceLink {
  readonly proxy: LinkProxy;
  readonly counters: LinkCounters;
}

/**
 * Opens one link proxy per device in front of the broker at `url`, each seeded from the fleet's seed and
 * the device's index, so a device's faults do not depend on the others' traffic and a run repeats with its
 * seed. One listening socket per device is cheap (a fleet of 1,000 holds 1,000 listeners and 2 sockets
 * per connection) and keeps each device's cuts its own.
 */
export async function openDeviceLinks(url: string, profile: LinkProfile, ids: string[], seed: number): Promise<Map<string, DeviceLink>> {
  if (!canRelay(url)) throw new Error(`--link needs a plain TCP broker URL (mqtt://host:port), not ${url}`);
  const links = new Map<string, DeviceLink>();
  try {
    for (const [index, id] of ids.entries()) {
      const proxy = await createLinkProxy({ to: url, faults: profile.faults, seed: (Math.imul(seed, 100_003) + index) >>> 0 });
      const counters: LinkCounters = { readingsLostOnLink: 0, alertsResent: 0, cuts: 0 };
      const unacknowledged = new Set<number>();
      proxy.on('packet', (packet) => countPacket(counters, unacknowledged, packet));
      proxy.on('link', (event) => {
        if (event.kind === 'cut') counters.cuts++;
      });
      links.set(id, { proxy, counters });
    }
  } catch (error) {
    await closeDeviceLinks(links);
    throw error;
  }
  return links;
}

/** Closes every device's link proxy. */
export async function closeDeviceLinks(links: Map<string, DeviceLink>): Promise<void> {
  await Promise.all([...links.values()].map((l) => l.proxy.close().catch(() => {})));
}

/**
 * Counts readings the link lost and alerts resent. A resent alert is told by its packet id: MQTT.js sends it
 * again with DUP=0 (mqttjs/MQTT.js#692), though [MQTT-3.3.1-1] asks for DUP=1, so the flag alone misses it.
 */
function countPacket(counters: LinkCounters, unacknowledged: Set<number>, p: LinkPacket): void {
  const packet = p.packet;
  if (p.direction === 'to-client' && packet?.cmd === 'puback' && p.fate === 'forwarded') unacknowledged.delete(packet.messageId ?? 0);
  if (p.direction !== 'to-broker' || packet?.cmd !== 'publish') return;
  if (packet.qos === 0 && (p.fate === 'lost' || p.fate === 'cut') && parseTelemetryTopic(packet.topic)) counters.readingsLostOnLink++;
  if (packet.qos === 1 && p.fate === 'forwarded' && parseAlertTopic(packet.topic)) {
    const id = packet.messageId ?? 0;
    if (packet.dup || unacknowledged.has(id)) counters.alertsResent++;
    unacknowledged.add(id);
  }
}
