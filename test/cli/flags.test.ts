import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildProgram, COMMAND_NAMES } from '../../src/cli/program.js';
import { describeFaults, LINK_PROFILES } from '../../src/link/index.js';

test('one meaning per short flag across all commands', async () => {
  const program = await buildProgram();
  assert.deepEqual(
    program.commands.map((c) => c.name()),
    COMMAND_NAMES,
  );
  const meanings = new Map<string, Set<string>>();
  for (const command of [program, ...program.commands]) {
    for (const option of command.options) {
      if (!option.short) continue;
      const longs = meanings.get(option.short) ?? new Set<string>();
      longs.add(option.long ?? '');
      meanings.set(option.short, longs);
    }
  }
  const clashes = [...meanings].filter(([, longs]) => longs.size > 1).map(([short, longs]) => `${short}: ${[...longs].join(', ')}`);
  assert.deepEqual(clashes, []);
  // The ones a learner types most, with the meaning Mosquitto's tools give them where they have one.
  const meaning = (short: string) => [...(meanings.get(short) ?? [])][0];
  assert.equal(meaning('-b'), '--broker');
  assert.equal(meaning('-d'), '--devices');
  assert.equal(meaning('-t'), '--topic');
  assert.equal(meaning('-q'), '--qos');
  assert.equal(meaning('-i'), '--id');
  assert.equal(meaning('-k'), '--keepalive');
  assert.equal(meaning('-V'), '--protocol-version');
  assert.equal(meaning('-P'), '--password');
  assert.equal(program.options.find((o) => o.long === '--version')?.short, undefined);
});

test('fleet --help and start --help list every link profile with its faults and why', async () => {
  const program = await buildProgram();
  for (const name of ['fleet', 'start']) {
    const command = program.commands.find((c) => c.name() === name)!;
    let help = '';
    command.configureOutput({ writeOut: (text) => (help += text) });
    command.outputHelp();
    assert.match(help, /--link <profile>/, name);
    for (const profile of LINK_PROFILES) {
      assert.ok(help.includes(`${profile.name.padEnd(9)}  ${describeFaults(profile.faults)}`), `${name}: ${profile.name}`);
      assert.ok(help.includes(profile.rationale), `${name}: why ${profile.name}`);
    }
  }
});
