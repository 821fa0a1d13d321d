import type { MqttClient } from 'mqtt';
import { disconnect } from '../../client/index.js';
import { createLinkProxy, formatLinkEventLine, formatPacketLine, type LinkProxy, summarizePacket } from '../../link/index.js';
import type { ExerciseContext } from '../context.js';
import { type Checks, type Section, sleep, table, waitFor } from '../report.js';
import { clearRetained, deviceStatusTopic, offlineWill } from './device-status.js';
import { ms } from './received-messages.js';

/** How a device's connection ended and when its will reached a watcher. */
export interface ConnectionEnding {
  ending: 'silent link (half-open)' | 'clean DISCONNECT' | 'TCP reset';
  /**
   * Milliseconds to the will at the watcher: for the silent link from the last packet the broker got from
   * the device, otherwise from the DISCONNECT or the reset. Undefined when no will came.
   */
  willAfterMs?: number;
  /** How long the watcher waited for it. */
  waitedMs: number;
  /** For the silent link: when the device itself gave up (MQTT.js: no PINGRESP), after the link went silent. */
  deviceGaveUpAfterMs?: number;
  /** The device's link packet by packet (pings included: here they are the story). */
  trace: string[];
}

/** The three endings of a device connected with a will and a short keep alive. */
export interface HalfOpenResult {
  keepAliveSeconds: number;
  /** 1.5 × keep alive in ms: the broker must have heard from the device within this [MQTT-3.1.2-22]. */
  deadlineMs: number;
  endings: ConnectionEnding[];
}

type Ending = ConnectionEnding['ending'];

/**
 * A device with a will and keep alive K connects through a link proxy; its connection then ends three
 * ways: the link goes silent with both sockets open (a half-open link, as when a NAT box or a cellular
 * link drops the flow) — the broker notices only because no packet arrives within 1.5 × K and then
 * publishes the will; a clean DISCONNECT — no will; a TCP reset — the will at once.
 */
export async function demonstrateHalfOpen(ctx: ExerciseContext, options: { keepAliveSeconds?: number } = {}): Promise<HalfOpenResult> {
  const keepAliveSeconds = options.keepAliveSeconds ?? 2;
  const deadlineMs = keepAliveSeconds * 1500;
  const endings: ConnectionEnding[] = [];
  const topics: string[] = [];
  for (const ending of ['silent link (half-open)', 'clean DISCONNECT', 'TCP reset'] as const) {
    const device = `sensor-${ending === 'clean DISCONNECT' ? 'bye' : ending === 'TCP reset' ? 'reset' : 'silent'}`;
    topics.push(deviceStatusTopic(ctx, device));
    endings.push(await endConnection(ctx, device, ending, keepAliveSeconds));
  }
  await clearRetained(ctx, topics);
  return { keepAliveSeconds, deadlineMs, endings };
}

/** Connects one device through its own proxy, ends its connection the given way, and times its will. */
async function endConnection(ctx: ExerciseContext, device: string, ending: Ending, keepAliveSeconds: number): Promise<ConnectionEnding> {
  const topic = deviceStatusTopic(ctx, device);
  const proxy = await createLinkProxy({ to: ctx.url });
  const started = Date.now();
  const trace: string[] = [];
  let lastHeard = started;
  proxy.on('packet', (p) => {
    trace.push(formatPacketLine(summarizePacket(p), { since: started, clientId: false }));
    if (p.direction === 'to-broker' && p.fate === 'forwarded') lastHeard = p.at;
  });
  proxy.on('link', (e) => e.kind !== 'open' && trace.push(formatLinkEventLine(e, { since: started, clientId: false })));
  try {
    const watcher = await ctx.connect(`watch-${device}`);
    let willAt: number | undefined;
    watcher.on('message', (t, payload) => {
      if (t !== topic || payload.toString() !== 'offline' || willAt !== undefined) return;
      willAt = Date.now();
      trace.push(`${String(willAt - started).padStart(6)} ms    the watcher receives the will: "offline"`);
    });
    await watcher.subscribeAsync(topic, { qos: 1 });
    const client = await ctx.connectTo(proxy.url, device, { keepalive: keepAliveSeconds, will: offlineWill(topic) });
    client.on('error', () => {});
    let gaveUpAt: number | undefined;
    client.once('close', () => (gaveUpAt = Date.now()));
    await sleep(200);
    const { from, waitMs } = await end(ctx, proxy, client, ending, keepAliveSeconds, () => lastHeard);
    await waitFor(() => willAt !== undefined, waitMs);
    if (ending === 'silent link (half-open)') await waitFor(() => gaveUpAt !== undefined, keepAliveSeconds * 1000);
    ctx.forget(client);
    client.end(true);
    return {
      ending,
      willAfterMs: willAt === undefined ? undefined : willAt - from(),
      waitedMs: waitMs,
      ...(ending === 'silent link (half-open)' && gaveUpAt !== undefined && { deviceGaveUpAfterMs: gaveUpAt - from() }),
      trace: [...trace],
    };
  } finally {
    await proxy.close();
  }
}

/** Ends the connection; returns the moment the will is timed from and how long to wait for it. */
async function end(
  ctx: ExerciseContext,
  proxy: LinkProxy,
  client: MqttClient,
  ending: Ending,
  keepAliveSeconds: number,
  lastHeard: () => number,
) {
  if (ending === 'silent link (half-open)') {
    proxy.silenceAll();
    // The broker's clock runs from the last packet it got, which may be a little before the silence.
    return { from: lastHeard, waitMs: keepAliveSeconds * 1500 + 8000 };
  }
  const at = Date.now();
  if (ending === 'clean DISCONNECT') {
    await disconnect(client);
    ctx.forget(client);
  } else {
    proxy.cutAll("the device's connection is reset", 'reset');
  }
  return { from: () => at, waitMs: 1500 };
}

/** The three endings side by side, checked against the spec. */
export function reportHalfOpen(result: HalfOpenResult, checks: Checks): Section {
  const [silent, clean, reset] = result.endings as [ConnectionEnding, ConnectionEnding, ConnectionEnding];
  checks.conforms(
    ['MQTT-3.1.2-22'],
    `a silent link: the will is published once nothing arrived for 1.5 × keep alive (${result.deadlineMs} ms)`,
    silent.willAfterMs !== undefined && silent.willAfterMs >= result.deadlineMs - 50,
    `will after ${ms(silent.willAfterMs)}`,
  );
  checks.conforms(['MQTT-3.1.2-10'], 'a clean DISCONNECT: no will', clean.willAfterMs === undefined, `will after ${ms(clean.willAfterMs)}`);
  checks.conforms(
    ['MQTT-3.1.2-8'],
    'a TCP reset: the will at once (a network error closed the connection)',
    reset.willAfterMs !== undefined && reset.willAfterMs < 1000,
    `will after ${ms(reset.willAfterMs)}`,
  );
  return {
    title: `When the link goes silent: a device with keep alive ${result.keepAliveSeconds} s and a will, its connection ended three ways`,
    lines: [
      ...table(
        ['how the connection ended', 'will at the watcher', 'what the spec asks'],
        [
          [
            silent.ending,
            `${ms(silent.willAfterMs)} after the broker last heard from it`,
            `once 1.5 × keep alive (${result.deadlineMs} ms) passed`,
          ],
          [clean.ending, clean.willAfterMs === undefined ? `none in ${clean.waitedMs} ms` : ms(clean.willAfterMs), 'no will'],
          [reset.ending, `${ms(reset.willAfterMs)} after the reset`, 'the will, at once'],
        ],
      ),
      ...(silent.willAfterMs !== undefined && silent.willAfterMs > result.deadlineMs + 1000
        ? [
            `  This broker acted ${silent.willAfterMs - result.deadlineMs} ms after the 1.5 × keep alive point: ` +
              'it checks keep alive on a coarser clock.',
          ]
        : []),
      `  The silent link, as the proxy saw it (the device gave up ${ms(silent.deviceGaveUpAfterMs)} after its last packet got through):`,
      ...silent.trace.map((l) => `    ${l}`),
      '  Keep alive is the only way either side learns of a half-open link: TCP itself stays quiet. A short keep alive',
      '  finds a dead device sooner and costs a PINGREQ/PINGRESP pair (4 bytes) per interval when nothing else is sent.',
    ],
  };
}
