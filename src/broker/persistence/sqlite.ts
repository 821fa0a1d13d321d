import { createRequire } from 'node:module';
import { deserialize, serialize } from 'node:v8';
import type Database from 'better-sqlite3';
import type { Message } from '../message.js';
import type { Delivery } from '../session.js';
import type { Persistence, SessionSnapshot } from './types.js';

/** Version of the table layout below, kept in `PRAGMA user_version`. */
const SCHEMA_VERSION = 1;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS retained (topic TEXT PRIMARY KEY, message BLOB NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS sessions (client_id TEXT PRIMARY KEY, session BLOB NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, message BLOB NOT NULL);
  CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY, client_id TEXT NOT NULL, message_id INTEGER NOT NULL,
    packet_id INTEGER, state TEXT, delivery BLOB NOT NULL
  );
  CREATE INDEX IF NOT EXISTS deliveries_by_client ON deliveries (client_id);
`;

/** A session row: the snapshot without its queued and in-flight deliveries. */
type SessionRow = Omit<SessionSnapshot, 'inflight' | 'queue'>;

/** What a delivery row holds besides its message: per-subscriber QoS, RETAIN flag, identifiers. */
type DeliveryFields = Omit<Delivery, 'message'>;

/** A stored delivery row as this instance knows it; `packetId` set means in flight. */
interface DeliveryRow {
  messageId: number;
  packetId: number | null;
  state: 'publish' | 'pubrel' | null;
}

/** A buffered write of a delivery row; `undefined` deletes it. */
interface PendingDelivery extends DeliveryRow {
  clientId: string;
  fields: Buffer;
}

/**
 * Keeps retained messages and sessions in an SQLite file (better-sqlite3), so they survive the broker
 * process being killed. Each queued or in-flight delivery is a row that refers to its message, which is
 * stored once however many sessions hold it; saving a session writes only the deliveries that are new or
 * changed (recognised by object identity: deliveries and messages are immutable) and deletes the ones
 * gone, and a message no delivery refers to any more is deleted. Saves are buffered and `flush` writes
 * them in one transaction. Values are V8-serialized: Node keeps the format readable across versions, and
 * Buffers and absent fields round-trip.
 */
export class SqlitePersistence implements Persistence {
  readonly crashSafe = true;
  private readonly db: Database.Database;
  /** Row id of each message object already given one. */
  private readonly messageIds = new WeakMap<Message, number>();
  /** Row id of each delivery object already stored (or pending). */
  private readonly deliveryIds = new WeakMap<Delivery, number>();
  /** Delivery rows of each client, by row id. */
  private readonly rowsByClient = new Map<string, Map<number, DeliveryRow>>();
  /** How many delivery rows refer to each message row. */
  private readonly references = new Map<number, number>();
  private nextMessageId = 1;
  private nextDeliveryId = 1;
  /** Writes not yet committed; `undefined` deletes. */
  private readonly pendingRetained = new Map<string, Buffer | undefined>();
  private readonly pendingSessions = new Map<string, Buffer | undefined>();
  private readonly pendingMessages = new Map<number, Buffer | undefined>();
  private readonly pendingDeliveries = new Map<number, PendingDelivery | undefined>();
  private readonly writePending: () => void;
  private closed = false;

  /** Opens (creating if needed) the database file at `path`; throws when it cannot be opened or written. */
  constructor(readonly path: string) {
    // Loaded here, not on import: a broker without --data-dir never loads the native module (about 5 MB of RSS).
    const open = createRequire(import.meta.url)('better-sqlite3') as typeof Database;
    this.db = new open(path);
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
      this.indexRows();
    } catch (error) {
      this.db.close();
      throw error;
    }
    const statements = {
      putRetained: this.db.prepare('INSERT OR REPLACE INTO retained (topic, message) VALUES (?, ?)'),
      deleteRetained: this.db.prepare('DELETE FROM retained WHERE topic = ?'),
      putSession: this.db.prepare('INSERT OR REPLACE INTO sessions (client_id, session) VALUES (?, ?)'),
      deleteSession: this.db.prepare('DELETE FROM sessions WHERE client_id = ?'),
      putMessage: this.db.prepare('INSERT OR REPLACE INTO messages (id, message) VALUES (?, ?)'),
      deleteMessage: this.db.prepare('DELETE FROM messages WHERE id = ?'),
      putDelivery: this.db.prepare(
        'INSERT OR REPLACE INTO deliveries (id, client_id, message_id, packet_id, state, delivery) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      deleteDelivery: this.db.prepare('DELETE FROM deliveries WHERE id = ?'),
    };
    this.writePending = this.db.transaction(() => {
      for (const [id, value] of this.pendingMessages) {
        if (value) statements.putMessage.run(id, value);
        else statements.deleteMessage.run(id);
      }
      for (const [id, d] of this.pendingDeliveries) {
        if (d) statements.putDelivery.run(id, d.clientId, d.messageId, d.packetId, d.state, d.fields);
        else statements.deleteDelivery.run(id);
      }
      for (const [clientId, value] of this.pendingSessions) {
        if (value) statements.putSession.run(clientId, value);
        else statements.deleteSession.run(clientId);
      }
      for (const [topic, value] of this.pendingRetained) {
        if (value) statements.putRetained.run(topic, value);
        else statements.deleteRetained.run(topic);
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

  /** Sessions with their deliveries in stored order; a message several sessions hold comes back as one object. */
  async loadSessions(): Promise<SessionSnapshot[]> {
    this.flushNow();
    const messages = new Map<number, Message>();
    for (const row of this.db.prepare('SELECT id, message FROM messages').all() as Array<{ id: number; message: Buffer }>) {
      const message = deserialize(row.message) as Message;
      messages.set(row.id, message);
      this.messageIds.set(message, row.id);
    }
    const sessions = new Map<string, SessionSnapshot>();
    for (const row of this.db.prepare('SELECT session FROM sessions').all() as Array<{ session: Buffer }>) {
      const s = deserialize(row.session) as SessionRow;
      sessions.set(s.clientId, { ...s, inflight: [], queue: [] });
    }
    const rows = this.db
      .prepare('SELECT id, client_id, message_id, packet_id, state, delivery FROM deliveries ORDER BY id')
      .all() as Array<{
      id: number;
      client_id: string;
      message_id: number;
      packet_id: number | null;
      state: 'publish' | 'pubrel' | null;
      delivery: Buffer;
    }>;
    for (const row of rows) {
      const session = sessions.get(row.client_id);
      const message = messages.get(row.message_id);
      if (!session || !message) continue;
      const delivery: Delivery = { message, ...(deserialize(row.delivery) as DeliveryFields) };
      this.deliveryIds.set(delivery, row.id);
      if (row.packet_id !== null) session.inflight.push({ packetId: row.packet_id, delivery, state: row.state ?? 'publish' });
      else session.queue.push(delivery);
    }
    return [...sessions.values()];
  }

  /** Writes the session row and only the deliveries that are new, changed or gone since the last save. */
  saveSession(snapshot: SessionSnapshot): void {
    const { inflight, queue, ...session } = snapshot;
    const previous = this.rowsByClient.get(snapshot.clientId) ?? new Map<number, DeliveryRow>();
    const current = new Map<number, DeliveryRow>();
    const keep = (delivery: Delivery, packetId: number | null, state: 'publish' | 'pubrel' | null) => {
      const id = this.deliveryIds.get(delivery);
      const known = id !== undefined && !current.has(id) ? previous.get(id) : undefined;
      if (known && known.packetId === packetId && known.state === state) {
        current.set(id!, known);
        return;
      }
      // New here (or changed: moved into flight, PUBREL sent): new rows take the next id, which keeps order.
      const rowId = known ? id! : this.nextDeliveryId++;
      const row: DeliveryRow = { messageId: known ? known.messageId : this.reference(delivery.message), packetId, state };
      this.deliveryIds.set(delivery, rowId);
      current.set(rowId, row);
      const { message: _message, ...fields } = delivery;
      this.pendingDeliveries.set(rowId, { ...row, clientId: snapshot.clientId, fields: serialize(fields) });
    };
    for (const e of inflight) keep(e.delivery, e.packetId, e.state);
    for (const d of queue) keep(d, null, null);
    for (const [id, row] of previous) {
      if (current.has(id)) continue;
      this.pendingDeliveries.set(id, undefined);
      this.release(row.messageId);
    }
    this.rowsByClient.set(snapshot.clientId, current);
    this.pendingSessions.set(snapshot.clientId, serialize(session));
  }

  deleteSession(clientId: string): void {
    for (const [id, row] of this.rowsByClient.get(clientId) ?? []) {
      this.pendingDeliveries.set(id, undefined);
      this.release(row.messageId);
    }
    this.rowsByClient.delete(clientId);
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
    const pending = this.pendingRetained.size + this.pendingSessions.size + this.pendingMessages.size + this.pendingDeliveries.size;
    if (pending === 0) return;
    this.writePending();
    this.pendingRetained.clear();
    this.pendingSessions.clear();
    this.pendingMessages.clear();
    this.pendingDeliveries.clear();
  }

  /** At open: learns the stored delivery rows and reference counts, and deletes rows nothing refers to. */
  private indexRows(): void {
    this.db.exec(`
      DELETE FROM deliveries WHERE client_id NOT IN (SELECT client_id FROM sessions);
      DELETE FROM messages WHERE id NOT IN (SELECT message_id FROM deliveries);
    `);
    const rows = this.db.prepare('SELECT id, client_id, message_id, packet_id, state FROM deliveries').all() as Array<{
      id: number;
      client_id: string;
      message_id: number;
      packet_id: number | null;
      state: 'publish' | 'pubrel' | null;
    }>;
    for (const row of rows) {
      let client = this.rowsByClient.get(row.client_id);
      if (!client) this.rowsByClient.set(row.client_id, (client = new Map()));
      client.set(row.id, { messageId: row.message_id, packetId: row.packet_id, state: row.state });
      this.references.set(row.message_id, (this.references.get(row.message_id) ?? 0) + 1);
      this.nextDeliveryId = Math.max(this.nextDeliveryId, row.id + 1);
    }
    const highest = this.db.prepare('SELECT max(id) AS id FROM messages').get() as { id: number | null };
    this.nextMessageId = (highest.id ?? 0) + 1;
  }

  /** One more delivery refers to a message: its row id, with the row (re)written if it is not stored. */
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

  /** One delivery fewer refers to a message; the message row goes with the last one. */
  private release(messageId: number): void {
    const count = this.references.get(messageId)! - 1;
    if (count > 0) {
      this.references.set(messageId, count);
    } else {
      this.references.delete(messageId);
      this.pendingMessages.set(messageId, undefined);
    }
  }
}
