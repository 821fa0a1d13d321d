import type { MqttClient } from 'mqtt';
import { reasonName } from '../protocol/index.js';

/** A change of a reconnecting client's link to its broker. */
export type ConnectionChange = { state: 'lost'; reason: string } | { state: 'reconnected' };

/**
 * Reports when a client that reconnects on its own (MQTT.js reconnectPeriod > 0) loses its broker and when
 * it is back — once per outage, not per failed attempt. A close its owner asked for (end(), or
 * reconnectPeriod set to 0 before dropping the socket) is not a loss. A client that reconnects on a timer
 * of its own passes `reconnecting`: a close is a loss while it returns true.
 */
export function watchConnection(
  client: MqttClient,
  onChange: (change: ConnectionChange) => void,
  reconnecting: () => boolean = () => client.options.reconnectPeriod !== 0,
): void {
  let lost = false;
  let reason = 'the connection closed';
  client.on('disconnect', (packet) => (reason = `the broker sent DISCONNECT ${reasonName(packet.reasonCode ?? 0)}`));
  client.on('error', (error) => (reason = error.message));
  client.on('close', () => {
    if (lost || client.disconnecting || !reconnecting()) return;
    lost = true;
    onChange({ state: 'lost', reason });
  });
  client.on('connect', () => {
    reason = 'the connection closed';
    if (!lost) return;
    lost = false;
    onChange({ state: 'reconnected' });
  });
}
