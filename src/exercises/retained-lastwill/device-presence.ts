import type { MqttClient } from 'mqtt';
import { disconnect, dropConnection } from '../../client/index.js';
import { STATUS_FILTER } from '../../telemetry/index.js';
import type { ExerciseContext } from '../context.js';
import { type Checks, type Section, sleep, table, waitFor } from '../report.js';
import { clearRetained, deviceOf, deviceStatusTopic, offlineWill } from './device-status.js';
import { flag, stopwatch } from './received-messages.js';

/** One line of the presence timeline: something a device did, or something a dashboard saw. */
export interface PresenceEvent {
  /** Milliseconds since the demonstration started. */
  at: number;
  /** A device (`sensor42`) or a dashboard (`dashboard-1`). */
  who: string;
  /** What happened, e.g. `connects with will "offline" (retained)`, or `sees sensor42 = online`. */
  what: string;
  /** For a dashboard's message: the device, its status and the RETAIN flag it arrived with. */
  device?: string;
  status?: string;
  retain?: boolean;
}

/** A status message as a dashboard saw it. */
export interface SeenStatus {
  device: string;
  status: string;
  retain: boolean;
}

/** What the presence demonstration saw: the timeline, and each dashboard's view. */
export interface DevicePresenceResult {
  /** What the dashboards subscribe to. */
  filter: string;
  devices: string[];
  timeline: PresenceEvent[];
  /** What each dashboard saw, in arrival order. */
  dashboards: Record<string, SeenStatus[]>;
  /** Device → status as the late dashboard learnt it. */
  stateSeenByLateDashboard: Record<string, string>;
}

/** The devices and dashboards of the presence demonstration, and the timeline of what they did and saw. */
class PresenceStage {
  readonly clock = stopwatch();
  readonly filter: string;
  readonly timeline: PresenceEvent[] = [];
  readonly dashboards: Record<string, SeenStatus[]> = {};
  private readonly open = new Set<MqttClient>();

  constructor(private readonly ctx: ExerciseContext) {
    this.filter = ctx.topic(STATUS_FILTER);
  }

  note(who: string, what: string): void {
    this.timeline.push({ at: this.clock(), who, what });
  }

  /** A device comes up the presence way: will first (in CONNECT), then "online" retained. */
  async startDevice(device: string, again = false): Promise<MqttClient> {
    const topic = deviceStatusTopic(this.ctx, device);
    const client = await this.ctx.connect(device, { clean: true, will: offlineWill(topic) });
    this.open.add(client);
    this.note(device, `${again ? 'reconnects' : 'connects'} with will "offline" (QoS 1, retained)`);
    this.note(device, 'publishes "online" (retained)');
    await client.publishAsync(topic, 'online', { qos: 1, retain: true });
    return client;
  }

  /** A device's socket closes without DISCONNECT. */
  crash(device: string, client: MqttClient): void {
    dropConnection(client);
    this.ctx.forget(client);
    this.open.delete(client);
    this.note(device, 'crashes: socket closed without DISCONNECT');
  }

  /** A dashboard subscribes to every device's status; returns what it sees, as it sees it. */
  async openDashboard(name: string): Promise<SeenStatus[]> {
    const seen: SeenStatus[] = [];
    this.dashboards[name] = seen;
    const client = await this.ctx.connect(name);
    this.open.add(client);
    client.on('message', (topic, payload, packet) => {
      const entry = { device: deviceOf(this.ctx, topic), status: payload.toString(), retain: packet.retain };
      seen.push(entry);
      this.timeline.push({ at: this.clock(), who: name, what: `sees ${entry.device} = ${entry.status}`, ...entry });
    });
    this.note(name, `subscribes to ${this.filter}`);
    await client.subscribeAsync(this.filter, { qos: 1 });
    return seen;
  }

  /** Waits until a dashboard saw `device` = `status` after its `from`th message. */
  sees(seen: SeenStatus[], device: string, status: string, from: number): Promise<boolean> {
    return waitFor(() => seen.slice(from).some((s) => s.device === device && s.status === status), 3000);
  }

  /**
   * Everyone leaves before the states are cleared, so the clearing is not part of what was seen; devices leave with
   * DISCONNECT 0x00, which discards their wills [MQTT-3.14.4-3].
   */
  async close(devices: string[]): Promise<void> {
    for (const client of this.open) {
      await disconnect(client, !client.connected);
      this.ctx.forget(client);
    }
    await clearRetained(
      this.ctx,
      devices.map((d) => deviceStatusTopic(this.ctx, d)),
    );
  }
}

/**
 * The presence pattern: each device connects with a retained "offline" will and publishes a retained
 * "online"; a dashboard subscribing later to devices/+/status learns every state at once; crashes turn
 * into "offline" via the will, a restart into "online"; a second late dashboard sees the current state
 * only (seed: demonstrate_device_presence).
 */
export async function demonstrateDevicePresence(ctx: ExerciseContext): Promise<DevicePresenceResult> {
  const devices = ['sensor42', 'sensor43'];
  const stage = new PresenceStage(ctx);
  try {
    const running = new Map<string, MqttClient>();
    for (const device of devices) running.set(device, await stage.startDevice(device));

    // Subscribes after the devices announced themselves: retained states arrive at once [MQTT-3.3.1-9].
    const first = await stage.openDashboard('dashboard-1');
    await waitFor(() => first.length >= devices.length, 2000);

    // A crash: the broker publishes the will [MQTT-3.1.2-8], retained [MQTT-3.1.2-15].
    let from = first.length;
    stage.crash('sensor42', running.get('sensor42')!);
    await stage.sees(first, 'sensor42', 'offline', from);

    // The device restarts (same client id) and announces itself again.
    from = first.length;
    running.set('sensor42', await stage.startDevice('sensor42', true));
    await stage.sees(first, 'sensor42', 'online', from);

    from = first.length;
    stage.crash('sensor43', running.get('sensor43')!);
    await stage.sees(first, 'sensor43', 'offline', from);

    // A second dashboard, late: one retained message per device, the current state only.
    const second = await stage.openDashboard('dashboard-2');
    await waitFor(() => second.length >= devices.length, 2000);
    await sleep(100);

    const stateSeenByLateDashboard: Record<string, string> = {};
    for (const s of second) stateSeenByLateDashboard[s.device] = s.status;
    return { filter: stage.filter, devices, timeline: stage.timeline, dashboards: stage.dashboards, stateSeenByLateDashboard };
  } finally {
    await stage.close(devices);
  }
}

/** The report section for device presence, recording its checks. */
export function reportDevicePresence(presence: DevicePresenceResult, checks: Checks): Section {
  const d1 = presence.dashboards['dashboard-1'] ?? [];
  const d2 = presence.dashboards['dashboard-2'] ?? [];
  const initial = d1.slice(0, 2);
  checks.expect(
    'a dashboard subscribing later to devices/+/status gets every device\'s "online" at once, retained',
    initial.length === 2 && initial.every((s) => s.status === 'online' && s.retain) && new Set(initial.map((s) => s.device)).size === 2,
    JSON.stringify(initial),
  );
  const expectedLive = [
    ['sensor42', 'offline', false],
    ['sensor42', 'online', false],
    ['sensor43', 'offline', false],
  ];
  checks.expect(
    'the dashboard then sees crash → offline, restart → online, crash → offline, live',
    JSON.stringify(d1.slice(2).map((s) => [s.device, s.status, s.retain])) === JSON.stringify(expectedLive),
    JSON.stringify(d1.slice(2)),
  );
  const state = presence.stateSeenByLateDashboard;
  checks.expect(
    'a second late dashboard sees only the current state: sensor42 online, sensor43 offline, retained',
    d2.length === 2 && d2.every((s) => s.retain) && state.sensor42 === 'online' && state.sensor43 === 'offline',
    JSON.stringify(d2),
  );
  return {
    title: `Device presence: retained "online" + will "offline"; what a dashboard on ${presence.filter} sees`,
    lines: table(
      ['ms', 'who', 'what', 'flag'],
      presence.timeline.map((e) => [e.at.toFixed(1), e.who, e.what, e.retain === undefined ? '' : flag(e.retain)]),
    ),
  };
}
