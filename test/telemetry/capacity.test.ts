import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeStep, measureCapacity } from '../../src/telemetry/index.js';
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
