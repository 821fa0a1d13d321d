import type { Message } from '../message.js';
import type { Delivery } from '../session.js';
import type { Subscription } from '../subscription.js';

/** A session as stored between connections and broker runs. */
export interface SessionSnapshot {
  clientId: string;
  expiryInterval: number;
  /** Epoch ms when the last connection closed; expiry counts from here. */
  disconnectedAt: number;
  subscriptions: Subscription[];
  inflight: Array<{ packetId: number; delivery: Delivery; state: 'publish' | 'pubrel' }>;
  queue: Delivery[];
  inboundQos2: number[];
}

/**
 * Where the broker keeps retained messages and sessions so they outlive a broker run
 * (Aedes-style seam: every implementation passes the same contract tests). Saves and deletes may be
 * buffered; `flush` is the write barrier.
 */
export interface Persistence {
  /**
   * True when what `flush` has stored survives the broker process being killed. The broker then
   * stores every session change and sends an acknowledgement only after the state it confirms is stored.
   */
  readonly crashSafe: boolean;
  /** Retained messages stored earlier. */
  loadRetained(): Promise<Message[]>;
  /** Stores (or, with `undefined`, deletes) the retained message of a topic. */
  saveRetained(topic: string, message: Message | undefined): void;
  /** Sessions stored earlier. */
  loadSessions(): Promise<SessionSnapshot[]>;
  /** Stores a session's state, replacing the previous snapshot of that client. */
  saveSession(snapshot: SessionSnapshot): void;
  /** Deletes the stored session of a client, if any. */
  deleteSession(clientId: string): void;
  /** Resolves once every save and delete made before the call is stored; rejects when storing failed. */
  flush(): Promise<void>;
  /** Flushes pending writes and releases resources. */
  close(): Promise<void>;
}
