import { createBroker, type RunningBroker } from '../broker/index.js';

/** The broker a program talks to: one given by URL, or the embedded one started for it. */
export interface BrokerTarget {
  /** `mqtt://…` (or `ws://…`) URL clients connect to. */
  readonly url: string;
  /** Set when the embedded broker was started in-process for this program. */
  readonly embedded?: RunningBroker;
  /** Human-readable description, e.g. "embedded broker at mqtt://127.0.0.1:40123". */
  readonly label: string;
  /** Stops the embedded broker if one was started; a no-op for an external broker. */
  close(): Promise<void>;
}

/** Where a program should find its broker: `--broker URL` first, then `MQTT_URL`, else embedded. */
export function brokerUrlFrom(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const url = option ?? env.MQTT_URL;
  if (url === undefined || url === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`broker URL "${url}" is not a URL (expected e.g. mqtt://localhost:1883)`);
  }
  if (!['mqtt:', 'mqtts:', 'tcp:', 'ws:', 'wss:'].includes(parsed.protocol)) {
    throw new Error(`broker URL "${url}" must start with mqtt://, mqtts://, ws:// or wss://`);
  }
  return url;
}

/**
 * Resolves the broker for a program: the URL given (option or `MQTT_URL`), or an embedded broker on a
 * free loopback port started now and stopped by `close()`.
 */
export async function resolveBroker(option?: string, options: { websocket?: boolean } = {}): Promise<BrokerTarget> {
  const url = brokerUrlFrom(option);
  if (url) return { url, label: `broker at ${url}`, close: async () => {} };
  const embedded = await createBroker({ port: 0, wsPort: options.websocket ? 0 : false, sysInterval: 0 });
  return {
    url: embedded.url!,
    embedded,
    label: `embedded broker at ${embedded.url}`,
    close: () => embedded.close(),
  };
}
