import type { IClientOptions, MqttClient } from 'mqtt';
import { disconnect, dropConnection, formatPacket, type TracedPacket } from '../client/index.js';
import type { ExerciseContext } from './context.js';
import { Checks, packetLines, sleep, table, waitFor, type ExerciseReport } from './report.js';

/** A message one of the exercise's clients received, with when and how it arrived. */
export interface ReceivedMessage {
  /** Milliseconds since the seed function started. */
  at: number;
  /** Label of the client that received it. */
  client: string;
  topic: string;
  payload: string;
  /** Payload size in bytes (0 for the "clear retained" message). */
  bytes: number;
  qos: number;
  /** RETAIN flag on the PUBLISH the client received (not the flag the publisher set). */
  retain: boolean;
}

/** A clock in milliseconds since it was made, rounded to 0.1 ms. */
function stopwatch(): () => number {
  const started = performance.now();
  return () => Math.round((performance.now() - started) * 10) / 10;
}

/** Records every message `client` receives into `sink`, stamped by `clock`. */
function collect(client: MqttClient, label: string, clock: () => number, sink: ReceivedMessage[]): void {
  client.on('message', (topic, payload, packet) => {
    sink.push({ at: clock(), client: label, topic, payload: payload.toString(), bytes: payload.length, qos: packet.qos, retain: packet.retain });
  });
}

/** The status topic of a device. */
const statusTopic = (ctx: ExerciseContext, device: string) => ctx.topic(`devices/${device}/status`);

/** The device name in `…/devices/<device>/status`. */
const deviceOf = (topic: string) => topic.split('/').at(-2)!;

/** The presence will: "offline", QoS 1, retained, so late subscribers learn it too [MQTT-3.1.2-15]. */
function offlineWill(topic: string, willDelayInterval?: number): NonNullable<IClientOptions['will']> {
  return {
    topic,
    payload: Buffer.from('offline'),
    qos: 1,
    retain: true,
    ...(willDelayInterval !== undefined ? { properties: { willDelayInterval } } : {}),
  };
}

/**
 * Clears retained messages the exercise left (an empty retained payload removes them [MQTT-3.3.1-6]),
 * so a broker shared with other runs, or the next exercise, starts from nothing.
 */
async function clearRetained(ctx: ExerciseContext, topics: string[]): Promise<void> {
  const cleaner = await ctx.connect('cleanup');
  for (const topic of topics) await cleaner.publishAsync(topic, '', { qos: 1, retain: true });
  await disconnect(cleaner);
  ctx.forget(cleaner);
}

/** `x` rendered for a table: `"online"`, or `(empty)` for a zero-length payload. */
const showPayload = (m: { payload: string; bytes: number }) => (m.bytes === 0 ? '(empty, 0 B)' : `"${m.payload}"`);

// ─── Retained status ─────────────────────────────────────────────────────────────────────────────

export interface RetainedStatusResult {
  topic: string;
  /** Retained publishes in order; only the last one is kept per topic [MQTT-3.3.1-5]. */
  published: string[];
  /** A client that connected and subscribed after the publishes. */
  lateSubscriber: {
    received: ReceivedMessage[];
    /** Milliseconds between SUBACK and the retained PUBLISH, from the packet trace (negative: it came first). */
    afterSubackMs?: number;
    packets: TracedPacket[];
  };
  /** Then the status was cleared with an empty retained payload. */
  clear: {
    /** What the late subscriber (still subscribed) got: the empty message, delivered like any other. */
    liveSubscriberGot: ReceivedMessage[];
    /** A client subscribing after the clear, and what it got in `waitedMs`. */
    laterSubscriber: { received: ReceivedMessage[]; waitedMs: number; packets: TracedPacket[] };
  };
}

/**
 * Publishes a device status as retained ("booting", then "online"); a subscriber arriving later gets
 * only the latest one, at once and flagged RETAIN=1; an empty retained payload then clears it, and a
 * subscriber after that gets nothing (seed: publish_retained_status).
 */
export async function publishRetainedStatus(ctx: ExerciseContext, options: { quietMs?: number } = {}): Promise<RetainedStatusResult> {
  const quietMs = options.quietMs ?? 500;
  const clock = stopwatch();
  const topic = statusTopic(ctx, 'sensor42');
  const published = ['booting', 'online'];
  try {
    const publisher = await ctx.connect('status-pub');
    // [MQTT-3.3.1-5] the broker keeps one retained message per topic: "online" replaces "booting".
    for (const status of published) await publisher.publishAsync(topic, status, { qos: 1, retain: true });
    await disconnect(publisher);
    ctx.forget(publisher);

    // Connects after the publisher is gone: retained messages do not need the publisher, nor a session.
    const lateMark = ctx.trace.mark();
    const lateReceived: ReceivedMessage[] = [];
    const late = await ctx.connect('late-sub');
    collect(late, 'late-sub', clock, lateReceived);
    await late.subscribeAsync(topic, { qos: 1 });
    await waitFor(() => lateReceived.length >= 1, 2000);
    // A stale "booting" would come right behind "online"; give it a moment to show up.
    await sleep(100);
    const latePackets = ctx.trace.since(lateMark, { client: 'late-sub' });
    const suback = latePackets.find((p) => p.type === 'SUBACK');
    const retainedPublish = latePackets.find((p) => p.type === 'PUBLISH' && p.direction === 'in');
    const lateSubscriber: RetainedStatusResult['lateSubscriber'] = { received: [...lateReceived], packets: latePackets };
    if (suback && retainedPublish) lateSubscriber.afterSubackMs = Math.round((retainedPublish.at - suback.at) * 1000) / 1000;

    // [MQTT-3.3.1-6] an empty retained payload removes the retained message, and is otherwise
    // "processed normally": current subscribers get it like any live message.
    const clearer = await ctx.connect('status-pub');
    const before = lateReceived.length;
    await clearer.publishAsync(topic, '', { qos: 1, retain: true });
    await waitFor(() => lateReceived.length > before, 2000);
    await disconnect(clearer);
    ctx.forget(clearer);

    const laterMark = ctx.trace.mark();
    const laterReceived: ReceivedMessage[] = [];
    const later = await ctx.connect('later-sub');
    collect(later, 'later-sub', clock, laterReceived);
    await later.subscribeAsync(topic, { qos: 1 });
    // Nothing is expected; a retained message would come right after SUBACK, so a bounded wait settles it.
    await sleep(quietMs);
    for (const c of [late, later]) {
      await disconnect(c);
      ctx.forget(c);
    }
    return {
      topic,
      published,
      lateSubscriber,
      clear: {
        liveSubscriberGot: lateReceived.slice(before),
        laterSubscriber: { received: laterReceived, waitedMs: quietMs, packets: ctx.trace.since(laterMark, { client: 'later-sub' }) },
      },
    };
  } finally {
    await clearRetained(ctx, [topic]);
  }
}

// ─── Last Will ───────────────────────────────────────────────────────────────────────────────────

/** One way a device with a will ended its connection, and what the watcher got. */
export interface WillCase {
  device: string;
  topic: string;
  /** How the connection ended. */
  ending: 'socket destroyed, no DISCONNECT' | 'DISCONNECT 0x00 (normal)' | 'DISCONNECT 0x04 (with will message)';
  /** What the watcher, subscribed beforehand, received on the device's topic. */
  watcherGot: ReceivedMessage[];
  /** Milliseconds from the end of the connection to the will's arrival, when it came. */
  willAfterMs?: number;
  /** The bound of the watcher's wait (it stops early when something comes). */
  waitedMs: number;
  /** The device's packets: what it told the broker before it went. */
  devicePackets: TracedPacket[];
}

export interface LastWillResult {
  cases: WillCase[];
  /** A subscriber arriving after the crash: the will was published retained, so it is there. */
  retainedAfterCrash: ReceivedMessage[];
}

/**
 * Three devices connect with a will ("offline", QoS 1, retained) on their status topic while a watcher
 * listens: one loses its socket without DISCONNECT, one disconnects normally, one disconnects with
 * reason 0x04; the watcher sees the will for the first and the third only (seed: setup_last_will).
 */
export async function setupLastWill(ctx: ExerciseContext, options: { quietMs?: number } = {}): Promise<LastWillResult> {
  const quietMs = options.quietMs ?? 500;
  const clock = stopwatch();
  const plan: Array<{ device: string; ending: WillCase['ending'] }> = [
    { device: 'sensor-crash', ending: 'socket destroyed, no DISCONNECT' },
    { device: 'sensor-clean', ending: 'DISCONNECT 0x00 (normal)' },
    { device: 'sensor-0x04', ending: 'DISCONNECT 0x04 (with will message)' },
  ];
  const topics = plan.map((p) => statusTopic(ctx, p.device));
  try {
    const received: ReceivedMessage[] = [];
    const watcher = await ctx.connect('watcher');
    collect(watcher, 'watcher', clock, received);
    await watcher.subscribeAsync(topics, { qos: 1 });

    const cases: WillCase[] = [];
    for (const { device, ending } of plan) {
      const topic = statusTopic(ctx, device);
      const mark = ctx.trace.mark();
      const client = await ctx.connect(device, { will: offlineWill(topic) });
      const from = received.length;
      const endedAt = clock();
      if (ending === 'socket destroyed, no DISCONNECT') {
        // [MQTT-3.1.2-8] the connection closed without DISCONNECT 0x00: the broker publishes the will.
        dropConnection(client);
      } else {
        // [MQTT-3.14.4-3] DISCONNECT 0x00 discards the will; 0x04 asks the broker to publish it (§3.14.2.1).
        const reasonCode = ending === 'DISCONNECT 0x00 (normal)' ? 0x00 : 0x04;
        await new Promise<void>((resolve) => client.end(false, { reasonCode }, () => resolve()));
      }
      ctx.forget(client);
      // No will is expected after a normal DISCONNECT: a bounded wait shows none came.
      const bound = ending === 'DISCONNECT 0x00 (normal)' ? quietMs : 3000;
      const arrived = await waitFor(() => received.length > from, bound);
      const watcherGot = received.slice(from);
      const c: WillCase = { device, topic, ending, watcherGot, waitedMs: bound, devicePackets: ctx.trace.since(mark, { client: device }) };
      if (arrived) c.willAfterMs = Math.round((watcherGot[0]!.at - endedAt) * 10) / 10;
      cases.push(c);
    }

    // The will was retained: a subscriber that was not there when the device crashed still learns it.
    const retainedAfterCrash: ReceivedMessage[] = [];
    const late = await ctx.connect('late-watcher');
    collect(late, 'late-watcher', clock, retainedAfterCrash);
    await late.subscribeAsync(topics[0]!, { qos: 1 });
    await waitFor(() => retainedAfterCrash.length >= 1, 2000);
    await sleep(100);
    await disconnect(late);
    ctx.forget(late);
    await disconnect(watcher);
    ctx.forget(watcher);
    return { cases, retainedAfterCrash };
  } finally {
    await clearRetained(ctx, topics);
  }
}

// ─── Device presence ─────────────────────────────────────────────────────────────────────────────

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

export interface DevicePresenceResult {
  /** What the dashboards subscribe to. */
  filter: string;
  devices: string[];
  timeline: PresenceEvent[];
  /** What each dashboard saw, in arrival order. */
  dashboards: Record<string, Array<{ device: string; status: string; retain: boolean }>>;
  /** Device → status as the late dashboard learnt it. */
  stateSeenByLateDashboard: Record<string, string>;
}

/**
 * The presence pattern: each device connects with a retained "offline" will and publishes a retained
 * "online"; a dashboard subscribing later to devices/+/status learns every state at once; crashes turn
 * into "offline" via the will, a restart into "online"; a second late dashboard sees the current state
 * only (seed: demonstrate_device_presence).
 */
export async function demonstrateDevicePresence(ctx: ExerciseContext): Promise<DevicePresenceResult> {
  const clock = stopwatch();
  const devices = ['sensor42', 'sensor43'];
  const filter = ctx.topic('devices/+/status');
  const timeline: PresenceEvent[] = [];
  const dashboards: DevicePresenceResult['dashboards'] = {};
  const open = new Set<MqttClient>();
  const note = (who: string, what: string) => timeline.push({ at: clock(), who, what });

  /** A device comes up the presence way: will first (in CONNECT), then "online" retained. */
  const startDevice = async (device: string, again = false): Promise<MqttClient> => {
    const topic = statusTopic(ctx, device);
    const client = await ctx.connect(device, { clean: true, will: offlineWill(topic) });
    open.add(client);
    note(device, `${again ? 'reconnects' : 'connects'} with will "offline" (QoS 1, retained)`);
    note(device, 'publishes "online" (retained)');
    await client.publishAsync(topic, 'online', { qos: 1, retain: true });
    return client;
  };
  const crash = (device: string, client: MqttClient) => {
    dropConnection(client);
    ctx.forget(client);
    open.delete(client);
    note(device, 'crashes: socket closed without DISCONNECT');
  };
  const openDashboard = async (name: string): Promise<Array<{ device: string; status: string; retain: boolean }>> => {
    const seen: Array<{ device: string; status: string; retain: boolean }> = [];
    dashboards[name] = seen;
    const client = await ctx.connect(name);
    open.add(client);
    client.on('message', (topic, payload, packet) => {
      const entry = { device: deviceOf(topic), status: payload.toString(), retain: packet.retain };
      seen.push(entry);
      timeline.push({ at: clock(), who: name, what: `sees ${entry.device} = ${entry.status}`, ...entry });
    });
    note(name, `subscribes to ${filter}`);
    await client.subscribeAsync(filter, { qos: 1 });
    return seen;
  };
  const sees = (seen: Array<{ device: string; status: string }>, device: string, status: string, from: number) =>
    waitFor(() => seen.slice(from).some((s) => s.device === device && s.status === status), 3000);

  try {
    const running = new Map<string, MqttClient>();
    for (const device of devices) running.set(device, await startDevice(device));

    // Subscribes after the devices announced themselves: retained states arrive at once [MQTT-3.3.1-9].
    const first = await openDashboard('dashboard-1');
    await waitFor(() => first.length >= devices.length, 2000);

    // A crash: the broker publishes the will [MQTT-3.1.2-8], retained [MQTT-3.1.2-15].
    let from = first.length;
    crash('sensor42', running.get('sensor42')!);
    await sees(first, 'sensor42', 'offline', from);

    // The device restarts (same client id) and announces itself again.
    from = first.length;
    running.set('sensor42', await startDevice('sensor42', true));
    await sees(first, 'sensor42', 'online', from);

    from = first.length;
    crash('sensor43', running.get('sensor43')!);
    await sees(first, 'sensor43', 'offline', from);

    // A second dashboard, late: one retained message per device, the current state only.
    const second = await openDashboard('dashboard-2');
    await waitFor(() => second.length >= devices.length, 2000);
    await sleep(100);

    const stateSeenByLateDashboard: Record<string, string> = {};
    for (const s of second) stateSeenByLateDashboard[s.device] = s.status;
    return { filter, devices, timeline, dashboards, stateSeenByLateDashboard };
  } finally {
    // Everyone leaves before the states are cleared, so the clearing is not part of what was seen; devices leave with
    // DISCONNECT 0x00, which discards their wills [MQTT-3.14.4-3].
    for (const client of open) {
      await disconnect(client, !client.connected);
      ctx.forget(client);
    }
    await clearRetained(ctx, devices.map((d) => statusTopic(ctx, d)));
  }
}

// ─── Will Delay Interval (MQTT 5) ────────────────────────────────────────────────────────────────

export interface WillDelayResult {
  topic: string;
  willDelaySeconds: number;
  sessionExpirySeconds: number;
  /** The device dropped and came back within the delay. */
  reconnect: {
    reconnectedAfterMs: number;
    /** CONNACK Session Present on the reconnect (Clean Start 0). */
    sessionPresent: boolean;
    /** How long after the drop the watcher was watched for an "offline". */
    watchedMs: number;
    /** "offline" messages the watcher got in that window: none expected. */
    offline: ReceivedMessage[];
    /** The device's CONNECT/CONNACK on the way back. */
    packets: TracedPacket[];
  };
  /** The device dropped and stayed away. */
  stayAway: {
    /** Milliseconds from the drop to the "offline" at the watcher, when it came. */
    willAfterMs?: number;
    offline: ReceivedMessage[];
  };
  /** Everything the watcher received, in order. */
  watcher: ReceivedMessage[];
}

/**
 * A device with a Will Delay Interval drops its connection and reconnects within the delay (same
 * client id, Clean Start 0): no "offline". Then it drops and stays away: "offline" comes after the
 * delay (MQTT 5.0 §3.1.3.2.2).
 */
export async function demonstrateWillDelay(
  ctx: ExerciseContext,
  options: { willDelaySeconds?: number; sessionExpirySeconds?: number; reconnectAfterMs?: number } = {},
): Promise<WillDelayResult> {
  const willDelaySeconds = options.willDelaySeconds ?? 2;
  const sessionExpirySeconds = options.sessionExpirySeconds ?? 10;
  const reconnectAfterMs = options.reconnectAfterMs ?? 500;
  const clock = stopwatch();
  const device = 'sensor-delay';
  const topic = statusTopic(ctx, device);
  // The will waits for the smaller of Will Delay and Session Expiry (§3.1.3.2.2): keep the session longer.
  const connectOptions = (clean: boolean): IClientOptions => ({
    clean,
    properties: { sessionExpiryInterval: sessionExpirySeconds },
    will: offlineWill(topic, willDelaySeconds),
  });
  const offline = (from: number, to = Infinity) => watched.filter((m) => m.payload === 'offline' && m.at >= from && m.at <= to);
  const watched: ReceivedMessage[] = [];
  try {
    const watcher = await ctx.connect('delay-watcher');
    collect(watcher, 'delay-watcher', clock, watched);
    await watcher.subscribeAsync(topic, { qos: 1 });

    let client = await ctx.connect(device, connectOptions(true));
    await client.publishAsync(topic, 'online', { qos: 1, retain: true });

    // Drop, and come back within the delay: [MQTT-3.1.3-9] the will must not be sent.
    dropConnection(client);
    ctx.forget(client);
    const firstDrop = clock();
    await sleep(reconnectAfterMs);
    const mark = ctx.trace.mark();
    client = await ctx.connect(device, connectOptions(false));
    const reconnectedAfterMs = Math.round(clock() - firstDrop);
    const packets = ctx.trace.since(mark, { client: device });
    await client.publishAsync(topic, 'online', { qos: 1, retain: true });
    // Watch past the moment the will would have gone out, had the reconnect not cancelled it.
    const watchUntil = firstDrop + willDelaySeconds * 1000 + 700;
    await sleep(Math.max(0, watchUntil - clock()));
    const reconnect = {
      reconnectedAfterMs,
      sessionPresent: packets.find((p) => p.type === 'CONNACK')?.sessionPresent === true,
      watchedMs: Math.round(clock() - firstDrop),
      offline: offline(firstDrop),
      packets,
    };

    // Drop and stay away: the will goes out once the delay has passed.
    dropConnection(client);
    ctx.forget(client);
    const secondDrop = clock();
    await waitFor(() => offline(secondDrop).length > 0, willDelaySeconds * 1000 + 3000);
    const stayAwayOffline = offline(secondDrop);
    const stayAway: WillDelayResult['stayAway'] = { offline: stayAwayOffline };
    if (stayAwayOffline.length > 0) stayAway.willAfterMs = Math.round(stayAwayOffline[0]!.at - secondDrop);
    await disconnect(watcher);
    ctx.forget(watcher);
    return { topic, willDelaySeconds, sessionExpirySeconds, reconnect, stayAway, watcher: watched };
  } finally {
    // End the device's stored session now (Clean Start 1, then DISCONNECT with Session Expiry 0).
    const closer = await ctx.connect(device, { clean: true });
    await new Promise<void>((resolve) => closer.end(false, { properties: { sessionExpiryInterval: 0 } }, () => resolve()));
    ctx.forget(closer);
    await clearRetained(ctx, [topic]);
  }
}

// ─── The exercise ────────────────────────────────────────────────────────────────────────────────

export interface RetainedLastwillResult {
  retainedStatus: RetainedStatusResult;
  lastWill: LastWillResult;
  presence: DevicePresenceResult;
  willDelay: WillDelayResult;
}

const ms = (x: number | undefined) => (x === undefined ? '—' : `${x} ms`);
const flag = (retain: boolean) => (retain ? 'retain=1' : 'retain=0');

/** Runs exercise 3 and reports it. */
export async function runRetainedLastwill(ctx: ExerciseContext): Promise<ExerciseReport<RetainedLastwillResult>> {
  const started = Date.now();
  const checks = new Checks();
  const retainedStatus = await publishRetainedStatus(ctx);
  const lastWill = await setupLastWill(ctx);
  const presence = await demonstrateDevicePresence(ctx);
  const willDelay = await demonstrateWillDelay(ctx);
  const sections: ExerciseReport['sections'] = [];

  // Retained status.
  const r = retainedStatus;
  const lateGot = r.lateSubscriber.received;
  checks.expect(
    'a late subscriber gets only the latest retained status, flagged RETAIN=1 [MQTT-3.3.1-5], [MQTT-3.3.1-8]',
    lateGot.length === 1 && lateGot[0]!.payload === 'online' && lateGot[0]!.retain,
    JSON.stringify(lateGot.map((m) => [m.payload, m.retain])),
  );
  const live = r.clear.liveSubscriberGot;
  checks.expect(
    'the empty retained publish reaches current subscribers like a live message [MQTT-3.3.1-6]',
    live.length === 1 && live[0]!.bytes === 0,
    JSON.stringify(live.map((m) => [m.payload, m.retain])),
  );
  checks.expect(
    'after the empty retained publish, a new subscriber gets nothing [MQTT-3.3.1-6], [MQTT-3.3.1-7]',
    r.clear.laterSubscriber.received.length === 0,
    JSON.stringify(r.clear.laterSubscriber.received.map((m) => m.payload)),
  );
  sections.push({
    title: `Retained status: published ${r.published.map((p) => `"${p}"`).join(' then ')} (retained) to ${r.topic}, then a subscriber arrives`,
    lines: [
      ...packetLines(r.lateSubscriber.packets),
      `  → ${lateGot.length} message(s): ${lateGot.map((m) => `${showPayload(m)} ${flag(m.retain)}`).join(', ') || 'none'}, ` +
        `${ms(r.lateSubscriber.afterSubackMs)} after SUBACK — the subscriber did not wait for the next publish.`,
      `  Only the last retained message per topic is kept: "booting" is gone.`,
    ],
  });
  sections.push({
    title: 'Clearing it: PUBLISH retain=1 with an empty payload',
    lines: [
      `  late-sub (still subscribed) got: ${live.map((m) => `${showPayload(m)} ${flag(m.retain)}`).join(', ') || 'nothing'}`,
      `  later-sub (subscribed after the clear), waited ${r.clear.laterSubscriber.waitedMs} ms:`,
      ...packetLines(r.clear.laterSubscriber.packets),
      `  → ${r.clear.laterSubscriber.received.length === 0 ? 'no PUBLISH: the retained message is gone' : `${r.clear.laterSubscriber.received.length} message(s)`}`,
    ],
  });

  // Last will.
  const [crashed, clean, withWill] = lastWill.cases;
  checks.expect(
    'a connection closed without DISCONNECT publishes the will [MQTT-3.1.2-8]',
    crashed!.watcherGot.length === 1 && crashed!.watcherGot[0]!.payload === 'offline',
    JSON.stringify(crashed!.watcherGot.map((m) => m.payload)),
  );
  checks.expect('a normal DISCONNECT (0x00) discards the will [MQTT-3.14.4-3]', clean!.watcherGot.length === 0, JSON.stringify(clean!.watcherGot.map((m) => m.payload)));
  checks.expect(
    'DISCONNECT with reason 0x04 publishes the will (MQTT 5.0 §3.14.2.1)',
    withWill!.watcherGot.length === 1 && withWill!.watcherGot[0]!.payload === 'offline',
    JSON.stringify(withWill!.watcherGot.map((m) => m.payload)),
  );
  checks.expect(
    'a will with Will Retain 1 is published retained: a later subscriber gets it [MQTT-3.1.2-15]',
    lastWill.retainedAfterCrash.length === 1 && lastWill.retainedAfterCrash[0]!.payload === 'offline' && lastWill.retainedAfterCrash[0]!.retain,
    JSON.stringify(lastWill.retainedAfterCrash.map((m) => [m.payload, m.retain])),
  );
  sections.push({
    title: 'Last Will: three devices with will "offline" (QoS 1, retained); a watcher subscribed beforehand',
    lines: [
      ...table(
        ['device', 'how the connection ended', 'watcher received', 'after'],
        lastWill.cases.map((c) => [
          c.device,
          c.ending,
          c.watcherGot.map((m) => `${showPayload(m)} qos=${m.qos} ${flag(m.retain)}`).join(', ') || `nothing in ${c.waitedMs} ms`,
          c.willAfterMs === undefined ? '' : `${c.willAfterMs} ms`,
        ]),
      ),
      `  What sensor-clean sent before it went (the DISCONNECT is what tells the broker "no will"):`,
      ...packetLines(clean!.devicePackets),
      `  A subscriber arriving after the crash got: ${lastWill.retainedAfterCrash.map((m) => `${showPayload(m)} ${flag(m.retain)}`).join(', ') || 'nothing'}` +
        ' — the will was retained; live deliveries to the watcher carry retain=0 (no Retain As Published) [MQTT-3.3.1-12].',
    ],
  });

  // Presence.
  const d1 = presence.dashboards['dashboard-1'] ?? [];
  const d2 = presence.dashboards['dashboard-2'] ?? [];
  const initial = d1.slice(0, 2);
  checks.expect(
    'a dashboard subscribing later to devices/+/status gets every device\'s "online" at once, retained',
    initial.length === 2 && initial.every((s) => s.status === 'online' && s.retain) && new Set(initial.map((s) => s.device)).size === 2,
    JSON.stringify(initial),
  );
  checks.expect(
    'the dashboard then sees crash → offline, restart → online, crash → offline, live',
    JSON.stringify(d1.slice(2).map((s) => [s.device, s.status, s.retain])) ===
      JSON.stringify([['sensor42', 'offline', false], ['sensor42', 'online', false], ['sensor43', 'offline', false]]),
    JSON.stringify(d1.slice(2)),
  );
  checks.expect(
    'a second late dashboard sees only the current state: sensor42 online, sensor43 offline, retained',
    d2.length === 2 && d2.every((s) => s.retain) && presence.stateSeenByLateDashboard.sensor42 === 'online' && presence.stateSeenByLateDashboard.sensor43 === 'offline',
    JSON.stringify(d2),
  );
  sections.push({
    title: `Device presence: retained "online" + will "offline"; what a dashboard on ${presence.filter} sees`,
    lines: table(
      ['ms', 'who', 'what', 'flag'],
      presence.timeline.map((e) => [e.at.toFixed(1), e.who, e.what, e.retain === undefined ? '' : flag(e.retain)]),
    ),
  });

  // Will delay.
  const w = willDelay;
  checks.expect(
    'a reconnect within the Will Delay Interval cancels the will [MQTT-3.1.3-9]',
    w.reconnect.offline.length === 0 && w.reconnect.sessionPresent,
    `offline=${w.reconnect.offline.length} sessionPresent=${w.reconnect.sessionPresent}`,
  );
  checks.expect(
    'a device that stays away gets its will published after the delay, not at once (MQTT 5.0 §3.1.3.2.2)',
    w.stayAway.willAfterMs !== undefined && w.stayAway.willAfterMs >= 1000,
    `will after ${ms(w.stayAway.willAfterMs)}`,
  );
  sections.push({
    title: `Will Delay Interval ${w.willDelaySeconds} s (Session Expiry ${w.sessionExpirySeconds} s): a flaky network vs a device that is gone`,
    lines: [
      `  drop → reconnect after ${w.reconnect.reconnectedAfterMs} ms (Clean Start 0):`,
      ...w.reconnect.packets.map((p) => `  ${formatPacket(p)}`),
      `  → "offline" messages in the ${w.reconnect.watchedMs} ms after the drop: ${w.reconnect.offline.length} (the reconnect cancelled the pending will)`,
      `  drop → stays away: "offline" arrived ${ms(w.stayAway.willAfterMs)} after the drop (Will Delay ${w.willDelaySeconds * 1000} ms)`,
      ...(w.stayAway.willAfterMs !== undefined && w.stayAway.willAfterMs > w.willDelaySeconds * 1000 + 250
        ? ['  The spec only says the will goes out once the delay has passed, not how soon after: a broker that counts',
           '  the delay in whole seconds (Mosquitto 2.0.11: time(NULL) + delay) publishes up to ~1 s later.']
        : []),
      ...table(['ms', 'watcher received', 'flag'], w.watcher.map((m) => [m.at.toFixed(1), showPayload(m), flag(m.retain)])),
    ],
  });

  const laterCount = r.clear.laterSubscriber.received.length;
  return {
    exercise: 'retained-lastwill',
    title: 'Exercise 3 — Retained messages & Last Will: device presence',
    broker: ctx.url,
    sections,
    keyQuestion: {
      question: 'What happens if you publish a retained message with an empty payload? Why is this useful?',
      answer: [
        `It deletes the topic's retained message: before, a late subscriber got "online" ${ms(r.lateSubscriber.afterSubackMs)} after SUBACK;`,
        `after the empty publish, a new subscriber got ${laterCount} message(s) in ${r.clear.laterSubscriber.waitedMs} ms. Subscribers already listening still`,
        `received it as a ${live[0]?.bytes ?? '?'}-byte message, so treat an empty status as "removed". Useful because a retained`,
        'state otherwise outlives its device for good (unless it had an MQTT 5 Message Expiry): a decommissioned or renamed',
        'sensor would greet every new dashboard forever. The presence pattern relies on it to retract a device entirely.',
      ],
    },
    checks: checks.list,
    data: { retainedStatus, lastWill, presence, willDelay },
    durationMs: Date.now() - started,
  };
}
