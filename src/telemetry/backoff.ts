import type { MqttClient } from 'mqtt';
import type { Random } from '../util/index.js';

/** Bounds of a device's reconnect delays. */
export interface BackoffOptions {
  /** First delay (ms). Default 250. */
  baseMs?: number;
  /** Longest delay (ms): the doubling stops here. Default 8000. */
  maxMs?: number;
}

/**
 * Exponential backoff with "equal jitter": the n-th delay is drawn from [d/2, d) with d = base·2^n up to
 * max, so a fleet cut at once does not come back at once. Seeded, so a run repeats with its seed.
 */
export class Backoff {
  private attempt = 0;
  private readonly baseMs: number;
  private readonly maxMs: number;

  constructor(
    private readonly random: Random,
    options: BackoffOptions = {},
  ) {
    this.baseMs = options.baseMs ?? 250;
    this.maxMs = options.maxMs ?? 8000;
  }

  /** The delay before the next attempt (ms); each call doubles the next one, up to the bound. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt++, 20));
    return Math.round(ceiling / 2 + this.random.next() * (ceiling / 2));
  }

  /** Starts over from the base delay (after a successful connection). */
  reset(): void {
    this.attempt = 0;
  }
}

/**
 * Reconnects an MQTT.js client (created with reconnectPeriod 0) after each unwanted close, waiting
 * `backoff.next()` between attempts; MQTT.js's own reconnect waits a fixed period. `client.connect()`
 * keeps the client's stores, so in-flight QoS 1/2 messages are resent with their packet ids on the
 * resumed session [MQTT-4.4.0-1]. Stops when `wanted()` turns false. Returns a function that cancels a pending attempt.
 */
export function reconnectWithBackoff(client: MqttClient, backoff: Backoff, wanted: () => boolean): () => void {
  let timer: NodeJS.Timeout | undefined;
  client.on('connect', () => backoff.reset());
  client.on('close', () => {
    if (timer || client.disconnecting || !wanted()) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (wanted() && !client.connected && !client.disconnecting) client.connect();
    }, backoff.next());
  });
  return () => {
    clearTimeout(timer);
    timer = undefined;
  };
}
