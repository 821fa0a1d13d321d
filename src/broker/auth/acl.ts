import { isValidTopicFilter, topicMatchesFilter } from '../../protocol/index.js';

/** What a rule grants; `deny` takes precedence over every grant. */
type Access = 'read' | 'write' | 'readwrite' | 'deny';

/** One `topic` or `pattern` line. */
interface Rule {
  readonly access: Access;
  readonly filter: string;
  /** `pattern` lines substitute `%c` (client id) and `%u` (user name) and apply to every client. */
  readonly pattern: boolean;
}

/** The identity ACL rules are evaluated for. */
export interface AclClient {
  readonly clientId: string;
  readonly username: string | undefined;
}

const ACCESS_WORDS: ReadonlySet<string> = new Set(['read', 'write', 'readwrite', 'deny']);

/**
 * A Mosquitto ACL file (`acl_file`). `topic` lines before any `user` line apply to clients without a
 * user name, `topic` lines after `user <name>` to that user, `pattern` lines to every client. A client
 * may do only what a rule grants and no `deny` rule matching the topic forbids.
 */
export class Acl {
  private constructor(
    private readonly anonymous: readonly Rule[],
    private readonly users: ReadonlyMap<string, readonly Rule[]>,
    private readonly patterns: readonly Rule[],
  ) {}

  /** Parses the file's text; `file` names it in errors (`file:line: ...`). */
  static parse(text: string, file: string): Acl {
    const anonymous: Rule[] = [];
    const users = new Map<string, Rule[]>();
    const patterns: Rule[] = [];
    let current = anonymous;
    text.split(/\r?\n/).forEach((raw, index) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const where = `${file}:${index + 1}`;
      const [keyword, ...rest] = line.split(/\s+/);
      if (keyword === 'user') {
        const name = line.slice('user'.length).trim();
        if (name === '') throw new Error(`${where}: "user" needs a user name`);
        current = users.get(name) ?? [];
        users.set(name, current);
        return;
      }
      if (keyword !== 'topic' && keyword !== 'pattern') throw new Error(`${where}: unknown ACL keyword "${keyword}"`);
      const hasAccess = rest.length > 1 && ACCESS_WORDS.has(rest[0]!);
      const access = (hasAccess ? rest[0] : 'readwrite') as Access;
      const filter = (hasAccess ? rest.slice(1) : rest).join(' ');
      if (filter === '' || !isValidTopicFilter(filter)) throw new Error(`${where}: "${filter}" is not a valid topic filter`);
      const rule: Rule = { access, filter, pattern: keyword === 'pattern' };
      (keyword === 'pattern' ? patterns : current).push(rule);
    });
    return new Acl(anonymous, users, patterns);
  }

  /** May the client publish to this topic name (and set a will on it)? */
  canPublish(client: AclClient, topic: string): boolean {
    return this.decide(
      client,
      (rule, filter) => grants(rule.access, 'write') && topicMatchesFilter(filter, topic),
      (filter) => topicMatchesFilter(filter, topic),
    );
  }

  /** May the client receive a message published to this topic name? */
  canRead(client: AclClient, topic: string): boolean {
    return this.decide(
      client,
      (rule, filter) => grants(rule.access, 'read') && topicMatchesFilter(filter, topic),
      (filter) => topicMatchesFilter(filter, topic),
    );
  }

  /** May the client subscribe to this filter: does one read rule cover every topic it can match? */
  canSubscribe(client: AclClient, filter: string): boolean {
    return this.decide(
      client,
      (rule, f) => grants(rule.access, 'read') && filterCovers(f, filter),
      (f) => filterCovers(f, filter),
    );
  }

  private decide(client: AclClient, allows: (rule: Rule, filter: string) => boolean, denies: (filter: string) => boolean): boolean {
    const own = client.username === undefined ? this.anonymous : (this.users.get(client.username) ?? []);
    let allowed = false;
    for (const rule of [...own, ...this.patterns]) {
      const filter = rule.pattern ? substitute(rule.filter, client) : rule.filter;
      if (filter === undefined) continue;
      if (rule.access === 'deny') {
        if (denies(filter)) return false;
      } else if (!allowed && allows(rule, filter)) {
        allowed = true;
      }
    }
    return allowed;
  }
}

function grants(access: Access, wanted: 'read' | 'write'): boolean {
  return access === 'readwrite' || access === wanted;
}

/**
 * Fills `%c` and `%u` into a pattern; undefined when the pattern cannot apply: `%u` for a client without
 * a user name, or a value containing `+` or `#`, which would turn one client's topic into a wildcard.
 */
function substitute(filter: string, client: AclClient): string | undefined {
  if (filter.includes('%u') && client.username === undefined) return undefined;
  const values = [client.clientId, client.username ?? ''];
  if ((filter.includes('%c') && /[+#]/.test(values[0]!)) || (filter.includes('%u') && /[+#]/.test(values[1]!))) return undefined;
  return filter.replaceAll('%c', values[0]!).replaceAll('%u', values[1]!);
}

/** True when every topic matching `inner` also matches `outer` (both valid filters, `$` rule included). */
export function filterCovers(outer: string, inner: string): boolean {
  // [MQTT-4.7.2-1] a filter starting with a wildcard does not match topics starting with `$`.
  if ((outer.startsWith('+') || outer.startsWith('#')) && inner.startsWith('$')) return false;
  const o = outer.split('/');
  const i = inner.split('/');
  for (let n = 0; n < o.length; n++) {
    const level = o[n]!;
    if (level === '#') return true;
    const other = i[n];
    if (other === undefined) return false;
    if (other === '#') return false;
    if (level !== '+' && level !== other) return false;
  }
  return o.length === i.length;
}
