import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SqlitePersistence } from '../broker/index.js';

/** File name of the database inside `--data-dir`. */
export const DATABASE_FILE = 'mqttlab.db';

/** Creates the data directory if needed and opens the database in it; a one-line error otherwise. */
export function openDataDir(dir: string): SqlitePersistence {
  try {
    makeDirectory(dir);
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new Error(`data directory "${dir}" is not a directory`);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw new Error(`data directory "${dir}" is not writable (${code})`);
    throw new Error(`data directory "${dir}" cannot be created: ${message}`);
  }
  if (!statSync(dir).isDirectory()) throw new Error(`data directory "${dir}" is not a directory`);
  try {
    accessSync(dir, constants.W_OK);
    return new SqlitePersistence(join(dir, DATABASE_FILE));
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw new Error(`data directory "${dir}" is not writable (${code})`);
    throw new Error(`cannot open ${join(dir, DATABASE_FILE)}: ${message}`);
  }
}

/**
 * Creates a directory and its missing parents, one level at a time. Not `mkdirSync(dir, { recursive: true })`:
 * on Node 20 that loops forever where mkdir fails with ENOENT under an existing parent (e.g. in /proc).
 */
function makeDirectory(dir: string): void {
  const missing: string[] = [];
  for (let current = resolve(dir); !existsSync(current); current = dirname(current)) {
    missing.push(current);
    if (dirname(current) === current) break;
  }
  for (const path of missing.reverse()) mkdirSync(path);
}
