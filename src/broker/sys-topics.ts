import type { Broker } from './broker.js';

/** The version reported on `$SYS/broker/version`. */
export const BROKER_VERSION = 'mqttlab 0.1.0';

/**
 * Publishes Mosquitto-style `$SYS/broker/...` retained topics every `intervalSeconds`.
 * Returns a function that stops it.
 */
export function startSysTopics(broker: Broker, intervalSeconds: number): () => void {
  if (intervalSeconds <= 0) return () => {};
  const publish = (topic: string, value: string | number) =>
    broker.publish({ topic: `$SYS/broker/${topic}`, payload: Buffer.from(String(value)), qos: 0, retain: true, properties: {} });
  const update = () => {
    const s = broker.stats;
    let connected = 0;
    for (const session of broker.sessions.values()) if (session.connected) connected++;
    publish('version', BROKER_VERSION);
    publish('uptime', `${Math.floor((broker.clock.now() - s.startedAt) / 1000)} seconds`);
    publish('clients/connected', connected);
    publish('clients/total', broker.sessions.size);
    publish('messages/received', s.publishReceived);
    publish('messages/sent', s.messagesSent);
    publish('publish/messages/dropped', s.messagesDropped);
    publish('bytes/received', s.bytesReceived);
    publish('bytes/sent', s.bytesSent);
    publish('subscriptions/count', broker.router.size);
    publish('retained messages/count', broker.retained.size);
    // As Mosquitto's: bytes of the messages held for clients (here QoS 1/2 queued or in flight, topic + payload).
    publish('store/messages/bytes', broker.heldBytes);
  };
  update();
  const timer = setInterval(() => broker.guard('$SYS update', update), intervalSeconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
