import { SharedGroup } from './shared-subscriptions.js';
import type { Subscription } from './subscription.js';

/**
 * One topic level. Each Map exists only while it holds something: a node with three Maps took about 600
 * bytes, one with the Map it uses about 250, and a filter of its own takes one node per level (a leaf
 * needs only `subscribers`, a level above it only `children`).
 */
interface TrieNode {
  children: Map<string, TrieNode> | undefined;
  /** Non-shared subscriptions ending at this node, by client id. */
  subscribers: Map<string, Subscription> | undefined;
  /** Shared subscriptions ending at this node, by share name. */
  shared: Map<string, SharedGroup> | undefined;
}

function newNode(): TrieNode {
  // Every field set, so every node has one shape.
  return { children: undefined, subscribers: undefined, shared: undefined };
}

/** What a topic matched: plain subscriptions (possibly several per client) and shared groups. */
export interface RouteMatch {
  readonly subscriptions: readonly Subscription[];
  readonly groups: readonly SharedGroup[];
  /**
   * True when no client has two of the subscriptions and none asked for No Local: each subscription is then
   * one delivery as it is, with nothing to merge. Worked out once per topic, kept with the cached match.
   */
  readonly oneEach: boolean;
}

interface Found {
  subscriptions: Subscription[];
  groups: SharedGroup[];
  oneEach: boolean;
}

/** Characters of topic names the match cache may hold (about 8 MiB as UTF-16) until it starts over. */
const MATCH_CACHE_CHARS = 4 * 1024 * 1024;
/** Topics longer than this are walked each time rather than remembered. */
const MATCH_CACHE_MAX_TOPIC = 1024;
/** The match of a topic no subscription matches; shared, so remembering it costs only the key. */
const NO_MATCH: RouteMatch = Object.freeze({ subscriptions: Object.freeze([]), groups: Object.freeze([]), oneEach: true });

/** A topic trie over subscription filters with `+` and `#` (MQTT 5.0 §4.7). Knows nothing of sessions. */
export class Router {
  private readonly root = newNode();
  private count = 0;
  /** Trie nodes below the root: one per level of a filter not shared with another (each a few hundred bytes). */
  private nodes = 0;
  /** Topic → match, valid until a subscription is added or removed (a repeated topic is walked once). */
  private readonly cache = new Map<string, RouteMatch>();
  /** Characters of the topics in the cache. */
  private cachedChars = 0;

  /** Number of subscriptions held (plain and shared members). */
  get size(): number {
    return this.count;
  }

  /** Number of trie nodes the filters take (what their memory grows with, more than their count). */
  get nodeCount(): number {
    return this.nodes;
  }

  /** Adds a subscription, replacing the same client's subscription to the same filter [MQTT-3.8.4-3]. */
  add(subscription: Subscription): void {
    this.clearCache();
    const node = this.nodeFor(subscription.filter, true)!;
    if (subscription.group !== undefined) {
      let group = node.shared?.get(subscription.group);
      if (!group) {
        group = new SharedGroup(subscription.group, subscription.filter);
        (node.shared ??= new Map()).set(subscription.group, group);
      }
      const before = group.size;
      group.upsert(subscription);
      this.count += group.size - before;
    } else {
      const subscribers = (node.subscribers ??= new Map());
      if (!subscribers.has(subscription.clientId)) this.count++;
      subscribers.set(subscription.clientId, subscription);
    }
  }

  /** Removes a client's subscription given its filter and share name; returns true if it existed. */
  remove(clientId: string, filter: string, group?: string): boolean {
    const path: TrieNode[] = [];
    const levels = filter.split('/');
    let node: TrieNode | undefined = this.root;
    for (const level of levels) {
      path.push(node);
      node = node.children?.get(level);
      if (!node) return false;
    }
    let removed = false;
    if (group !== undefined) {
      const g = node.shared?.get(group);
      if (g?.remove(clientId)) {
        removed = true;
        if (g.size === 0) node.shared!.delete(group);
        if (node.shared!.size === 0) node.shared = undefined;
      }
    } else {
      removed = node.subscribers?.delete(clientId) ?? false;
      if (node.subscribers?.size === 0) node.subscribers = undefined;
    }
    if (removed) {
      this.clearCache();
      this.count--;
      this.prune(path, levels, node);
    }
    return removed;
  }

  /** All subscriptions and shared groups whose filter matches the topic name (shared: do not modify). */
  match(topic: string): RouteMatch {
    const cached = this.cache.get(topic);
    if (cached) return cached;
    const found: Found = { subscriptions: [], groups: [], oneEach: true };
    this.walk(topic.split('/'), topic.startsWith('$'), found);
    found.oneEach = oneEach(found.subscriptions);
    const result = found.subscriptions.length === 0 && found.groups.length === 0 ? NO_MATCH : found;
    // Bounded by characters, not entries: 10,000 topics of 64 KB each must not be kept.
    if (topic.length <= MATCH_CACHE_MAX_TOPIC) {
      if (this.cachedChars + topic.length > MATCH_CACHE_CHARS) this.clearCache();
      this.cache.set(topic, result);
      this.cachedChars += topic.length;
    }
    return result;
  }

  /**
   * Collects what matches the topic's levels, with an explicit stack rather than recursion, so a topic of any
   * depth cannot exhaust the call stack; the work is bounded by the nodes the topic can reach.
   */
  private walk(levels: string[], dollar: boolean, out: Found): void {
    const nodes: TrieNode[] = [this.root];
    const depths: number[] = [0];
    while (nodes.length > 0) {
      const node = nodes.pop()!;
      const depth = depths.pop()!;
      // [MQTT-4.7.2-1] filters starting with a wildcard do not match topics starting with '$'.
      const wildcardsAllowed = !(dollar && depth === 0);
      if (wildcardsAllowed) {
        // '#' matches the parent level too: 'a/#' matches 'a' (MQTT 5.0 §4.7.1.2).
        const hash = node.children?.get('#');
        if (hash) this.collect(hash, out);
      }
      if (depth === levels.length) {
        this.collect(node, out);
        continue;
      }
      // Pushed in reverse of the order they are visited: exact level first, then '+'.
      const children = node.children;
      if (!children) continue;
      const plus = wildcardsAllowed ? children.get('+') : undefined;
      if (plus) {
        nodes.push(plus);
        depths.push(depth + 1);
      }
      const exact = children.get(levels[depth]!);
      if (exact) {
        nodes.push(exact);
        depths.push(depth + 1);
      }
    }
  }

  private clearCache(): void {
    this.cache.clear();
    this.cachedChars = 0;
  }

  private collect(node: TrieNode, out: Found): void {
    if (node.subscribers) for (const s of node.subscribers.values()) out.subscriptions.push(s);
    if (node.shared) for (const g of node.shared.values()) out.groups.push(g);
  }

  private nodeFor(filter: string, create: boolean): TrieNode | undefined {
    let node = this.root;
    for (const level of filter.split('/')) {
      let child = node.children?.get(level);
      if (!child) {
        if (!create) return undefined;
        child = newNode();
        (node.children ??= new Map()).set(level, child);
        this.nodes++;
      }
      node = child;
    }
    return node;
  }

  private prune(path: TrieNode[], levels: string[], leaf: TrieNode): void {
    let node = leaf;
    for (let i = levels.length - 1; i >= 0; i--) {
      // An emptied Map is dropped (see TrieNode), so a node holds something exactly when one is left.
      if (node.children || node.subscribers || node.shared) return;
      const parent = path[i]!;
      parent.children!.delete(levels[i]!);
      if (parent.children!.size === 0) parent.children = undefined;
      this.nodes--;
      node = parent;
    }
  }
}

/** True when every subscription is from a different client and none has No Local. */
function oneEach(subscriptions: readonly Subscription[]): boolean {
  const clients = new Set<string>();
  for (const s of subscriptions) {
    if (s.noLocal || clients.has(s.clientId)) return false;
    clients.add(s.clientId);
  }
  return true;
}
