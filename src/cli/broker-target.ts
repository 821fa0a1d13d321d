import { createBroker, type RunningBroker } from '../broker/index.js';
import { brokerUrlFrom, redactUrl } from '../client/index.js';

/** The broker a command talks to: one given by URL, or the embedded one started for it. */
export interface BrokerTarget {
  /** `mqtt://…` (or `ws://…`) URL clients connect to. */
  readonly url: string;
  /** Set when the embedded broker was started in-process for this command. */
  readonly embedded?: RunningBroker;
  /** Human-readable description, e.g. "embedded broker at mqtt://127.0.0.1:40123". */
  readonly label: string;
  /** Stops the embedded broker if one was started; a no-op for an external broker. */
  close(): Promise<void>;
}

/**
 * Resolves the broker for a command: the URL given (option or `MQTT_URL`), or an embedded broker on a
 * free loopback port started now and stopped by `close()`. It lives in the CLI, not in client/, so that
 * devices and ingest workers (which only ever get a URL) never load the broker and its SQLite store.
 */
export async function resolveBroker(option?: string, options: { websocket?: boolean } = {}): Promise<BrokerTarget> {
  const url = brokerUrlFrom(option);
  if (url) return { url, label: `broker at ${redactUrl(url)}`, close: async () => {} };
  const embedded = await createBroker({ port: 0, wsPort: options.websocket ? 0 : false, sysInterval: 0 });
  return {
    url: embedded.url!,
    embedded,
    label: `embedded broker at ${embedded.url}`,
    close: () => embedded.close(),
  };
}
