import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { IConnackPacket } from 'mqtt-packet';
import { ReasonCode } from '../../src/broker/index.js';
import {
  freePort,
  spawnServer,
  startNats,
  startRoundRobin,
  waitForPort,
  type NatsSystem,
  type ServerProcess,
} from '../../src/util/index.js';
import { clusterUnavailable, startTestCluster } from '../helpers/cluster.js';
import { collect, connectClient, end, sleep, waitUntil, type Received } from '../helpers/clients.js';
import { RawClient } from '../helpers/raw-client.js';

/**
 * Connects with MQTT.js, trying again after a refused CONNECT (as a client with reconnect does), for up to 60 s;
 * `received` has what arrived from the first packet on (a resumed session's queue follows CONNACK at once).
 */
function connectEventually(
  url: string,
  options: IClientOptions,
): Promise<{ client: MqttClient; connack: IConnackPacket; received: Received[] }> {
  const client = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 1000, connectTimeout: 30_000, ...options });
  const received = collect(client);
  client.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.end(true);
      reject(new Error(`no CONNACK 0x00 from ${url} within 60 s`));
    }, 60_000);
    client.once('connect', (connack) => {
      clearTimeout(timer);
      resolve({ client, connack, received });
    });
  });
}

const CLI = new URL('../../src/cli/index.js', import.meta.url).pathname;

describe('Cluster failures', { skip: clusterUnavailable ?? false, timeout: 180_000 }, () => {
  test('NATS unreachable at start: one line on stderr, exit code 1', async () => {
    const port = await freePort();
    const r = spawnSync(process.execPath, [CLI, 'broker', '-p', '0', '-w', '0', '--cluster', `nats://127.0.0.1:${port}`], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.status, 1);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, new RegExp(`^mqttlab: cannot reach NATS at nats://127.0.0.1:${port}`));
  });

  describe('a node killed with SIGKILL while QoS 1/2 messages are in flight', () => {
    let nats: NatsSystem;
    const nodes: Array<{ proc: ServerProcess; port: number }> = [];
    before(async () => {
      nats = await startNats(1);
      for (let i = 0; i < 3; i++) {
        const port = await freePort();
        const proc = spawnServer(process.execPath, [
          CLI,
          'broker',
          '-p',
          String(port),
          '-w',
          '0',
          '--sys-interval',
          '0',
          '--cluster',
          nats.urls,
          '--node',
          `kill${i + 1}`,
        ]);
        nodes.push({ proc, port });
      }
      for (const n of nodes) await waitForPort(n.port, 15_000, () => n.proc.exited());
    });
    after(async () => {
      await Promise.all(nodes.map((n) => n.proc.stop()));
      await nats?.close();
    });

    test('its clients reconnect to another node and resume; nothing acknowledged is lost', { timeout: 60_000 }, async () => {
      const balancer = await startRoundRobin([nodes[1]!.port, nodes[2]!.port]);
      const subscriberOptions = { clientId: 'survivor', clean: false, reconnectPeriod: 200, properties: { sessionExpiryInterval: 300 } };
      // First on node 2 (killed below); reconnects go through a balancer over nodes 2 and 3.
      const subscriber = await connectClient(`mqtt://127.0.0.1:${nodes[1]!.port}`, subscriberOptions);
      await subscriber.subscribeAsync('inflight/#', { qos: 2 });
      subscriber.options.port = balancer.port;
      subscriber.options.hostname = '127.0.0.1';
      subscriber.options.host = '127.0.0.1';
      const received = new Set<string>();
      subscriber.on('message', (_topic, payload) => received.add(payload.toString()));
      const publisher = await connectClient(`mqtt://127.0.0.1:${nodes[0]!.port}`, { clientId: 'steady-publisher' });
      const acknowledged: string[] = [];
      const total = 120;
      for (let i = 0; i < total; i++) {
        const payload = `m${i}`;
        const qos = (1 + (i % 2)) as 1 | 2;
        void publisher.publishAsync('inflight/t', payload, { qos }).then(
          () => acknowledged.push(payload),
          () => undefined,
        );
        if (i === 40) {
          await nodes[1]!.proc.kill();
        }
        await sleep(5);
      }
      await waitUntil(() => acknowledged.length === total, 20_000, 'every PUBACK/PUBCOMP');
      await waitUntil(
        () => acknowledged.every((p) => received.has(p)),
        20_000,
        `every acknowledged message at the subscriber (${received.size} of ${acknowledged.length})`,
      );
      await end(publisher);
      await end(subscriber, true);
      await balancer.close();
    });
  });

  // JetStream may not answer for 20 s and more while the killed server's streams elect new leaders: a
  // publish not acknowledged by then gets DISCONNECT, and the publisher (as any MQTT client) reconnects and
  // sends it again. The node whose NATS server is killed may find its stream reading stalled: its feed's
  // watchdog reads again (src/cluster/feed.ts), so the messages after the kill arrive.
  test('one of three NATS servers killed (JetStream R3): routing, retained and sessions go on', { timeout: 150_000 }, async () => {
    const cluster = await startTestCluster({ natsServers: 3 });
    const clients: MqttClient[] = [];
    try {
      const subscriber = await connectClient(cluster.nodes[0]!.url!, {
        clientId: 'r3-sub',
        clean: false,
        properties: { sessionExpiryInterval: 60 },
      });
      clients.push(subscriber);
      await subscriber.subscribeAsync('r3/#', { qos: 1 });
      const got = collect(subscriber);
      const publisher = await connectClient(cluster.nodes[1]!.url!, {
        clientId: 'r3-pub',
        clean: false,
        reconnectPeriod: 500,
        properties: { sessionExpiryInterval: 60 },
      });
      clients.push(publisher);
      await publisher.publishAsync('r3/retained', 'before', { qos: 1, retain: true });
      await cluster.nats.servers[0]!.process.kill();
      // All 20 acknowledged (resent after a DISCONNECT if need be), then all at the subscriber (a resent one may come twice).
      let acknowledged = 0;
      const publishes = Array.from({ length: 20 }, (_, i) =>
        publisher.publishAsync('r3/t', `after-${i}`, { qos: 1 }).then(() => acknowledged++),
      );
      await waitUntil(() => acknowledged === 20, 60_000, `the PUBACKs of the messages after the kill (${acknowledged} of 20)`);
      await Promise.all(publishes);
      const after = () => new Set(got.map((m) => m.payload).filter((p) => p.startsWith('after-')));
      await waitUntil(() => after().size === 20, 30_000, `the messages after the kill (got ${[...after()].join(' ')})`);
      // A CONNECT's session claim waits for JetStream too; refused with 0x88 if it does not come, the client tries again.
      const { client: late, received: retained } = await connectEventually(cluster.nodes[2]!.url!, {});
      clients.push(late);
      await late.subscribeAsync('r3/retained', { qos: 1 });
      await waitUntil(() => retained.length === 1, 10_000, 'the retained message');
      await end(subscriber);
      await publisher.publishAsync('r3/t', 'queued', { qos: 1 });
      const {
        client: resumed,
        connack,
        received: queued,
      } = await connectEventually(cluster.nodes[2]!.url!, {
        clientId: 'r3-sub',
        clean: false,
        properties: { sessionExpiryInterval: 60 },
      });
      clients.push(resumed);
      assert.equal(connack.sessionPresent, true);
      await waitUntil(() => queued.some((m) => m.payload === 'queued'), 10_000, 'the message queued while it was away');
    } finally {
      await Promise.all(clients.map((c) => end(c, true)));
      await cluster.close();
    }
  });

  test('NATS lost while running: clients get DISCONNECT 0x9C (Use another server), new CONNECTs 0x88', { timeout: 60_000 }, async () => {
    const nats = await startNats(1);
    const { createClusterBroker } = await import('../../src/cluster/index.js');
    const node = await createClusterBroker({
      host: '127.0.0.1',
      port: 0,
      wsPort: false,
      sysInterval: 0,
      cluster: { servers: [nats.servers[0]!.url], node: 'lonely' },
    });
    try {
      const { client } = await RawClient.connect(node.port!, { clientId: 'cut-off' });
      await nats.servers[0]!.process.kill();
      const disconnect = await client.expect('disconnect', 10_000);
      assert.equal(disconnect.reasonCode, ReasonCode.UseAnotherServer);
      const { connack } = await RawClient.connect(node.port!, { clientId: 'too-late' });
      assert.equal(connack.reasonCode, ReasonCode.ServerUnavailable);
    } finally {
      await node.close();
      await nats.close();
    }
  });
});
