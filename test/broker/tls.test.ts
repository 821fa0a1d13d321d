import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { after, before, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import mqttPacket from 'mqtt-packet';
import { freePort } from '../../src/util/index.js';
import { makeCertificates, openssl, type TestCertificates } from '../helpers/certs.js';
import { describeEachBroker, startFromConfig, type BrokerKind, type TestBroker } from '../helpers/brokers.js';
import { collect, connectClient, end, waitUntil } from '../helpers/clients.js';

// TLS listeners (certfile/keyfile) and mutual TLS (cafile + require_certificate true), configured with the
// same Mosquitto lines for both brokers. Certificates are made at run time with the openssl CLI.

const skip = openssl ? false : 'the openssl CLI is not installed';

let certs: TestCertificates;
const file = (name: string) => certs.file(name);
const pem = (name: string) => certs.pem(name);

before(() => {
  if (openssl) certs = makeCertificates(['client', 'rogue']);
});
after(() => certs?.remove());

/**
 * Opens TLS to the port (trusting our CA, with an optional client certificate), sends an MQTT 5 CONNECT
 * and reports the CONNACK reason code, or 'refused' when the connection ends first.
 */
function tlsConnack(port: number, client?: 'client' | 'rogue'): Promise<number | 'refused'> {
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port,
      ca: pem('ca.pem'),
      ...(client && { cert: pem(`${client}.pem`), key: pem(`${client}.key`) }),
    });
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    parser.on('packet', (packet) => {
      socket.destroy();
      resolve(packet.cmd === 'connack' ? (packet.reasonCode ?? 0) : 'refused');
    });
    socket.on('data', (chunk) => parser.parse(chunk));
    socket.on('secureConnect', () => {
      socket.write(
        mqttPacket.generate(
          { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: `tls-${client ?? 'none'}` },
          { protocolVersion: 5 },
        ),
      );
    });
    socket.on('error', () => resolve('refused'));
    socket.on('close', () => resolve('refused'));
  });
}

const tlsLines = (port: number) => [`listener ${port} 127.0.0.1`, `certfile ${file('server.pem')}`, `keyfile ${file('server.key')}`];

describeEachBroker(
  'TLS listener (certfile, keyfile)',
  (kind: BrokerKind) => {
    let b: TestBroker;
    let plainPort: number;
    before(async () => {
      if (skip) return;
      const port = await freePort();
      plainPort = await freePort();
      b = await startFromConfig(kind, [...tlsLines(port), `listener ${plainPort} 127.0.0.1`, 'allow_anonymous true']);
    });
    after(() => b?.close());

    test('MQTT over TLS: connect verifying the server certificate (SAN IP 127.0.0.1), publish and subscribe', { skip }, async () => {
      assert.match(b.url, /^mqtts:\/\/127\.0\.0\.1:/);
      const tls = await connectClient(b.url, { clientId: 'tls-sub', ca: pem('ca.pem'), rejectUnauthorized: true });
      const plain = await connectClient(`mqtt://127.0.0.1:${plainPort}`, { clientId: 'plain-pub' });
      try {
        const got = collect(tls);
        await tls.subscribeAsync('tls/#', { qos: 1 });
        await plain.publishAsync('tls/in', 'over tcp, delivered over tls', { qos: 1 });
        await tls.publishAsync('tls/self', 'over tls', { qos: 1 });
        await waitUntil(() => got.length === 2, 3000, 'both messages');
        assert.deepEqual(got.map((m) => m.payload).sort(), ['over tcp, delivered over tls', 'over tls']);
      } finally {
        await Promise.all([end(tls), end(plain)]);
      }
    });

    test('a client without a client certificate is accepted (require_certificate defaults to false)', { skip }, async () => {
      assert.equal(await tlsConnack(b.port), 0);
    });

    test('plain MQTT on the TLS port gets no CONNACK, and the broker keeps serving TLS clients', { skip }, async () => {
      const socket = netConnect(b.port, '127.0.0.1');
      const received: Buffer[] = [];
      socket.on('data', (d) => received.push(d));
      socket.on('error', () => {});
      socket.on('connect', () =>
        socket.write(
          mqttPacket.generate(
            { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'plain-on-tls' },
            { protocolVersion: 5 },
          ),
        ),
      );
      await new Promise<void>((resolve) => socket.once('close', () => resolve()));
      assert.ok(!received.some((d) => d[0] === 0x20), 'no CONNACK in clear text');
      assert.equal(await tlsConnack(b.port), 0);
    });
  },
  { notOnCluster: 'the cluster target balances one plain MQTT listener (TCP passthrough; TLS is per node)' },
);

describeEachBroker(
  'Secure WebSocket listener (protocol websockets with certfile, keyfile)',
  (kind: BrokerKind) => {
    let b: TestBroker;
    // Debian's mosquitto 2.0.11 (its libwebsockets) exits on these lines: "Unable to start any listening sockets".
    const wssSkip = skip || (kind === 'mosquitto' ? "Debian's mosquitto 2.0.11 cannot open a TLS WebSocket listener" : false);
    before(async () => {
      if (wssSkip) return;
      const port = await freePort();
      b = await startFromConfig(kind, [...tlsLines(port), 'protocol websockets', 'allow_anonymous true']);
    });
    after(() => b?.close());

    test('MQTT over wss: connect verifying the server certificate, publish and subscribe', { skip: wssSkip }, async () => {
      assert.match(b.url, /^wss:\/\/127\.0\.0\.1:/);
      const client = await connectClient(b.url, { clientId: 'wss', ca: pem('ca.pem'), rejectUnauthorized: true });
      try {
        const got = collect(client);
        await client.subscribeAsync('wss/echo', { qos: 1 });
        await client.publishAsync('wss/echo', 'secure websocket', { qos: 1 });
        await waitUntil(() => got.length === 1, 3000, 'the echo');
        assert.equal(got[0]!.payload, 'secure websocket');
      } finally {
        await end(client);
      }
    });
  },
  { notOnCluster: 'the cluster target balances one plain MQTT listener (TCP passthrough; TLS is per node)' },
);

describeEachBroker(
  'Mutual TLS (cafile, require_certificate true)',
  (kind: BrokerKind) => {
    let b: TestBroker;
    before(async () => {
      if (skip) return;
      const port = await freePort();
      b = await startFromConfig(kind, [...tlsLines(port), `cafile ${file('ca.pem')}`, 'require_certificate true', 'allow_anonymous true']);
    });
    after(() => b?.close());

    test('a client without a certificate is refused in the handshake', { skip }, async () => {
      assert.equal(await tlsConnack(b.port), 'refused');
    });

    test('a client certificate from another CA is refused', { skip }, async () => {
      assert.equal(await tlsConnack(b.port, 'rogue'), 'refused');
    });

    test('a client certificate signed by the cafile CA is accepted and can publish and subscribe', { skip }, async () => {
      assert.equal(await tlsConnack(b.port, 'client'), 0);
      const client = await connectClient(b.url, { clientId: 'mtls', ca: pem('ca.pem'), cert: pem('client.pem'), key: pem('client.key') });
      try {
        const got = collect(client);
        await client.subscribeAsync('mtls/echo', { qos: 1 });
        await client.publishAsync('mtls/echo', 'mutual', { qos: 1 });
        await waitUntil(() => got.length === 1, 3000, 'the echo');
        assert.equal(got[0]!.payload, 'mutual');
      } finally {
        await end(client);
      }
    });
  },
  { notOnCluster: 'the cluster target balances one plain MQTT listener (TCP passthrough; TLS is per node)' },
);
