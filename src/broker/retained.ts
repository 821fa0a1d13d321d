import { isExpired, type Message } from './message.js';

/** One topic level of the retained-message tree. */
interface Level {
  children: Map<string, Level>;
  message?: Message;
}

/**
 * The last retained message per topic (MQTT 5.0 §3.3.1.3). Kept in a map for exact topics and in a
 * tree of topic levels for filters with wildcards, so a SUBSCRIBE walks only the branches its filter
 * can match instead of every retained topic (a fleet of N devices subscribing while N statuses are
 * retained was N² topic comparisons).
 */
export class RetainedStore {
  private readonly messages = new Map<string, Message>();
  private readonly root: Level = { children: new Map() };
  private held = 0;

  get size(): number {
    return this.messages.size;
  }

  /** Bytes (topic + payload) of the retained messages. */
  get bytes(): number {
    return this.held;
  }

  /** Bytes the store would hold after retaining `payloadLength` bytes on `topic` (replacing what it holds now). */
  bytesAfter(topic: string, payloadLength: number): number {
    const old = this.messages.get(topic);
    const removed = old ? old.topic.length + old.payload.length : 0;
    return this.held - removed + (payloadLength > 0 ? topic.length + payloadLength : 0);
  }

  /**
   * Stores a retained message, or clears the topic when the payload is empty [MQTT-3.3.1-6], [MQTT-3.3.1-7].
   * Returns true when the store changed.
   */
  set(message: Message): boolean {
    if (message.payload.length === 0) return this.delete(message.topic);
    this.restore(message);
    return true;
  }

  /** Loads a message as-is (used when restoring from persistence). */
  restore(message: Message): void {
    this.held = this.bytesAfter(message.topic, message.payload.length);
    this.messages.set(message.topic, message);
    let level = this.root;
    for (const name of message.topic.split('/')) {
      let next = level.children.get(name);
      if (!next) {
        next = { children: new Map() };
        level.children.set(name, next);
      }
      level = next;
    }
    level.message = message;
  }

  /** Retained messages matching a filter, dropping any whose expiry passed [MQTT-3.3.2-5]. */
  match(filter: string, now: number): Message[] {
    const found: Message[] = [];
    if (!filter.includes('+') && !filter.includes('#')) {
      const m = this.messages.get(filter);
      if (m) found.push(m);
    } else {
      collect(this.root, filter.split('/'), found);
    }
    const out: Message[] = [];
    for (const m of found) {
      if (isExpired(m, now)) this.delete(m.topic);
      else out.push(m);
    }
    return out;
  }

  /** Every retained message (for persistence snapshots). */
  all(): Message[] {
    return [...this.messages.values()];
  }

  private delete(topic: string): boolean {
    const old = this.messages.get(topic);
    if (!old || !this.messages.delete(topic)) return false;
    this.held -= old.topic.length + old.payload.length;
    // Walk down remembering the path, then prune levels left with neither a message nor children.
    const path: Array<[Level, string]> = [];
    let level: Level | undefined = this.root;
    for (const name of topic.split('/')) {
      const next: Level | undefined = level.children.get(name);
      if (!next) return true;
      path.push([level, name]);
      level = next;
    }
    level.message = undefined;
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, name] = path[i]!;
      const child = parent.children.get(name)!;
      if (child.message || child.children.size > 0) break;
      parent.children.delete(name);
    }
    return true;
  }
}

/**
 * Adds the messages under the root that match the filter's levels. Iterative (an explicit stack), so a filter
 * or a stored topic of any depth cannot exhaust the call stack.
 */
function collect(root: Level, filter: string[], out: Message[]): void {
  const stack: Array<[Level, number]> = [[root, 0]];
  while (stack.length > 0) {
    const [level, i] = stack.pop()!;
    if (i === filter.length) {
      if (level.message) out.push(level.message);
      continue;
    }
    const name = filter[i]!;
    if (name === '#') {
      // `#` also matches the parent level itself ("sport/#" matches "sport"), MQTT 5.0 §4.7.1.2.
      if (level.message && i > 0) out.push(level.message);
      for (const [childName, child] of level.children) {
        // [MQTT-4.7.2-1] a filter starting with a wildcard does not match topics starting with `$`.
        if (i === 0 && childName.startsWith('$')) continue;
        everything(child, out);
      }
    } else if (name === '+') {
      // Pushed last-first, so children are visited in the order their topics were first retained.
      const children = [...level.children];
      for (let c = children.length - 1; c >= 0; c--) {
        const [childName, child] = children[c]!;
        if (i === 0 && childName.startsWith('$')) continue;
        stack.push([child, i + 1]);
      }
    } else {
      const child = level.children.get(name);
      if (child) stack.push([child, i + 1]);
    }
  }
}

/** Every message at or below `top`, iteratively. */
function everything(top: Level, out: Message[]): void {
  const stack: Level[] = [top];
  while (stack.length > 0) {
    const level = stack.pop()!;
    if (level.message) out.push(level.message);
    const children = [...level.children.values()];
    for (let c = children.length - 1; c >= 0; c--) stack.push(children[c]!);
  }
}
