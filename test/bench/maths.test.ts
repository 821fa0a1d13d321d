import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LatencyHistogram, median, ratioOfMedians, summarize } from '../../src/bench/index.js';

describe('latency histogram (hdr-histogram-js, microseconds in, milliseconds out)', () => {
  test('percentiles of 1..1000 µs', () => {
    const h = new LatencyHistogram();
    for (let us = 1; us <= 1000; us++) h.record(us);
    assert.deepEqual(h.summary(), { count: 1000, mean: 0.501, p50: 0.5, p99: 0.99, p999: 0.999, max: 1 });
  });

  test('a tail: 990 samples at 100 µs and 10 at 50 ms', () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 990; i++) h.record(100);
    for (let i = 0; i < 10; i++) h.record(50_000);
    const s = h.summary();
    assert.equal(s.p50, 0.1);
    assert.equal(s.p99, 0.1);
    // 3 significant digits: 50,000 µs is held in a bucket of 32 µs width.
    assert.ok(Math.abs(s.p999 - 50) < 0.05, `p99.9 ${s.p999}`);
    assert.ok(Math.abs(s.max - 50) < 0.05, `max ${s.max}`);
  });

  test('empty, below 1 µs and above 60 s', () => {
    const h = new LatencyHistogram();
    assert.deepEqual(h.summary(), { count: 0, mean: 0, p50: 0, p99: 0, p999: 0, max: 0 });
    h.record(0.2);
    h.record(120_000_000);
    assert.equal(h.count, 2);
    assert.equal(h.summary().p50, 0.001);
    assert.ok(h.summary().max >= 59_990 && h.summary().max <= 60_100, `max ${h.summary().max}`);
  });
});

describe('median, spread and ratios of medians', () => {
  test('median of odd and even counts, unsorted input', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });

  test('summary: n, median, min, max', () => {
    assert.deepEqual(summarize([10, 30, 20]), { n: 3, median: 20, min: 10, max: 30 });
    assert.equal(summarize([]).n, 0);
  });

  test('ratio of medians with the widest spread min(a)/max(b)..max(a)/min(b)', () => {
    const r = ratioOfMedians([80, 90, 100], [100, 110, 120]);
    assert.equal(r.ratio, 90 / 110);
    assert.equal(r.min, 80 / 120);
    assert.equal(r.max, 100 / 100);
  });
});
