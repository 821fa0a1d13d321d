import { SharedGroup } from './shared-subscriptions.js';
import type { Subscription } from './subscription.js';

interface TrieNode {
  children: Map<string, TrieNode>;
  /** Non-shared subscriptions ending at this node, by client id. */
  subscribers: Map<string, Subscription>;
  /** Shared subscriptions ending at this node, by share name. */
  shared: Map<string, SharedGroup>;
}

function newNode(): TrieNode {
  return { children: new Map(), subscribers: new Map(), shared: new Map() };
}

/** What a topic matched: plain subscriptions (possibly several per client) and shared groups. */
export interface RouteMatch {
  readonly subscriptions: readonly Subscription[];
  readonly groups: readonly SharedGroup[];
}

interface Found {
  subscriptions: Subscription[];
  groups: SharedGroup[];
}

/** Topics whose match is remembered until the next change of subscriptions. */
const MATCH_CACHE_SIZE = 10_000;

/** A topic trie over subscription filters with `+` and `#` (MQTT 5.0 §4.7). Knows nothing of sessions. */
export class Router {
  private readonly root = newNode();
  private count = 0;
  /** Topic → match, valid until a subscription is added or removed (a repeated topic is walked once). */
  private readonly cache = new Map<string, RouteMatch>();

  /** Number of subscriptions held (plain and shared members). */
  get size(): number {
    return this.count;
  }

  /** Adds a subscription, replacing the same client's subscription to the same filter [MQTT-3.8.4-3]. */
  add(subscription: Subscription): void {
    this.cache.clear();
    const node = this.nodeFor(subscription.filter, true)!;
    if (subscription.group !== undefined) {
      let group = node.shared.get(subscription.group);
      if (!group) {
        group = new SharedGroup(subscription.group, subscription.filter);
        node.shared.set(subscription.group, group);
      }
      const before = group.size;
      group.upsert(subscription);
      this.count += group.size - before;
    } else {
      if (!node.subscribers.has(subscription.clientId)) this.count++;
      node.subscribers.set(subscription.clientId, subscription);
    }
  }

  /** Removes a client's subscription given its filter and share name; returns true if it existed. */
  remove(clientId: string, filter: string, group?: string): boolean {
    const path: TrieNode[] = [];
    const levels = filter.split('/');
    let node: TrieNode | undefined = this.root;
    for (const level of levels) {
      path.push(node);
      node = node.children.get(level);
      if (!node) return false;
    }
    let removed = false;
    if (group !== undefined) {
      const g = node.shared.get(group);
      if (g && g.remove(clientId)) {
        removed = true;
        if (g.size === 0) node.shared.delete(group);
      }
    } else {
      removed = node.subscribers.delete(clientId);
    }
    if (removed) {
      this.cache.clear();
      this.count--;
      this.prune(path, levels, node);
    }
    return removed;
  }

  /** All subscriptions and shared groups whose filter matches the topic name (shared: do not modify). */
  match(topic: string): RouteMatch {
    const cached = this.cache.get(topic);
    if (cached) return cached;
    const result: Found = { subscriptions: [], groups: [] };
    const levels = topic.split('/');
    // [MQTT-4.7.2-1] filters starting with a wildcard do not match topics starting with '$'.
    const dollar = topic.startsWith('$');
    this.walk(this.root, levels, 0, dollar, result);
    if (this.cache.size >= MATCH_CACHE_SIZE) this.cache.clear();
    this.cache.set(topic, result);
    return result;
  }

  private walk(node: TrieNode, levels: string[], depth: number, dollar: boolean, out: Found): void {
    const wildcardsAllowed = !(dollar && depth === 0);
    if (wildcardsAllowed) {
      // '#' matches the parent level too: 'a/#' matches 'a' [MQTT-4.7.1-1 non-normative example].
      const hash = node.children.get('#');
      if (hash) this.collect(hash, out);
    }
    if (depth === levels.length) {
      this.collect(node, out);
      return;
    }
    const exact = node.children.get(levels[depth]!);
    if (exact) this.walk(exact, levels, depth + 1, dollar, out);
    if (wildcardsAllowed) {
      const plus = node.children.get('+');
      if (plus) this.walk(plus, levels, depth + 1, dollar, out);
    }
  }

  private collect(node: TrieNode, out: Found): void {
    for (const s of node.subscribers.values()) out.subscriptions.push(s);
    for (const g of node.shared.values()) out.groups.push(g);
  }

  private nodeFor(filter: string, create: boolean): TrieNode | undefined {
    let node = this.root;
    for (const level of filter.split('/')) {
      let child = node.children.get(level);
      if (!child) {
        if (!create) return undefined;
        child = newNode();
        node.children.set(level, child);
      }
      node = child;
    }
    return node;
  }

  private prune(path: TrieNode[], levels: string[], leaf: TrieNode): void {
    let node = leaf;
    for (let i = levels.length - 1; i >= 0; i--) {
      if (node.children.size > 0 || node.subscribers.size > 0 || node.shared.size > 0) return;
      path[i]!.children.delete(levels[i]!);
      node = path[i]!;
    }
  }
}
