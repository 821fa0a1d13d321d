import { redactUrl } from './redact.js';

/** Where a program should find its broker: `--broker URL` first, then `MQTT_URL`, else undefined (embedded). */
export function brokerUrlFrom(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const url = option ?? env.MQTT_URL;
  if (url === undefined || url === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`broker URL "${redactUrl(url)}" is not a URL (expected e.g. mqtt://localhost:1883)`);
  }
  if (!['mqtt:', 'mqtts:', 'tcp:', 'ws:', 'wss:'].includes(parsed.protocol)) {
    throw new Error(`broker URL "${redactUrl(url)}" must start with mqtt://, mqtts://, ws:// or wss://`);
  }
  return url;
}
