import { Duplex } from 'node:stream';
import { MqttClient, type IClientOptions } from 'mqtt';
import type { Broker } from '../../src/broker/index.js';
import { RawClient } from './raw-client.js';

/**
 * Two connected in-memory streams: what is written to one is read from the other (Node 20 has no
 * `stream.duplexPair`). Destroying one ends the other, as a closed socket would.
 */
export function duplexPair(): [Duplex, Duplex] {
  let a: Duplex;
  let b: Duplex;
  const side = (peer: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, done) {
        peer().push(chunk);
        done();
      },
      final(done) {
        peer().push(null);
        done();
      },
      destroy(error, done) {
        const other = peer();
        if (!other.destroyed) other.destroy();
        done(error);
      },
    });
  a = side(() => b);
  b = side(() => a);
  return [a, b];
}

/** A RawClient connected to the broker core through an in-memory stream pair: no port, no socket. */
export function rawInMemory(broker: Broker, protocolVersion: 3 | 4 | 5 = 5): RawClient {
  const [client, server] = duplexPair();
  broker.handle(server, 'memory', 'in-memory');
  return RawClient.over(client, protocolVersion);
}

/** An MQTT.js client connected to the broker core through an in-memory stream pair. */
export function mqttInMemory(broker: Broker, options: IClientOptions = {}): MqttClient {
  return new MqttClient(
    () => {
      const [client, server] = duplexPair();
      broker.handle(server, 'memory', 'in-memory');
      return client;
    },
    { protocolVersion: 5, reconnectPeriod: 0, ...options },
  );
}
