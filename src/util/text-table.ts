/** A table as data: laid out for the width at hand when printed, kept whole in JSON. */
export interface TextTable {
  header: string[];
  rows: string[][];
}

/**
 * Columns to lay text out in: the terminal's width when stdout is one, else $COLUMNS, else no limit (a file
 * or a pipe gets the full width, as --json and --out do).
 */
export function terminalWidth(stream: NodeJS.WriteStream = process.stdout, env: NodeJS.ProcessEnv = process.env): number {
  if (stream.isTTY && stream.columns) return stream.columns;
  const columns = Number(env.COLUMNS);
  return Number.isInteger(columns) && columns >= 40 ? columns : Number.POSITIVE_INFINITY;
}

/**
 * A table in at most `width` columns: a grid when it fits (and `stack` is not asked for), else one block
 * per row — its first cell as a heading, then `column: value` lines, wrapped — so no line is wider than
 * the terminal.
 */
export function layoutTable(table: TextTable, width: number, options: { indent?: string; stack?: boolean } = {}): string[] {
  const indent = options.indent ?? '  ';
  const cells = [table.header, ...table.rows];
  const widths = table.header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const gridWidth = indent.length + widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
  if (gridWidth <= width && !options.stack) {
    const line = (r: string[]) =>
      indent +
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd();
    return [line(table.header), indent + widths.map((w) => '─'.repeat(w)).join('  '), ...table.rows.map(line)];
  }
  const label = Math.min(Math.max(...table.header.slice(1).map((h) => h.length)), 24);
  const out: string[] = [];
  for (const row of table.rows) {
    out.push(...wrapLine(`${indent}${row[0] ?? ''}`, width));
    table.header.slice(1).forEach((h, i) => {
      const value = row[i + 1] ?? '';
      if (value !== '') out.push(...wrapLine(`${indent}  ${`${h}:`.padEnd(label + 1)} ${value}`, width, indent.length + label + 4));
    });
  }
  return out;
}

/** Word-wraps one line to `width` columns; continuation lines start at column `hang` (default: the line's own indent + 2). */
export function wrapLine(line: string, width: number, hang?: number): string[] {
  // Narrower than any sensible terminal: leave the line alone rather than cut it into letters.
  if (line.length <= width || width < 20) return [line];
  const indent = hang ?? /^ */.exec(line)![0].length + 2;
  const pad = ' '.repeat(Math.min(indent, Math.floor(width / 2)));
  const out: string[] = [];
  let rest = line;
  let prefix = '';
  while ((prefix + rest).length > width) {
    const room = width - prefix.length;
    let cut = rest.lastIndexOf(' ', room);
    if (cut <= 0) cut = room;
    out.push((prefix + rest.slice(0, cut)).trimEnd());
    rest = rest.slice(cut).trimStart();
    prefix = pad;
  }
  if (rest.length > 0) out.push(prefix + rest);
  return out;
}
