/**
 * The telemetry system's topic scheme (docs/telemetry.md). One place, so the fleet, ingestion and the
 * dashboard cannot drift apart.
 *
 *   devices/<device>/status                 retained `online` / `offline` (the will), QoS 1
 *   telemetry/<site>/<device>/<metric>      one reading, JSON {v, unit, ts}, QoS 0
 *   alerts/<site>/<device>                  JSON {id, type, message, v, ts}, QoS 1
 *   commands/<device>/<command>             request at QoS 2 with Response Topic + Correlation Data
 */

/** Metrics every simulated device reports. */
export const METRICS = ['temperature', 'humidity', 'battery'] as const;
export type Metric = (typeof METRICS)[number];

/** Shared-subscription group of the ingest workers. */
export const INGEST_GROUP = 'ingest';

export const statusTopic = (device: string) => `devices/${device}/status`;
export const telemetryTopic = (site: string, device: string, metric: string) => `telemetry/${site}/${device}/${metric}`;
export const alertTopic = (site: string, device: string) => `alerts/${site}/${device}`;
export const commandTopic = (device: string, command: string) => `commands/${device}/${command}`;

/**
 * Filters the ingest workers subscribe to inside `$share/<group>/` (§4.8.2): one member of the group gets
 * each message, so with several ingest processes every reading, alert and presence change is stored once.
 */
export const INGEST_FILTERS = { telemetry: 'telemetry/+/+/+', alerts: 'alerts/+/+', status: 'devices/+/status' } as const;
/** Filter the presence registry subscribes to (not shared: every registry needs every status). */
export const STATUS_FILTER = 'devices/+/status';

/** `$share/<group>/<filter>`. */
export const sharedFilter = (group: string, filter: string) => `$share/${group}/${filter}`;

/** A topic level that is safe in our scheme: no wildcards, separators or `$` prefix. */
export function isTopicLevel(value: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is never allowed in a topic [MQTT-4.7.3-2].
  return value.length > 0 && value.length <= 64 && !/[/+#\u0000]/.test(value) && !value.startsWith('$');
}

/** Parses `telemetry/<site>/<device>/<metric>`; undefined for anything else. */
export function parseTelemetryTopic(topic: string): { site: string; device: string; metric: string } | undefined {
  const parts = topic.split('/');
  if (parts.length !== 4 || parts[0] !== 'telemetry' || !parts.slice(1).every(isTopicLevel)) return undefined;
  return { site: parts[1]!, device: parts[2]!, metric: parts[3]! };
}

/** Parses `alerts/<site>/<device>`. */
export function parseAlertTopic(topic: string): { site: string; device: string } | undefined {
  const parts = topic.split('/');
  if (parts.length !== 3 || parts[0] !== 'alerts' || !parts.slice(1).every(isTopicLevel)) return undefined;
  return { site: parts[1]!, device: parts[2]! };
}

/** Parses `devices/<device>/status`. */
export function parseStatusTopic(topic: string): { device: string } | undefined {
  const parts = topic.split('/');
  if (parts.length !== 3 || parts[0] !== 'devices' || parts[2] !== 'status' || !isTopicLevel(parts[1]!)) return undefined;
  return { device: parts[1]! };
}

/** Parses `commands/<device>/<command>`. */
export function parseCommandTopic(topic: string): { device: string; command: string } | undefined {
  const parts = topic.split('/');
  if (parts.length !== 3 || parts[0] !== 'commands' || !parts.slice(1).every(isTopicLevel)) return undefined;
  return { device: parts[1]!, command: parts[2]! };
}
