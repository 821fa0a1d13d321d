import assert from 'node:assert/strict';
import { test } from 'node:test';
import { layoutTable, terminalWidth, wrapLine } from '../../src/util/index.js';

const table = {
  header: ['system', 'variant', 'bytes'],
  rows: [
    ['MQTT', 'QoS 1', '47'],
    ['AMQP 0-9-1', 'publisher confirms', '131'],
  ],
};

test('a table that fits is a grid', () => {
  assert.deepEqual(layoutTable(table, 80), [
    '  system      variant             bytes',
    '  ──────────  ──────────────────  ─────',
    '  MQTT        QoS 1               47',
    '  AMQP 0-9-1  publisher confirms  131',
  ]);
});

test('a table too wide for the terminal stacks: one block per row, no line wider than the width', () => {
  const lines = layoutTable(table, 32);
  assert.deepEqual(lines, [
    '  MQTT',
    '    variant: QoS 1',
    '    bytes:   47',
    '  AMQP 0-9-1',
    '    variant: publisher confirms',
    '    bytes:   131',
  ]);
  assert.ok(layoutTable({ header: ['a', 'note'], rows: [['x', 'word '.repeat(40)]] }, 40).every((l) => l.length <= 40));
});

test('long lines wrap at spaces under their own indent; the width comes from the terminal, else $COLUMNS, else no limit', () => {
  assert.deepEqual(wrapLine('  one two three four five six', 20), ['  one two three four', '    five six']);
  assert.deepEqual(wrapLine('  short', 20), ['  short']);
  const pipe = { isTTY: false } as NodeJS.WriteStream;
  assert.equal(terminalWidth({ isTTY: true, columns: 91 } as NodeJS.WriteStream, {}), 91);
  assert.equal(terminalWidth(pipe, { COLUMNS: '100' }), 100);
  assert.equal(terminalWidth(pipe, {}), Number.POSITIVE_INFINITY);
});
