import type { IClientOptions, MqttClient } from 'mqtt';
import { disconnect, dropConnection, formatPacket, type TracedPacket } from '../../client/index.js';
import type { ExerciseContext } from '../context.js';
import { type Checks, type Section, sleep, table, waitFor } from '../report.js';
import { clearRetained, deviceStatusTopic, offlineWill } from './device-status.js';
import { collect, flag, ms, type ReceivedMessage, showPayload, stopwatch } from './received-messages.js';

/** What the will-delay demonstration saw: a reconnect within the delay, then a device that stays away. */
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

/** The device of the demonstration, its settings, the watcher's messages and the shared clock. */
interface DelayScene {
  ctx: ExerciseContext;
  device: string;
  topic: string;
  willDelaySeconds: number;
  reconnectAfterMs: number;
  clock: () => number;
  /** CONNECT options: a session longer than the will delay, and the delayed "offline" will. */
  connectOptions: (clean: boolean) => IClientOptions;
  /** "offline" messages the watcher got between two clock readings. */
  offline: (from: number, to?: number) => ReceivedMessage[];
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
  const device = 'sensor-delay';
  const topic = deviceStatusTopic(ctx, device);
  const watched: ReceivedMessage[] = [];
  const scene: DelayScene = {
    ctx,
    device,
    topic,
    willDelaySeconds,
    reconnectAfterMs: options.reconnectAfterMs ?? 500,
    clock: stopwatch(),
    // The will waits for the smaller of Will Delay and Session Expiry (§3.1.3.2.2): keep the session longer.
    connectOptions: (clean) => ({
      clean,
      properties: { sessionExpiryInterval: sessionExpirySeconds },
      will: offlineWill(topic, willDelaySeconds),
    }),
    offline: (from, to = Infinity) => watched.filter((m) => m.payload === 'offline' && m.at >= from && m.at <= to),
  };
  try {
    const watcher = await ctx.connect('delay-watcher');
    collect(watcher, 'delay-watcher', scene.clock, watched);
    await watcher.subscribeAsync(topic, { qos: 1 });

    const client = await ctx.connect(device, scene.connectOptions(true));
    await client.publishAsync(topic, 'online', { qos: 1, retain: true });
    const { reconnect, client: back } = await reconnectWithinDelay(scene, client);
    const stayAway = await dropAndStayAway(scene, back);
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

/** Drop, and come back within the delay: [MQTT-3.1.3-9] the will must not be sent. */
async function reconnectWithinDelay(
  scene: DelayScene,
  client: MqttClient,
): Promise<{ reconnect: WillDelayResult['reconnect']; client: MqttClient }> {
  const { ctx, clock, device, topic } = scene;
  dropConnection(client);
  ctx.forget(client);
  const firstDrop = clock();
  await sleep(scene.reconnectAfterMs);
  const mark = ctx.trace.mark();
  const back = await ctx.connect(device, scene.connectOptions(false));
  const reconnectedAfterMs = Math.round(clock() - firstDrop);
  const packets = ctx.trace.since(mark, { client: device });
  await back.publishAsync(topic, 'online', { qos: 1, retain: true });
  // Watch past the moment the will would have gone out, had the reconnect not cancelled it.
  const watchUntil = firstDrop + scene.willDelaySeconds * 1000 + 700;
  await sleep(Math.max(0, watchUntil - clock()));
  const reconnect = {
    reconnectedAfterMs,
    sessionPresent: packets.find((p) => p.type === 'CONNACK')?.sessionPresent === true,
    watchedMs: Math.round(clock() - firstDrop),
    offline: scene.offline(firstDrop),
    packets,
  };
  return { reconnect, client: back };
}

/** Drop and stay away: the will goes out once the delay has passed. */
async function dropAndStayAway(scene: DelayScene, client: MqttClient): Promise<WillDelayResult['stayAway']> {
  dropConnection(client);
  scene.ctx.forget(client);
  const secondDrop = scene.clock();
  await waitFor(() => scene.offline(secondDrop).length > 0, scene.willDelaySeconds * 1000 + 3000);
  const offline = scene.offline(secondDrop);
  const stayAway: WillDelayResult['stayAway'] = { offline };
  if (offline.length > 0) stayAway.willAfterMs = Math.round(offline[0]!.at - secondDrop);
  return stayAway;
}

/** The report section for the Will Delay Interval, recording its checks. */
export function reportWillDelay(w: WillDelayResult, checks: Checks): Section {
  checks.conforms(
    ['MQTT-3.1.3-9'],
    'a reconnect within the Will Delay Interval cancels the will',
    w.reconnect.offline.length === 0 && w.reconnect.sessionPresent,
    `offline=${w.reconnect.offline.length} sessionPresent=${w.reconnect.sessionPresent}`,
  );
  checks.expect(
    'a device that stays away gets its will published after the delay, not at once (MQTT 5.0 §3.1.3.2.2)',
    w.stayAway.willAfterMs !== undefined && w.stayAway.willAfterMs >= 1000,
    `will after ${ms(w.stayAway.willAfterMs)}`,
  );
  const late = w.stayAway.willAfterMs !== undefined && w.stayAway.willAfterMs > w.willDelaySeconds * 1000 + 250;
  return {
    title:
      `Will Delay Interval ${w.willDelaySeconds} s (Session Expiry ${w.sessionExpirySeconds} s): ` +
      'a flaky network vs a device that is gone',
    lines: [
      "  times run from the drop — the moment this program closed the device's socket without DISCONNECT — to when the",
      "  watcher (or the device's CONNACK) received the packet, on one clock; the broker sees the close a little after the drop",
      `  drop → reconnect after ${w.reconnect.reconnectedAfterMs} ms (Clean Start 0):`,
      ...w.reconnect.packets.map((p) => `  ${formatPacket(p)}`),
      `  → "offline" messages in the ${w.reconnect.watchedMs} ms after the drop: ${w.reconnect.offline.length} ` +
        '(the reconnect cancelled the pending will)',
      `  drop → stays away: "offline" arrived ${ms(w.stayAway.willAfterMs)} after the drop (Will Delay ${w.willDelaySeconds * 1000} ms)`,
      ...(late
        ? [
            '  The spec only says the will goes out once the delay has passed, not how soon after: a broker that counts',
            '  the delay in whole seconds (Mosquitto 2.0.11: time(NULL) + delay) publishes up to ~1 s later.',
          ]
        : []),
      ...table(
        ['ms', 'watcher received', 'flag'],
        w.watcher.map((m) => [m.at.toFixed(1), showPayload(m), flag(m.retain)]),
      ),
    ],
  };
}
