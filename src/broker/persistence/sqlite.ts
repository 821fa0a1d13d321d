import { deserialize, serialize } from 'node:v8';
import Database from 'better-sqlite3';
import type { Message } from '../message.js';
import type { Persistence, SessionSnapshot } from './types.js';

/** Version of the table layout below, kept in `PRAGMA user_version`. */
const SCHEMA_VERSION = 1;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS retained (topic TEXT PRIMARY KEY, message BLOB NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS sessions (client_id TEXT PRIMARY KEY, snapshot BLOB NOT NULL) WITHOUT ROWID;
`;

/**
 * Keeps retained messages and session snapshots in an SQLite file (better-sqlite3), so they survive
 * the broker process being killed. Saves are buffered (the latest value per topic and per client
 * wins) and `flush` writes them in one transaction; a value is stored as V8 serialization, whose
 * format Node keeps readable across versions and which round-trips Buffers and absent fields.
 */
export class SqlitePersistence implements Persistence {
  readonly crashSafe = true;
  private readonly db: Database.Database;
  /** Serialized values not yet written; `undefined` deletes. */
  private readonly pendingRetained = new Map<string, Buffer | undefined>();
  private readonly pendingSessions = new Map<string, Buffer | undefined>();
  private readonly writePending: () => void;
  private closed = false;

  /** Opens (creating if needed) the database file at `path`; throws when it cannot be opened or written. */
  constructor(readonly path: string) {
    this.db = new Database(path);
    try {
      // WAL: a commit appends to the -wal file and readers never block the writer.
      this.db.pragma('journal_mode = WAL');
      // NORMAL, not FULL: in WAL mode a commit is a write() to the -wal file, which the kernel keeps once
      // the call returns, so a committed transaction survives SIGKILL of this process ("transactions are
      // durable across application crashes regardless of the synchronous setting", sqlite.org/pragma.html).
      // NORMAL skips only the fsync per commit, which guards against power loss or a kernel crash, not a
      // process crash; WAL with NORMAL is never corrupted.
      this.db.pragma('synchronous = NORMAL');
      const version = this.db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) throw new Error(`${path} has schema version ${version}; this broker knows ${SCHEMA_VERSION}`);
      this.db.exec(SCHEMA);
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    } catch (error) {
      this.db.close();
      throw error;
    }
    const putRetained = this.db.prepare('INSERT OR REPLACE INTO retained (topic, message) VALUES (?, ?)');
    const deleteRetained = this.db.prepare('DELETE FROM retained WHERE topic = ?');
    const putSession = this.db.prepare('INSERT OR REPLACE INTO sessions (client_id, snapshot) VALUES (?, ?)');
    const deleteSession = this.db.prepare('DELETE FROM sessions WHERE client_id = ?');
    this.writePending = this.db.transaction(() => {
      for (const [topic, value] of this.pendingRetained) {
        if (value) putRetained.run(topic, value);
        else deleteRetained.run(topic);
      }
      for (const [clientId, value] of this.pendingSessions) {
        if (value) putSession.run(clientId, value);
        else deleteSession.run(clientId);
      }
    });
  }

  async loadRetained(): Promise<Message[]> {
    this.flushNow();
    const rows = this.db.prepare('SELECT message FROM retained').all() as Array<{ message: Buffer }>;
    return rows.map((row) => deserialize(row.message) as Message);
  }

  saveRetained(topic: string, message: Message | undefined): void {
    this.pendingRetained.set(topic, message && serialize(message));
  }

  async loadSessions(): Promise<SessionSnapshot[]> {
    this.flushNow();
    const rows = this.db.prepare('SELECT snapshot FROM sessions').all() as Array<{ snapshot: Buffer }>;
    return rows.map((row) => deserialize(row.snapshot) as SessionSnapshot);
  }

  /** Serializes at once, so later changes to the snapshot's arrays do not reach the store. */
  saveSession(snapshot: SessionSnapshot): void {
    this.pendingSessions.set(snapshot.clientId, serialize(snapshot));
  }

  deleteSession(clientId: string): void {
    this.pendingSessions.set(clientId, undefined);
  }

  /** Commits the buffered writes in one transaction (better-sqlite3 is synchronous). */
  async flush(): Promise<void> {
    this.flushNow();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flushNow();
    this.closed = true;
    this.db.close();
  }

  private flushNow(): void {
    if (this.closed) throw new Error(`${this.path} is closed`);
    if (this.pendingRetained.size === 0 && this.pendingSessions.size === 0) return;
    this.writePending();
    this.pendingRetained.clear();
    this.pendingSessions.clear();
  }
}
