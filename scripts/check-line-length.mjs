// Fails when a line in src/ or test/ is longer than 140 characters (the formatter's width; it does not
// break strings and comments, so they are checked here). Usage: node scripts/check-line-length.mjs [max]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const max = Number(process.argv[2] ?? 140);
const extensions = ['.ts', '.js', '.mjs', '.css', '.html', '.svg'];
const files = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return extensions.some((e) => name.endsWith(e)) ? [path] : [];
  });

const long = [];
for (const file of [...files('src'), ...files('test')]) {
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      // Counted in characters as an editor shows them (code points), not UTF-16 units.
      const length = [...line].length;
      if (length > max) long.push(`${file}:${i + 1}: ${length} characters`);
    });
}
if (long.length > 0) {
  console.error(`${long.length} line(s) longer than ${max} characters:\n${long.join('\n')}`);
  process.exit(1);
}
console.log(`no line in src/ or test/ is longer than ${max} characters`);
