import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capacityVerdict, describeStep, measureCapacity, type CapacityStep } from '../../src/telemetry/index.js';
import { postgresSkip } from '../helpers/postgres.js';

test('capacity: broker, ingestion and fleet in their own processes; every reading sent is counted as stored', {
  timeout: 60_000,
}, async () => {
  const lines: string[] = [];
  const steps = await measureCapacity({
    devices: [10],
    intervalMs: 200,
    seconds: 2,
    workers: 2,
    broker: 'embedded',
    onProgress: (l) => lines.push(l),
  });
  assert.equal(steps.length, 1);
  const step = steps[0]!;
  assert.equal(step.error, undefined);
  assert.equal(step.devices, 10);
  assert.equal(step.offeredPerSecond, 150);
  assert.ok(step.sent >= 10 * 3 * 5, `${step.sent} readings sent in 2 s at 5 rounds/s`);
  assert.equal(step.stored, step.sent);
  assert.equal(step.lost, 0);
  for (const share of Object.values(step.cpu)) assert.ok(share > 0 && share < 2.5, `CPU share ${share}`);
  assert.deepEqual(lines, [describeStep(step)]);
});

test('capacity with PostgreSQL and two ingest processes: the readings of both add up to what was sent', {
  timeout: 90_000,
  skip: postgresSkip,
}, async () => {
  const steps = await measureCapacity({
    devices: [10],
    intervalMs: 200,
    seconds: 2,
    workers: 2,
    broker: 'embedded',
    store: 'postgres',
    ingestProcesses: 2,
  });
  const step = steps[0]!;
  assert.equal(step.error, undefined);
  assert.equal(step.ingestProcesses, 2);
  assert.equal(step.store, 'postgres');
  assert.ok(step.sent >= 10 * 3 * 5, `${step.sent} readings sent`);
  assert.equal(step.stored, step.sent);
  assert.ok(step.cpu.postgres! > 0, 'PostgreSQL CPU is measured');
  assert.match(describeStep(step), /ingest \d+% \(2 × postgres\).* postgres \d+%/);
});

test('capacity refuses several ingest processes on SQLite, with the fix in the message', async () => {
  await assert.rejects(
    measureCapacity({ devices: [10], intervalMs: 200, seconds: 2, workers: 2, broker: 'embedded', ingestProcesses: 2 }),
    /several ingest processes write one database: pass --store postgres/,
  );
});

test('the verdict names the largest size that kept up, and says when every size did (no limit found)', () => {
  const step = (devices: number, keptUp: boolean) => ({ devices, offeredPerSecond: devices * 3, keptUp }) as CapacityStep;
  assert.equal(
    capacityVerdict([step(100, true), step(200, false)], 'embedded broker, 3 workers'),
    'largest fleet that kept up: 100 devices, 300 readings/s (embedded broker, 3 workers)',
  );
  assert.equal(
    capacityVerdict([step(100, true), step(200, true)], 'embedded broker, 3 workers'),
    'every size kept up, up to 200 devices, 600 readings/s (embedded broker, 3 workers); the limit was not reached: try larger --devices',
  );
  assert.equal(capacityVerdict([step(100, false)], 'mosquitto broker, 3 workers'), 'no fleet size kept up (mosquitto broker, 3 workers)');
});
