import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { startFleet, startIngest, type Fleet } from '../../src/telemetry/index.js';
import { describeEachBroker, startBroker, type TestBroker } from '../helpers/brokers.js';
import { collect, connectClient, end, waitUntil, type Received } from '../helpers/clients.js';

describeEachBroker('fleet devices on the wire', (kind) => {
  let broker: TestBroker;
  let fleet: Fleet;
  let client: MqttClient;
  let seen: Received[];

  before(async () => {
    broker = await startBroker(kind);
    client = await connectClient(broker.url, { clientId: `fleet-test-${kind}` });
    seen = collect(client);
    await client.subscribeAsync(['devices/+/status', 'telemetry/#', 'replies/#'], { qos: 2 });
    fleet = await startFleet({ url: broker.url, devices: 3, sites: 2, intervalMs: 100 });
  });

  after(async () => {
    await fleet?.stop().catch(() => {});
    await end(client).catch(() => {});
    await broker?.close().catch(() => {});
  });

  test('each device says retained online (QoS 1), reports 3 metrics as JSON (QoS 0) on telemetry/<site>/<device>/<metric>', async () => {
    await waitUntil(
      () => fleet.devices.every((id) => seen.some((m) => m.topic === `telemetry/site-${id === 'dev-002' ? 2 : 1}/${id}/battery`)),
      5000,
      'readings of every device',
    );
    const status = seen.filter((m) => m.topic === 'devices/dev-001/status');
    assert.equal(status[0]?.payload, 'online');
    assert.equal(status[0]?.packet.qos, 1);
    const reading = seen.find((m) => m.topic === 'telemetry/site-1/dev-001/temperature')!;
    assert.equal(reading.packet.qos, 0);
    const body = JSON.parse(reading.payload) as { v: number; unit: string; ts: number };
    assert.equal(body.unit, '°C');
    assert.equal(typeof body.v, 'number');
    assert.ok(Math.abs(body.ts - Date.now()) < 60_000);
    const metrics = new Set(seen.filter((m) => m.topic.startsWith('telemetry/site-2/dev-002/')).map((m) => m.topic.split('/')[3]));
    assert.deepEqual([...metrics].sort(), ['battery', 'humidity', 'temperature']);
  });

  test('a late subscriber gets every status as a retained message', async () => {
    const late = await connectClient(broker.url, { clientId: `fleet-late-${kind}` });
    try {
      const got = collect(late);
      await late.subscribeAsync('devices/+/status', { qos: 1 });
      await waitUntil(() => got.length >= 3, 3000, 'three retained statuses');
      assert.deepEqual(
        got.map((m) => [m.topic, m.payload, m.packet.retain]).sort(),
        fleet.devices.map((id) => [`devices/${id}/status`, 'online', true]),
      );
    } finally {
      await end(late);
    }
  });

  async function request(command: string, payload: string, correlation: string): Promise<{ body: Record<string, unknown>; qos: number }> {
    await client.publishAsync(`commands/dev-001/${command}`, payload, {
      qos: 2,
      properties: { responseTopic: `replies/${kind}`, correlationData: Buffer.from(correlation) },
    });
    await waitUntil(
      () => seen.some((m) => m.topic === `replies/${kind}` && m.packet.properties?.correlationData?.toString() === correlation),
      3000,
      `reply to ${correlation}`,
    );
    const reply = seen.find((m) => m.topic === `replies/${kind}` && m.packet.properties?.correlationData?.toString() === correlation)!;
    return { body: JSON.parse(reply.payload) as Record<string, unknown>, qos: reply.packet.qos };
  }

  test('a command is answered on its Response Topic with the same Correlation Data, at QoS 2 (request/reply, §4.10)', async () => {
    const ping = await request('ping', '{}', 'c-1');
    assert.equal(ping.qos, 2);
    assert.equal(ping.body.ok, true);
    assert.equal(ping.body.device, 'dev-001');
    assert.equal(ping.body.command, 'ping');
    const set = await request('set-interval', JSON.stringify({ intervalMs: 250 }), 'c-2');
    assert.deepEqual([set.body.ok, set.body.intervalMs], [true, 250]);
  });

  test('bad commands get an error reply, not silence', async () => {
    const unknown = await request('self-destruct', '{}', 'c-3');
    assert.equal(unknown.body.ok, false);
    assert.match(String(unknown.body.error), /unknown command "self-destruct" \(known: ping, status, set-interval, alert\)/);
    const notJson = await request('ping', 'hello', 'c-4');
    assert.deepEqual([notJson.body.ok, notJson.body.error], [false, 'request payload is not JSON']);
    const range = await request('set-interval', JSON.stringify({ intervalMs: 5 }), 'c-5');
    assert.equal(range.body.ok, false);
  });

  test('chaos drops devices without DISCONNECT (the will says offline) and brings them back', async () => {
    const chaotic = await startFleet({
      url: broker.url,
      devices: 4,
      intervalMs: 1000,
      seed: 3,
      chaos: { everyMs: 150, downMs: [200, 400], maxDownShare: 0.5 },
    });
    const watcher = await connectClient(broker.url, { clientId: `fleet-chaos-${kind}` });
    try {
      const got = collect(watcher);
      await watcher.subscribeAsync('devices/+/status', { qos: 1, rh: 2 });
      // Live statuses only (Retain Handling 2): some device must say offline, then online again.
      const cameBack = () =>
        got.some(
          (m, i) => m.payload === 'offline' && got.slice(i + 1).some((later) => later.topic === m.topic && later.payload === 'online'),
        );
      await waitUntil(cameBack, 5000, 'a device going offline and coming back');
    } finally {
      await chaotic.stop();
      await end(watcher);
    }
  });
});

describeEachBroker('ingestion restarts without losing acknowledged alerts', (kind) => {
  let broker: TestBroker;
  let work: string;

  before(async () => {
    broker = await startBroker(kind);
    work = mkdtempSync(join(tmpdir(), 'mqttlab-restart-'));
  });

  after(async () => {
    await broker?.close().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  });

  test('alerts raised while every worker is away wait in the workers’ sessions and are stored after the restart', async () => {
    const store = join(work, 'telemetry.db');
    const options = {
      url: broker.url,
      workers: 2,
      store,
      httpPort: false as const,
      clientIdPrefix: `restart-${kind}`,
      sessionExpirySeconds: 60,
    };
    const first = await startIngest(options);
    await first.stop();
    const fleet = await startFleet({ url: broker.url, devices: 2, intervalMs: 60_000, heatEventProbability: 0 });
    try {
      for (let i = 0; i < 5; i++) for (const id of fleet.devices) await fleet.alert(id, `while away ${i}`);
      assert.equal(fleet.sent.alerts, 10);
      const second = await startIngest(options);
      try {
        await waitUntil(() => second.stats().alerts === 10, 5000, '10 queued alerts stored after the restart').catch((error: Error) => {
          const { alerts, alertDuplicates, rejected } = second.stats();
          throw new Error(`${error.message} (${JSON.stringify({ alerts, alertDuplicates, rejected, workers: second.workers() })})`);
        });
        assert.equal((await second.store.alerts(100)).filter((a) => a.message.startsWith('while away')).length, 10);
      } finally {
        await second.stop();
      }
    } finally {
      await fleet.stop();
    }
  });
});
