import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../src/util/index.js';
import { runCli } from '../helpers/cli.js';

// Bad input and an unreachable broker: one line on stderr, nothing on stdout, exit 1, and nothing started.

describe('errors are one line, before anything starts', { concurrency: true }, () => {
  let dir: string;
  let port: number;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqttlab-errors-'));
    writeFileSync(join(dir, 'comparison.md'), 'committed\n');
    port = await freePort();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const unreachable = (url: string) =>
    new RegExp(
      `^mqttlab: cannot connect to ${url.replaceAll('.', '\\.').replaceAll('*', '\\*')}: ` +
        'connection refused \\(is a broker running there\\?',
    );

  const unknownProfile = (name: string) =>
    new RegExp(
      `^error: option '--link <profile>' argument '${name}' is invalid\\. ` +
        `unknown link profile "${name}" \\(one of lan, wifi, cellular, satellite, flaky\\)$`,
    );

  const cases: Array<[string, () => string[], () => RegExp]> = [
    [
      'compare --broker that is not there',
      () => ['compare', '--broker', `mqtt://127.0.0.1:${port}`, '--no-rabbitmq'],
      () => unreachable(`mqtt://127.0.0.1:${port}`),
    ],
    [
      'bench --broker that is not there',
      () => ['bench', 'fan-in', '--broker', `mqtt://127.0.0.1:${port}`, '--rounds', '1'],
      () => unreachable(`mqtt://127.0.0.1:${port}`),
    ],
    [
      'start --broker that is not there, credentials in the URL hidden',
      () => ['start', '--broker', `mqtt://bob:hunter2@127.0.0.1:${port}`, '--port', '0', '--db', ':memory:'],
      () => unreachable(`mqtt://***@127.0.0.1:${port}`),
    ],
    [
      'ingest --broker that is not there',
      () => ['ingest', '--broker', `mqtt://127.0.0.1:${port}`, '--port', '0', '--db', ':memory:'],
      () => unreachable(`mqtt://127.0.0.1:${port}`),
    ],
    [
      'pub to a broker that is not there',
      () => ['pub', '-b', `mqtt://127.0.0.1:${port}`, '-t', 'a', '-m', 'x'],
      () => unreachable(`mqtt://127.0.0.1:${port}`),
    ],
    [
      'fleet --devices 0',
      () => ['fleet', '--devices', '0'],
      () => /^error: option '-d, --devices <count>' argument '0' is invalid\. "0" is not a whole number from 1 up$/,
    ],
    ['fleet --link with an unknown profile', () => ['fleet', '--link', '5g'], () => unknownProfile('5g')],
    [
      'start --link with an unknown profile',
      () => ['start', '--link', 'dialup', '--port', '0', '--db', ':memory:'],
      () => unknownProfile('dialup'),
    ],
    [
      'compare --out over existing files without --force',
      () => ['compare', '--out', dir],
      () =>
        new RegExp(
          `^mqttlab: ${join(dir, 'comparison.md').replaceAll('.', '\\.')} already exists: ` +
            'pass --force to replace, or --out another directory$',
        ),
    ],
    [
      'pub without a payload',
      () => ['pub', '-t', 'a'],
      () => /^mqttlab: give the payload: -m <text>, -f <file>, -s \(stdin\), -l \(a message per line of stdin\) or --null-message$/,
    ],
    ['pub to a wildcard topic', () => ['pub', '-t', 'a/+', '-m', 'x'], () => /^mqttlab: "a\/\+" is not a topic to publish to/],
    [
      'sub with an MQTT 5 option and -V 311',
      () => ['sub', '-t', 'a', '-V', '311', '--no-local'],
      () => /^mqttlab: --no-local, --retain-as-published, --retain-handling and --subscription-identifier are MQTT 5 only/,
    ],
  ];
  for (const [title, args, expected] of cases) {
    test(title, async () => {
      const r = await runCli(args());
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, expected());
      assert.ok(!r.stderr.includes('hunter2') && !r.stderr.includes('bob'));
    });
  }
});
