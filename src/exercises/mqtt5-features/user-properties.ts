import type { IPublishPacket, UserProperties } from 'mqtt-packet';
import { wireSize } from '../../client/index.js';
import type { ExerciseContext } from '../context.js';
import { type Checks, type Section, table, waitFor } from '../report.js';

/** What the user-properties demonstration sent and received, and what the properties cost on the wire. */
export interface UserPropertiesResult {
  topic: string;
  sent: UserProperties;
  received?: UserProperties;
  /** Name/value pairs in wire order, as sent and as received. */
  sentPairs: Array<[string, string]>;
  receivedPairs: Array<[string, string]>;
  /** Bytes the user properties add to this PUBLISH. */
  bytesOnWire: number;
}

/** Publishes with user properties, one name repeated, and shows they arrive unchanged and in order. */
export async function demonstrateUserProperties(ctx: ExerciseContext): Promise<UserPropertiesResult> {
  const topic = ctx.topic('sensors/temperature/room1');
  // A name may appear more than once (§3.3.2.3.7); MQTT.js writes an array as repeated pairs.
  const sent: UserProperties = { source: 'gateway-7', 'schema-version': '2', tag: ['calibrated', 'indoor', 'floor-3'] };
  const subscriber = await ctx.connect('props-sub');
  let received: UserProperties | undefined;
  let delivered = false;
  subscriber.on('message', (_topic, _payload, packet) => {
    received = packet.properties?.userProperties;
    delivered = true;
  });
  await subscriber.subscribeAsync(topic, { qos: 1 });
  const publisher = await ctx.connect('props-pub');
  const payload = JSON.stringify({ celsius: 21.4 });
  await publisher.publishAsync(topic, payload, { qos: 1, properties: { userProperties: sent } });
  await waitFor(() => delivered, 3000);
  const bare: IPublishPacket = { cmd: 'publish', topic, payload, qos: 1, messageId: 1, retain: false, dup: false };
  const bytesOnWire = wireSize({ ...bare, properties: { userProperties: sent } }, 5) - wireSize(bare, 5);
  return { topic, sent, received, sentPairs: pairs(sent), receivedPairs: pairs(received), bytesOnWire };
}

/** User properties as name/value pairs in wire order (an array value is a repeated name). */
function pairs(properties: UserProperties | undefined): Array<[string, string]> {
  if (!properties) return [];
  return Object.entries(properties).flatMap(([name, value]) =>
    Array.isArray(value) ? value.map((v) => [name, v] as [string, string]) : [[name, value] as [string, string]],
  );
}

/** The report section for user properties, recording its check. */
export function reportUserProperties(props: UserPropertiesResult, checks: Checks): Section {
  const samePairs = JSON.stringify(props.sentPairs) === JSON.stringify(props.receivedPairs);
  checks.conforms(
    ['MQTT-3.3.2-17', 'MQTT-3.3.2-18'],
    'user properties arrived unaltered, repeated name included, in order',
    samePairs,
    `received ${JSON.stringify(props.receivedPairs)}`,
  );
  const rows = Math.max(props.sentPairs.length, props.receivedPairs.length);
  return {
    title: `User properties on ${props.topic} (+${props.bytesOnWire} B on the wire)`,
    lines: table(
      ['#', 'sent', 'received'],
      Array.from({ length: rows }, (_, i) => [i + 1, pairText(props.sentPairs[i]), pairText(props.receivedPairs[i])]),
    ),
  };
}

function pairText(pair: [string, string] | undefined): string {
  return pair ? `${pair[0]}: ${pair[1]}` : '—';
}
