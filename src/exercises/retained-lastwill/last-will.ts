import type { MqttClient } from 'mqtt';
import { disconnect, dropConnection, type TracedPacket } from '../../client/index.js';
import { ReasonCode } from '../../protocol/index.js';
import type { ExerciseContext } from '../context.js';
import { type Checks, packetLines, type Section, sleep, table, waitFor } from '../report.js';
import { clearRetained, deviceStatusTopic, offlineWill } from './device-status.js';
import { collect, flag, type ReceivedMessage, showPayload, stopwatch } from './received-messages.js';

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

/** What the last-will demonstration saw: the three endings, and a subscriber that came after the crash. */
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
  const topics = plan.map((p) => deviceStatusTopic(ctx, p.device));
  try {
    const received: ReceivedMessage[] = [];
    const watcher = await ctx.connect('watcher');
    collect(watcher, 'watcher', clock, received);
    await watcher.subscribeAsync(topics, { qos: 1 });

    const cases: WillCase[] = [];
    for (const { device, ending } of plan) cases.push(await willCase(ctx, { device, ending, quietMs, clock, received }));

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

/** One device connects with the will, ends its connection as planned, and the watcher's messages are read. */
async function willCase(
  ctx: ExerciseContext,
  run: { device: string; ending: WillCase['ending']; quietMs: number; clock: () => number; received: ReceivedMessage[] },
): Promise<WillCase> {
  const { device, ending, clock, received } = run;
  const topic = deviceStatusTopic(ctx, device);
  const mark = ctx.trace.mark();
  const client = await ctx.connect(device, { will: offlineWill(topic) });
  const from = received.length;
  const endedAt = clock();
  await endConnection(client, ending);
  ctx.forget(client);
  // No will is expected after a normal DISCONNECT: a bounded wait shows none came.
  const bound = ending === 'DISCONNECT 0x00 (normal)' ? run.quietMs : 3000;
  const arrived = await waitFor(() => received.length > from, bound);
  const watcherGot = received.slice(from);
  const c: WillCase = { device, topic, ending, watcherGot, waitedMs: bound, devicePackets: ctx.trace.since(mark, { client: device }) };
  if (arrived) c.willAfterMs = Math.round((watcherGot[0]!.at - endedAt) * 10) / 10;
  return c;
}

/** Ends a device's connection the way the case says. */
async function endConnection(client: MqttClient, ending: WillCase['ending']): Promise<void> {
  if (ending === 'socket destroyed, no DISCONNECT') {
    // [MQTT-3.1.2-8] the connection closed without DISCONNECT 0x00: the broker publishes the will.
    dropConnection(client);
    return;
  }
  // [MQTT-3.14.4-3] DISCONNECT 0x00 discards the will; 0x04 asks the broker to publish it (§3.14.2.1).
  const reasonCode = ending === 'DISCONNECT 0x00 (normal)' ? ReasonCode.NormalDisconnection : ReasonCode.DisconnectWithWillMessage;
  await new Promise<void>((resolve) => client.end(false, { reasonCode }, () => resolve()));
}

/** The report section for the last will, recording its checks. */
export function reportLastWill(lastWill: LastWillResult, checks: Checks): Section {
  const [crashed, clean, withWill] = lastWill.cases;
  const payloads = (messages: ReceivedMessage[]) => JSON.stringify(messages.map((m) => m.payload));
  checks.conforms(
    ['MQTT-3.1.2-8'],
    'a connection closed without DISCONNECT publishes the will',
    crashed!.watcherGot.length === 1 && crashed!.watcherGot[0]!.payload === 'offline',
    payloads(crashed!.watcherGot),
  );
  checks.conforms(
    ['MQTT-3.14.4-3'],
    'a normal DISCONNECT (0x00) discards the will',
    clean!.watcherGot.length === 0,
    payloads(clean!.watcherGot),
  );
  checks.expect(
    'DISCONNECT with reason 0x04 publishes the will (MQTT 5.0 §3.14.2.1)',
    withWill!.watcherGot.length === 1 && withWill!.watcherGot[0]!.payload === 'offline',
    payloads(withWill!.watcherGot),
  );
  const after = lastWill.retainedAfterCrash;
  checks.conforms(
    ['MQTT-3.1.2-15'],
    'a will with Will Retain 1 is published retained: a later subscriber gets it',
    after.length === 1 && after[0]!.payload === 'offline' && after[0]!.retain,
    JSON.stringify(after.map((m) => [m.payload, m.retain])),
  );
  return {
    title: 'Last Will: three devices with will "offline" (QoS 1, retained); a watcher subscribed beforehand',
    lines: [
      ...table(
        ['device', 'how the connection ended', 'watcher received', 'after the end'],
        lastWill.cases.map((c) => [
          c.device,
          c.ending,
          c.watcherGot.map((m) => `${showPayload(m)} qos=${m.qos} ${flag(m.retain)}`).join(', ') || `nothing in ${c.waitedMs} ms`,
          c.willAfterMs === undefined ? '' : `${c.willAfterMs} ms`,
        ]),
      ),
      '  "after the end": from the moment this program closed the socket or sent DISCONNECT to the watcher receiving the will',
      `  What sensor-clean sent before it went (the DISCONNECT is what tells the broker "no will"):`,
      ...packetLines(clean!.devicePackets),
      `  A subscriber arriving after the crash got: ${after.map((m) => `${showPayload(m)} ${flag(m.retain)}`).join(', ') || 'nothing'}` +
        ' — the will was retained; live deliveries to the watcher carry retain=0 (no Retain As Published) [MQTT-3.3.1-12].',
    ],
  };
}
