import { deserialize, serialize } from 'node:v8';
import Database from 'better-sqlite3';
import type { Message } from '../message.js';
import type { Delivery } from '../session.js';
import type { Persistence, SessionSnapshot } from './types.js';

/** Version of the table layout below, kept in `PRAGMA user_version`. */
const SCHEMA_VERSION = 1;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS retained (topic TEXT PRIMARY KEY, message BLOB NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, message BLOB NOT NULL);
  CREATE TABLE IF NOT EXISTS sessions (client_id TEXT PRIMARY KEY, snapshot BLOB NOT NULL) WITHOUT ROWID;
`;

/** A delivery as a session row holds it: the message by its row id in `messages`. */
interface StoredDelivery extends Omit<Delivery, 'message'> {
  messageId: number;
}

/** A session row: the snapshot with its messages replaced by references. */
interface StoredSession extends Omit<SessionSnapshot, 'inflight' | 'queue'> {
  inflight: Array<{ packetId: number; delivery: StoredDelivery; state: 'publish' | 'pubrel' }>;
  queue: StoredDelivery[];
}

/**
 * Keeps retained messages and sessions in an SQLite file (better-sqlite3), so they survive the broker
 * process being killed. A queued or in-flight message is stored once in `messages`, however many
 * sessions hold it; a session row refers to it by id, so saving a session with a long queue writes
 * only the new messages and a small list of references. Messages no session refers to are deleted.
 * Saves are buffered (the latest per topic and per client wins) and `flush` writes them in one
 * transaction. Values are V8-serialized: Node keeps the format readable across versions, and Buffers
 * and absent fields round-trip.
 */
export class SqlitePersistence implements Persistence {
  readonly crashSafe = true;
  private readonly db: Database.Database;
  /** Row id of each message object already given one (messages are immutable). */
  private readonly messageIds = new WeakMap<Message, number>();
  /** How many stored or pending session references each message row has. */
  private readonly references = new Map<number, number>();
  /** The message ids the latest saved snapshot of each client refers to. */
  private readonly sessionMessages = new Map<string, number[]>();
  private nextMessageId: number;
  /** Serialized values not yet written; `undefined` deletes. */
  private readonly pendingRetained = new Map<string, Buffer | undefined>();
  private readonly pendingSessions = new Map<string, Buffer | undefined>();
  private readonly pendingMessages = new Map<number, Buffer | undefined>();
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
    this.nextMessageId = this.countReferences() + 1;
    const putRetained = this.db.prepare('INSERT OR REPLACE INTO retained (topic, message) VALUES (?, ?)');
    const deleteRetained = this.db.prepare('DELETE FROM retained WHERE topic = ?');
    const putSession = this.db.prepare('INSERT OR REPLACE INTO sessions (client_id, snapshot) VALUES (?, ?)');
    const deleteSession = this.db.prepare('DELETE FROM sessions WHERE client_id = ?');
    const putMessage = this.db.prepare('INSERT OR REPLACE INTO messages (id, message) VALUES (?, ?)');
    const deleteMessage = this.db.prepare('DELETE FROM messages WHERE id = ?');
    this.writePending = this.db.transaction(() => {
      for (const [id, value] of this.pendingMessages) {
        if (value) putMessage.run(id, value);
        else deleteMessage.run(id);
      }
      for (const [clientId, value] of this.pendingSessions) {
        if (value) putSession.run(clientId, value);
        else deleteSession.run(clientId);
      }
      for (const [topic, value] of this.pendingRetained) {
        if (value) putRetained.run(topic, value);
        else deleteRetained.run(topic);
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

  /** Sessions with their messages; a message several sessions hold comes back as one shared object. */
  async loadSessions(): Promise<SessionSnapshot[]> {
    this.flushNow();
    const messages = new Map<number, Message>();
    for (const row of this.db.prepare('SELECT id, message FROM messages').all() as Array<{ id: number; message: Buffer }>) {
      const message = deserialize(row.message) as Message;
      messages.set(row.id, message);
      this.messageIds.set(message, row.id);
    }
    const resolve = ({ messageId, ...rest }: StoredDelivery): Delivery => {
      const message = messages.get(messageId);
      if (!message) throw new Error(`${this.path}: a session refers to message ${messageId}, which is missing`);
      return { message, ...rest };
    };
    return this.storedSessions().map((s) => ({
      ...s,
      inflight: s.inflight.map((e) => ({ packetId: e.packetId, delivery: resolve(e.delivery), state: e.state })),
      queue: s.queue.map(resolve),
    }));
  }

  /** Serializes at once, so later changes to the snapshot's arrays do not reach the store. */
  saveSession(snapshot: SessionSnapshot): void {
    const ids: number[] = [];
    const store = ({ message, ...rest }: Delivery): StoredDelivery => {
      const messageId = this.reference(message);
      ids.push(messageId);
      return { messageId, ...rest };
    };
    const stored: StoredSession = {
      ...snapshot,
      inflight: snapshot.inflight.map((e) => ({ packetId: e.packetId, delivery: store(e.delivery), state: e.state })),
      queue: snapshot.queue.map(store),
    };
    // References taken before the old ones are released, so a message in both is never deleted.
    this.release(snapshot.clientId);
    this.sessionMessages.set(snapshot.clientId, ids);
    this.pendingSessions.set(snapshot.clientId, serialize(stored));
  }

  deleteSession(clientId: string): void {
    this.release(clientId);
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
    if (this.pendingRetained.size === 0 && this.pendingSessions.size === 0 && this.pendingMessages.size === 0) return;
    this.writePending();
    this.pendingRetained.clear();
    this.pendingSessions.clear();
    this.pendingMessages.clear();
  }

  private storedSessions(): StoredSession[] {
    const rows = this.db.prepare('SELECT snapshot FROM sessions').all() as Array<{ snapshot: Buffer }>;
    return rows.map((row) => deserialize(row.snapshot) as StoredSession);
  }

  /** Counts the references of the stored sessions, deletes messages none refers to; returns the highest id. */
  private countReferences(): number {
    for (const s of this.storedSessions()) {
      const ids = [...s.inflight.map((e) => e.delivery.messageId), ...s.queue.map((d) => d.messageId)];
      this.sessionMessages.set(s.clientId, ids);
      for (const id of ids) this.references.set(id, (this.references.get(id) ?? 0) + 1);
    }
    let highest = 0;
    const orphans: number[] = [];
    for (const { id } of this.db.prepare('SELECT id FROM messages').all() as Array<{ id: number }>) {
      highest = Math.max(highest, id);
      if (!this.references.has(id)) orphans.push(id);
    }
    const deleteMessage = this.db.prepare('DELETE FROM messages WHERE id = ?');
    this.db.transaction(() => orphans.forEach((id) => deleteMessage.run(id)))();
    return highest;
  }

  /** One more reference to a message: its row id, with the row (re)written if it is not stored. */
  private reference(message: Message): number {
    let id = this.messageIds.get(message);
    if (id === undefined) {
      id = this.nextMessageId++;
      this.messageIds.set(message, id);
    }
    const count = this.references.get(id) ?? 0;
    if (count === 0) this.pendingMessages.set(id, serialize(message));
    this.references.set(id, count + 1);
    return id;
  }

  /** Drops the references of a client's previous snapshot; a message left without any is deleted. */
  private release(clientId: string): void {
    for (const id of this.sessionMessages.get(clientId) ?? []) {
      const count = this.references.get(id)! - 1;
      if (count > 0) {
        this.references.set(id, count);
      } else {
        this.references.delete(id);
        this.pendingMessages.set(id, undefined);
      }
    }
    this.sessionMessages.delete(clientId);
  }
}
