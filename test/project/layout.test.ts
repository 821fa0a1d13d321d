import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

// The repository's shape, checked: the budgets of docs/architecture.md and the direction of imports.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Files under `dir` (relative to the repository) whose names end with one of `extensions`. */
function filesUnder(dir: string, extensions: string[]): string[] {
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((name) => {
      const path = join(d, name);
      if (statSync(path).isDirectory()) return walk(path);
      return extensions.some((e) => name.endsWith(e)) ? [path] : [];
    });
  return walk(join(root, dir));
}

const lineCount = (file: string) => readFileSync(file, 'utf8').split('\n').length - 1;

test("no source file under src/ is over 400 lines, the dashboard's browser files included", () => {
  const long = filesUnder('src', ['.ts', '.js', '.css', '.html'])
    .map((file) => ({ file: relative(root, file), lines: lineCount(file) }))
    .filter((f) => f.lines > 400);
  assert.deepEqual(long, []);
});

test('no function in src/exercises/ is over 80 lines', () => {
  const long: string[] = [];
  for (const file of filesUnder('src/exercises', ['.ts'])) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body) {
        const first = source.getLineAndCharacterOfPosition(node.getStart()).line;
        const last = source.getLineAndCharacterOfPosition(node.end).line;
        if (last - first + 1 > 80) long.push(`${relative(root, file)}:${first + 1} (${last - first + 1} lines)`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  assert.deepEqual(long, []);
});

test('no placeholder citation ([MQTT-x.y.z-?], [MQTT-x.y.z-...]) under src/: a numbered statement or a § section', () => {
  // A statement number is digits; anything else after the dash is a placeholder.
  const placeholder = /\[MQTT-\d+(?:\.\d+)*-(?!\d)|-\?\]/;
  const placeholders = filesUnder('src', ['.ts', '.js']).flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .flatMap((line, i) => (placeholder.test(line) ? [`${relative(root, file)}:${i + 1}: ${line.trim()}`] : [])),
  );
  assert.deepEqual(placeholders, []);
});

/** The relative modules a compiled file loads at run time (type-only imports are gone after tsc). */
function runtimeImports(file: string): string[] {
  const code = readFileSync(file, 'utf8');
  const specifiers = [
    ...code.matchAll(/(?:^|[\s;])(?:import|export)\s[^'";]*?from\s*['"]([^'"]+)['"]|import\s*\(?\s*['"]([^'"]+)['"]/gm),
  ].map((m) => m[1] ?? m[2]!);
  return specifiers.filter((s) => s.startsWith('.')).map((s) => resolve(dirname(file), s));
}

test('the compiled telemetry and client modules load nothing from broker/ at run time', () => {
  const dist = join(root, 'dist', 'src');
  // The compiled files of today's sources (a stale file left in dist/ by a removed source does not count).
  const start = filesUnder('src/telemetry', ['.ts'])
    .concat(filesUnder('src/client', ['.ts']))
    .map((file) => join(dist, relative(join(root, 'src'), file)).replace(/\.ts$/, '.js'));
  for (const entry of start) {
    assert.ok(existsSync(entry), `${relative(root, entry)} missing: run npm run build`);
    const seen = new Set<string>([entry]);
    const chains = new Map<string, string[]>([[entry, [relative(dist, entry)]]]);
    const queue = [entry];
    while (queue.length > 0) {
      const file = queue.shift()!;
      for (const next of runtimeImports(file)) {
        if (seen.has(next)) continue;
        seen.add(next);
        const chain = [...chains.get(file)!, relative(dist, next)];
        assert.ok(!relative(dist, next).startsWith('broker'), `broker loaded at run time: ${chain.join(' → ')}`);
        chains.set(next, chain);
        if (existsSync(next)) queue.push(next);
      }
    }
  }
});
