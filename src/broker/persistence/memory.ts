import type { Message } from '../message.js';
import type { Persistence, SessionSnapshot } from './types.js';

/**
 * Keeps state in process memory. It survives a broker restart within the same process (a new
 * broker given the same instance), which is what embedding and tests need; not a crash.
 */
export class MemoryPersistence implements Persistence {
  /** Process memory dies with the process, so the broker acks at once and saves sessions only as they go offline. */
  readonly crashSafe: boolean = false;
  private readonly retained = new Map<string, Message>();
  private readonly sessions = new Map<string, SessionSnapshot>();

  async loadRetained(): Promise<Message[]> {
    return [...this.retained.values()];
  }

  saveRetained(topic: string, message: Message | undefined): void {
    if (message) this.retained.set(topic, message);
    else this.retained.delete(topic);
  }

  async loadSessions(): Promise<SessionSnapshot[]> {
    return [...this.sessions.values()].map(copySnapshot);
  }

  saveSession(snapshot: SessionSnapshot): void {
    this.sessions.set(snapshot.clientId, copySnapshot(snapshot));
  }

  deleteSession(clientId: string): void {
    this.sessions.delete(clientId);
  }

  /** Writes take effect at once: nothing is pending. */
  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}

/** Messages, deliveries and subscriptions are immutable, so copying the containers is enough. */
function copySnapshot(s: SessionSnapshot): SessionSnapshot {
  return {
    ...s,
    subscriptions: [...s.subscriptions],
    inflight: s.inflight.map((e) => ({ ...e })),
    queue: [...s.queue],
    inboundQos2: [...s.inboundQos2],
  };
}
