import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import type { LinkProfile } from '../../src/link/index.js';
import { startFleet, startIngest, type Fleet, type Ingest, type LinkReport } from '../../src/telemetry/index.js';
import { describeEachBroker, startBroker, type TestBroker } from '../helpers/brokers.js';
import { waitUntil } from '../helpers/clients.js';

/**
 * A link that cuts every connection after 25 packets: `flaky` cuts at random (p = 0.02 per packet), this
 * one at a known place, so every device is cut within its first second and the test needs no luck.
 */
const CUT_EVERY_25: LinkProfile = { name: 'cut-every-25', rationale: 'test: a deterministic cut', faults: { cutEvery: 25 } };
const DEVICES = 3;

describeEachBroker('the fleet over emulated links: reconnects, QoS 0 readings lost, QoS 1 alerts duplicated', (kind) => {
  let broker: TestBroker;
  let ingest: Ingest;
  let fleet: Fleet;
  let work: string;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'mqttlab-links-'));
    broker = await startBroker(kind);
    ingest = await startIngest({
      url: broker.url,
      workers: 2,
      store: join(work, 'telemetry.db'),
      httpPort: 0,
      flushMs: 50,
      clientIdPrefix: `links-${kind}`,
    });
    // No random alerts: the one alert of this test is the one it raises.
    fleet = await startFleet({ url: broker.url, devices: DEVICES, intervalMs: 100, heatEventProbability: 0, link: CUT_EVERY_25 });
  });

  after(async () => {
    await fleet?.stop().catch(() => {});
    await ingest?.stop().catch(() => {});
    await broker?.close().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  });

  test('devices reconnect through cut links; gaps = readings missing in the store; an alert delivered twice is stored once', async () => {
    // 1. Every device's link is cut (about once a second at 30 readings/s) and the device comes back, more than once.
    await waitUntil(() => fleet.links().every((d) => d.reconnects >= 2), 10_000, 'every device reconnected twice');
    // 2. Heal the links, so the last readings of each device reach the store and every loss is a gap between two.
    for (const id of fleet.devices) fleet.linkOf(id)!.faults = {};
    const sentWhenHealed = new Map(fleet.links().map((d) => [d.device, d.readingsSent]));
    await waitUntil(
      () => fleet.links().every((d) => d.readingsSent >= sentWhenHealed.get(d.device)! + 9),
      5000,
      'three rounds of readings on healed links',
    );
    // 3. One PUBACK cut on its way back: the device resends the alert (same packet id) on its resumed session.
    const victim = fleet.devices[0]!;
    fleet.linkOf(victim)!.faults = { cutOn: [{ type: 'PUBACK', direction: 'to-client' }] };
    await fleet.alert(victim, 'delivered twice');
    await waitUntil(() => ingest.stats().alertDuplicates === 1, 5000, 'the redelivered alert counted as a duplicate');
    const reconnects = new Map(fleet.links().map((d) => [d.device, d.reconnects]));
    await waitUntil(
      () => fleet.devices.every((id) => ingest.presence.get(id)?.reconnects === reconnects.get(id)),
      5000,
      'every device announced its reconnects',
    );
    const deviceSide = fleet.links();
    await fleet.stop();
    const db = new Database(join(work, 'telemetry.db'), { readonly: true });
    // The last reading of each device is stored (on a loaded machine it may still be on its way): every
    // reading missing from here on lies between two stored ones.
    const lastStored = () =>
      new Map(
        (
          db.prepare('SELECT device, MAX(last_seq) AS seq FROM reading_runs GROUP BY device').all() as Array<{
            device: string;
            seq: number;
          }>
        ).map((r) => [r.device, r.seq]),
      );
    await waitUntil(
      () => deviceSide.every((d) => lastStored().get(d.device) === d.readingsSent),
      10_000,
      'the last reading of every device stored',
    );
    const storedOf = (device: string) =>
      (
        db.prepare('SELECT COUNT(*) AS n FROM readings r JOIN series s ON s.id = r.series WHERE s.device = ?').get(device) as {
          n: number;
        }
      ).n;
    const alerts = db.prepare("SELECT device FROM alerts WHERE message = 'delivered twice'").all();
    const response = await fetch(`${ingest.apiUrl}/stats`, { signal: AbortSignal.timeout(5000) });
    const { links } = (await response.json()) as { links: LinkReport };
    let missingInStore = 0;
    for (const d of deviceSide) {
      const row = links.devices.find((x) => x.device === d.device)!;
      const missing = d.readingsSent - storedOf(d.device);
      missingInStore += missing;
      assert.deepEqual(
        { link: row.link, reconnects: row.reconnects, readingsLost: row.readingsLost },
        { link: 'cut-every-25', reconnects: d.reconnects, readingsLost: missing },
        `${d.device}: ${d.readingsSent} readings sent, ${d.readingsLostOnLink} lost on the link by its own count`,
      );
      assert.ok(d.cuts >= 2, `${d.device} cut ${d.cuts} times`);
    }
    db.close();
    // Each cut falls on a reading (packet 26 of a connection is one), so readings were really lost.
    assert.ok(missingInStore > 0, 'QoS 0 readings lost to the cuts');
    assert.deepEqual(alerts, [{ device: victim }], 'the alert is stored once');
    assert.equal(deviceSide.find((d) => d.device === victim)!.alertsResent, 1, 'the link saw the alert resent with its packet id');
    assert.equal(links.devices.find((d) => d.device === victim)!.alertsDuplicated, 1);
    assert.deepEqual(links.totals, {
      reconnects: deviceSide.reduce((s, d) => s + d.reconnects, 0),
      readingsLost: missingInStore,
      alertsDuplicated: ingest.store.alertDuplicates,
    });
  });
});
