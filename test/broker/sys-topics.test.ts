import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { BROKER_VERSION } from '../../src/broker/index.js';
import { describeEachBroker, startBroker, type TestBroker } from '../helpers/brokers.js';
import { collect, connectClient, end, sleep, waitUntil, type Received } from '../helpers/clients.js';

// `$SYS/broker/...`: the embedded broker is started with sysInterval 1, Mosquitto with `sys_interval 1`.
// Both publish these as retained messages and update them every interval.

/** Values seen on one $SYS topic, as numbers where the payload starts with one. */
const numbers = (got: Received[], topic: string) => got.filter((m) => m.topic === topic).map((m) => parseInt(m.payload, 10));
const last = (values: number[]) => values[values.length - 1];

describeEachBroker(
  '$SYS topics',
  (kind) => {
    let b: TestBroker;
    const open: MqttClient[] = [];
    const client = async (clientId: string) => {
      const c = await connectClient(b.url, { clientId });
      open.push(c);
      return c;
    };
    before(async () => (b = await startBroker(kind, { embedded: { sysInterval: 1 }, mosquitto: ['sys_interval 1'] })));
    after(async () => {
      for (const c of open) await end(c, true);
      await b.close();
    });

    test('$SYS/broker/version is retained and names the broker', async () => {
      const c = await client('sys-version');
      const got = collect(c);
      await c.subscribeAsync('$SYS/broker/version');
      await waitUntil(() => got.length > 0, 3000, '$SYS/broker/version');
      assert.equal(got[0]!.packet.retain, true, 'sent as a retained message on subscribe');
      if (kind === 'mosquitto') assert.match(got[0]!.payload, /^mosquitto version 2\.0\.\d+$/);
      else assert.equal(got[0]!.payload, BROKER_VERSION);
    });

    test('$SYS/broker/uptime counts seconds and grows', async () => {
      const c = await client('sys-uptime');
      const got = collect(c);
      await c.subscribeAsync('$SYS/broker/uptime');
      await waitUntil(() => new Set(got.map((m) => m.payload)).size >= 2, 4000, 'two different uptime values');
      for (const m of got) assert.match(m.payload, /^\d+ seconds$/);
      const values = numbers(got, '$SYS/broker/uptime');
      assert.ok(last(values)! > values[0]!, `uptime grows: ${values.join(', ')}`);
    });

    test('$SYS/broker/clients/connected follows clients connecting and leaving', async () => {
      const watcher = await client('sys-clients-watcher');
      const got = collect(watcher);
      await watcher.subscribeAsync('$SYS/broker/clients/connected');
      await waitUntil(() => got.length > 0, 3000, 'a clients/connected value');
      // The retained value may predate this watcher (Mosquitto publishes only on change), so count from
      // whatever it says now and look for a rise of two, then a fall of two.
      const connected = () => numbers(got, '$SYS/broker/clients/connected');
      const before = last(connected())!;
      const extra = [await connectClient(b.url, { clientId: 'sys-extra-1' }), await connectClient(b.url, { clientId: 'sys-extra-2' })];
      await waitUntil(() => last(connected())! >= before + 2, 4000, `clients/connected >= ${before + 2}`);
      // One more interval, so the peak includes both extra clients whichever update counted them.
      await sleep(1200);
      const peak = Math.max(...connected());
      for (const c of extra) await end(c);
      await waitUntil(() => last(connected())! <= peak - 2, 4000, `clients/connected back to ${peak - 2}`);
    });

    test('$SYS/broker/messages/received and messages/sent grow with traffic', async () => {
      const watcher = await client('sys-messages-watcher');
      const got = collect(watcher);
      await watcher.subscribeAsync(['$SYS/broker/messages/received', '$SYS/broker/messages/sent']);
      await waitUntil(
        () => numbers(got, '$SYS/broker/messages/received').length > 0 && numbers(got, '$SYS/broker/messages/sent').length > 0,
        3000,
        'both counters',
      );
      const received0 = last(numbers(got, '$SYS/broker/messages/received'))!;
      const sent0 = last(numbers(got, '$SYS/broker/messages/sent'))!;
      const pub = await client('sys-traffic');
      const atPub = collect(pub);
      await pub.subscribeAsync('sys/traffic');
      for (let i = 0; i < 5; i++) await pub.publishAsync('sys/traffic', `m${i}`, { qos: 1 });
      await waitUntil(() => atPub.length === 5, 3000, 'the five messages');
      // At least the 5 PUBLISH in and the 5 PUBLISH out (Mosquitto counts every packet, not only PUBLISH).
      await waitUntil(
        () =>
          last(numbers(got, '$SYS/broker/messages/received'))! >= received0 + 5 &&
          last(numbers(got, '$SYS/broker/messages/sent'))! >= sent0 + 5,
        4000,
        `messages/received >= ${received0 + 5} and messages/sent >= ${sent0 + 5}`,
      );
    });

    test('wildcards at the first level do not match $SYS topics; $SYS/# does [MQTT-4.7.2-1]', async () => {
      const all = await client('sys-hash');
      const sys = await client('sys-explicit');
      const atAll = collect(all);
      const atSys = collect(sys);
      await all.subscribeAsync(['#', '+/broker/#']);
      await sys.subscribeAsync('$SYS/#');
      // Long enough for at least one update round (interval 1 s).
      await waitUntil(() => atSys.some((m) => m.topic === '$SYS/broker/uptime' && !m.packet.retain), 4000, 'a live $SYS update');
      assert.deepEqual(
        atAll.filter((m) => m.topic.startsWith('$')),
        [],
      );
    });
  },
  {
    notOnCluster:
      "$SYS/broker/... counts one node (the balancer spreads a test's clients over three); " +
      "the cluster's counts are $SYS/cluster/... (test/cluster/sys.test.ts)",
  },
);
