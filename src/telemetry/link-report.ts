import type { PresenceRegistry } from './presence.js';
import type { TelemetryStore } from './store.js';

/** One device's link and what it cost: reconnects (from the device), readings lost and alerts duplicated (from the store). */
export interface DeviceLinkReport {
  device: string;
  /** The link profile the device announced; null when it connects without one. */
  link: string | null;
  /** Reconnects the device announced; null without a link. */
  reconnects: number | null;
  /** QoS 0 readings missing from the store: gaps in the device's sequence numbers. */
  readingsLost: number;
  /** QoS 1 alerts that arrived again and were stored once. */
  alertsDuplicated: number;
}

/** Per device and in total, as /api/stats serves it under `links`. */
export interface LinkReport {
  devices: DeviceLinkReport[];
  totals: { reconnects: number; readingsLost: number; alertsDuplicated: number };
}

/** Joins what the devices announced (presence) with what the store counted, for every device either knows. */
export async function linkReport(presence: PresenceRegistry, store: TelemetryStore): Promise<LinkReport> {
  const byDevice = new Map<string, DeviceLinkReport>();
  const entry = (device: string) => {
    let d = byDevice.get(device);
    if (!d) byDevice.set(device, (d = { device, link: null, reconnects: null, readingsLost: 0, alertsDuplicated: 0 }));
    return d;
  };
  for (const p of presence.list()) Object.assign(entry(p.id), { link: p.link, reconnects: p.reconnects });
  for (const d of await store.deliveryByDevice())
    Object.assign(entry(d.device), { readingsLost: d.readingsLost, alertsDuplicated: d.alertsDuplicated });
  const devices = [...byDevice.values()].sort((a, b) => a.device.localeCompare(b.device));
  const sum = (pick: (d: DeviceLinkReport) => number) => devices.reduce((s, d) => s + pick(d), 0);
  return {
    devices,
    totals: {
      reconnects: sum((d) => d.reconnects ?? 0),
      readingsLost: sum((d) => d.readingsLost),
      alertsDuplicated: sum((d) => d.alertsDuplicated),
    },
  };
}
