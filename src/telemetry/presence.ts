/** What the registry knows of one device. */
export interface DevicePresence {
  id: string;
  site: string | null;
  status: 'online' | 'offline' | 'unknown';
  /** Epoch ms of the last change seen live; null when only the retained status is known. */
  statusChangedAt: number | null;
  /** Epoch ms of the newest reading received. */
  lastSeen: number | null;
  /** The emulated link the device announced in its status (`link` user property); null without one. */
  link: string | null;
  /** Reconnects the device announced with its latest `online` (`reconnects` user property); null without a link. */
  reconnects: number | null;
}

/** What a status message says besides online/offline, from its user properties. */
export interface StatusDetails {
  retained: boolean;
  site?: string;
  link?: string;
  reconnects?: number;
  now?: number;
}

/**
 * Follows the devices' retained statuses (`devices/<id>/status`): the broker hands a new subscriber
 * every retained status at once (MQTT 5.0 §3.3.1.3), then each change as it happens, wills included.
 */
export class PresenceRegistry {
  private readonly devices = new Map<string, DevicePresence>();

  /**
   * Applies a status message. `retained` marks one replayed on subscribe (its time is unknown).
   * Returns the device's presence when the status changed.
   */
  applyStatus(device: string, payload: string, options: StatusDetails): DevicePresence | undefined {
    const trimmed = payload.trim();
    // An empty retained payload clears the retained status (§3.3.1.3): the device is gone.
    if (trimmed === '') {
      this.devices.delete(device);
      return undefined;
    }
    const status = trimmed === 'online' || trimmed === 'offline' ? trimmed : 'unknown';
    const entry = this.entry(device);
    if (options.site) entry.site = options.site;
    if (options.link) entry.link = options.link;
    // The will (offline) carries no count: the last one announced stays.
    if (options.reconnects !== undefined) entry.reconnects = Math.max(entry.reconnects ?? 0, options.reconnects);
    if (entry.status === status) return undefined;
    entry.status = status;
    entry.statusChangedAt = options.retained ? entry.statusChangedAt : (options.now ?? Date.now());
    return entry;
  }

  /** Notes a reading: the device was heard from, at a site. */
  seen(device: string, site: string, ts: number): void {
    const entry = this.entry(device);
    entry.site ??= site;
    if (entry.lastSeen === null || ts > entry.lastSeen) entry.lastSeen = ts;
  }

  /** Every known device, by id. */
  list(): DevicePresence[] {
    return [...this.devices.values()].sort((a, b) => a.id.localeCompare(b.id)).map((d) => ({ ...d }));
  }

  get(device: string): DevicePresence | undefined {
    const d = this.devices.get(device);
    return d && { ...d };
  }

  /** Devices by status. */
  counts(): { devices: number; online: number; offline: number } {
    let online = 0;
    let offline = 0;
    for (const d of this.devices.values()) {
      if (d.status === 'online') online++;
      else if (d.status === 'offline') offline++;
    }
    return { devices: this.devices.size, online, offline };
  }

  private entry(device: string): DevicePresence {
    let d = this.devices.get(device);
    if (!d) {
      d = { id: device, site: null, status: 'unknown', statusChangedAt: null, lastSeen: null, link: null, reconnects: null };
      this.devices.set(device, d);
    }
    return d;
  }
}
