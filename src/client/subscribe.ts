import type { MqttClient } from 'mqtt';
import { isFailure, isValidTopicFilter, reasonName, SubackFailure311 } from '../protocol/index.js';

/** Filters to subscribe to with the options every one of them gets (MQTT 5.0 §3.8.3.1). */
export interface SubscriptionRequest {
  filters: string[];
  qos: 0 | 1 | 2;
  noLocal?: boolean;
  retainAsPublished?: boolean;
  /** 0: send retained messages on subscribe, 1: only for a new subscription, 2: never. */
  retainHandling?: 0 | 1 | 2;
  subscriptionIdentifier?: number;
}

/** What the SUBACK said, filter by filter. */
export interface SubscribeOutcome {
  granted: Array<{ filter: string; qos: number }>;
  refused: Array<{ filter: string; reasonCode: number }>;
}

/**
 * Subscribes in one SUBSCRIBE and pairs each SUBACK reason code with its filter (MQTT.js reports a refusal
 * for the packet as a whole). A filter that is not valid is a one-line error before anything is sent.
 */
export async function subscribeFilters(client: MqttClient, request: SubscriptionRequest): Promise<SubscribeOutcome> {
  for (const filter of request.filters) {
    if (!isValidFilter(filter))
      throw new Error(`"${filter}" is not a valid topic filter (# only last, + and # alone in their level, no empty filter)`);
  }
  const v5 = client.options.protocolVersion === 5;
  const options = {
    qos: request.qos,
    ...(v5 && { nl: request.noLocal ?? false, rap: request.retainAsPublished ?? false, rh: request.retainHandling ?? 0 }),
    ...(v5 && request.subscriptionIdentifier !== undefined && { properties: { subscriptionIdentifier: request.subscriptionIdentifier } }),
  };
  let codes: number[];
  try {
    codes = (await client.subscribeAsync(request.filters, options)).map((g) => g.qos);
  } catch (error) {
    const granted = (error as { packet?: { granted?: number[] } }).packet?.granted;
    if (!granted) throw error;
    codes = granted;
  }
  const outcome: SubscribeOutcome = { granted: [], refused: [] };
  request.filters.forEach((filter, i) => {
    const code = codes[i] ?? SubackFailure311;
    if (isFailure(code)) outcome.refused.push({ filter, reasonCode: code });
    else outcome.granted.push({ filter, qos: code });
  });
  return outcome;
}

/** One line naming a refused filter and why: `the broker refused the subscription to "secret/#": NotAuthorized (0x87)`. */
export function describeRefusal(refusal: { filter: string; reasonCode: number }, protocolVersion: number): string {
  // MQTT 3.1.1 has a single failure code (§3.9.3); MQTT 5 says why.
  const why = protocolVersion === 5 ? reasonName(refusal.reasonCode) : reasonName311(refusal.reasonCode);
  return `the broker refused the subscription to "${refusal.filter}": ${why}`;
}

/** A topic filter, or a shared one: `$share/<group>/<filter>` with a group name free of +, # and / (MQTT 5.0 §4.8.2). */
function isValidFilter(filter: string): boolean {
  const shared = /^\$share\/([^/]*)\/(.*)$/s.exec(filter);
  if (!shared) return !filter.startsWith('$share/') && isValidTopicFilter(filter);
  return shared[1]!.length > 0 && !/[+#]/.test(shared[1]!) && isValidTopicFilter(shared[2]!);
}

/** MQTT 3.1.1's SUBACK failure, named as MQTT 5 names its codes. */
function reasonName311(code: number): string {
  return `Failure (0x${code.toString(16).padStart(2, '0')})`;
}
