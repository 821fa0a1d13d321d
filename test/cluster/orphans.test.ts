import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { ReasonCode } from '../../src/broker/index.js';
import { startNats, type NatsSystem } from '../../src/util/index.js';
import { collect, connectClient, end, sleep, waitUntil } from '../helpers/clients.js';
import { clusterUnavailable, startNodeProcesses, type NodeProcess } from '../helpers/cluster.js';
import { RawClient } from '../helpers/raw-client.js';

/*
 * A node killed with SIGKILL leaves the sessions it owned in the sessions bucket. A surviving node takes
 * them over (src/cluster/orphans.ts) once the dead node has been silent for 10 s, so their wills and
 * Session Expiry are honoured once, cluster-wide [MQTT-3.1.2-23], [MQTT-3.1.3-9].
 */
describe('Sessions of a node killed with SIGKILL', { skip: clusterUnavailable ?? false, timeout: 120_000 }, () => {
  let nats: NatsSystem;
  let nodes: NodeProcess[];
  before(async () => {
    nats = await startNats(1);
    nodes = await startNodeProcesses(nats, ['o1', 'o2', 'o3']);
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.proc.stop()));
    await nats.close();
  });

  test('wills of its clients arrive once on another node; its offline sessions expire or resume there', async () => {
    const [dying, , watching] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    const clients: MqttClient[] = [];
    try {
      const subscriber = await connectClient(watching.url, { clientId: 'will-watcher' });
      clients.push(subscriber);
      const wills = collect(subscriber);
      await subscriber.subscribeAsync('wills/#', { qos: 1 });

      // Connected to the node when it dies: Session Expiry 0, and 60 s with a Will Delay of 2 s.
      const will = (name: string, delay?: number) => ({
        topic: `wills/${name}`,
        payload: Buffer.from(`${name} gone`),
        qos: 1 as const,
        retain: false,
        properties: delay === undefined ? {} : { willDelayInterval: delay },
      });
      for (const [clientId, expiry, delay] of [
        ['doomed', 0, undefined],
        ['delayed', 60, 2],
      ] as const) {
        const c = await connectClient(dying.url, {
          clientId,
          clean: true,
          reconnectPeriod: 0,
          will: will(clientId, delay),
          properties: { sessionExpiryInterval: expiry },
        });
        c.on('error', () => undefined);
        clients.push(c);
      }
      // Offline on the node when it dies: `brief` expires 12 s after it left (its will, delayed 600 s, goes out
      // then [MQTT-3.1.3-9]); `kept` (300 s) keeps its subscription and what was published meanwhile.
      const brief = await RawClient.connect(dying.port, {
        clientId: 'brief',
        clean: true,
        will: will('brief', 600),
        properties: { sessionExpiryInterval: 12 },
      });
      brief.client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'brief/#', qos: 1 }] });
      await brief.client.expect('suback');
      await brief.client.disconnect(ReasonCode.DisconnectWithWillMessage);
      const kept = await connectClient(dying.url, { clientId: 'kept', clean: false, properties: { sessionExpiryInterval: 300 } });
      await kept.subscribeAsync('kept/#', { qos: 1 });
      await end(kept);
      // The stored sessions are written asynchronously; a moment for them to be in the bucket.
      await sleep(500);

      await dying.proc.kill();
      const publisher = await connectClient(watching.url, { clientId: 'meanwhile' });
      clients.push(publisher);
      await publisher.publishAsync('kept/t', 'while its node was dead', { qos: 1 });

      const count = (name: string) => wills.filter((m) => m.topic === `wills/${name}`).length;
      await waitUntil(() => count('doomed') > 0 && count('delayed') > 0, 30_000, 'the wills of the connected clients');
      await waitUntil(() => count('brief') > 0, 30_000, "brief's will, at the end of its session");
      // Nothing more comes: each will once, cluster-wide.
      await sleep(2000);
      assert.deepEqual(['doomed', 'delayed', 'brief'].map(count), [1, 1, 1]);
      assert.equal(wills.find((m) => m.topic === 'wills/doomed')?.payload, 'doomed gone');

      // brief's session ended with its expiry; kept's was held, with the message published while its node was dead.
      const again = await RawClient.connect(watching.port, { clientId: 'brief', clean: false, properties: { sessionExpiryInterval: 12 } });
      assert.equal(again.connack.sessionPresent, false);
      await again.client.disconnect();
      const resumed = await RawClient.connect(watching.port, {
        clientId: 'kept',
        clean: false,
        properties: { sessionExpiryInterval: 300 },
      });
      assert.equal(resumed.connack.sessionPresent, true);
      const queued = await resumed.client.expect('publish', 10_000);
      assert.equal(queued.payload.toString(), 'while its node was dead');
      await resumed.client.disconnect();
    } finally {
      await Promise.all(clients.map((c) => end(c, true)));
    }
  });
});
