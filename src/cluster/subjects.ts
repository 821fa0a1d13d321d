import { createHash } from 'node:crypto';

/**
 * MQTT topics and filters as NATS subjects and key-value keys (docs/cluster.md, "Subject mapping").
 *
 * A topic level becomes one NATS token. NATS tokens cannot be empty and treat '.', '*', '>' and white
 * space specially; KV keys allow only [-/_=.A-Za-z0-9]. So a level keeps [-_A-Za-z0-9] as they are and
 * every other byte of its UTF-8 form becomes `=XX` (upper-case hex); an empty level is the lone token `=`
 * (an escape always has two hex digits, so it cannot be confused). The mapping is one-to-one, valid both
 * as subject tokens and as KV key tokens, and keeps the level structure, so MQTT wildcards map onto NATS
 * wildcards: `+` onto `*`, `#` onto `>`.
 *
 * [MQTT-4.7.2-1] a filter starting with a wildcard must not match topics starting with `$`: such topics
 * live under their own token (`D`, others under `T`), so `#` → `T.>` never reaches `$SYS/...`.
 */

/** The first token under a prefix: topics starting with `$`, and all others. */
const DOLLAR = 'D';
const PLAIN = 'T';

const SAFE = /^[-_A-Za-z0-9]+$/;

/** One topic level as a NATS token (see the module comment). */
export function encodeLevel(level: string): string {
  if (level === '') return '=';
  if (SAFE.test(level)) return level;
  let out = '';
  for (const byte of Buffer.from(level, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += byte < 0x80 && /[-_A-Za-z0-9]/.test(c) ? c : `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The level a token stands for (inverse of encodeLevel). */
export function decodeLevel(token: string): string {
  if (token === '=') return '';
  if (!token.includes('=')) return token;
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    if (token[i] === '=') {
      bytes.push(parseInt(token.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(token.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** A topic name as dot-separated tokens, valid as a subject tail and as a KV key: `a/b` → `T.a.b`. */
export function topicTokens(topic: string): string {
  return `${topic.startsWith('$') ? DOLLAR : PLAIN}.${topic.split('/').map(encodeLevel).join('.')}`;
}

/** The topic that tokens stand for (inverse of topicTokens). */
export function tokensTopic(tokens: string): string {
  return tokens.slice(2).split('.').map(decodeLevel).join('/');
}

/** The subject of a topic name under `prefix`, e.g. `mqttlab.q0` + `a/b` → `mqttlab.q0.T.a.b`. */
export function topicSubject(prefix: string, topic: string): string {
  return `${prefix}.${topicTokens(topic)}`;
}

/** The topic a subject under `prefix` stands for (inverse of topicSubject). */
export function subjectTopic(prefix: string, subject: string): string {
  return tokensTopic(subject.slice(prefix.length + 1));
}

/** Longest key made of one encoded level; longer ones are replaced by a digest. */
const MAX_KEY_TOKEN = 200;

/** A client id (or node name) as one KV key token; a very long one by its SHA-256. */
export function idToken(id: string): string {
  const token = encodeLevel(id);
  return token.length <= MAX_KEY_TOKEN ? token : `h-${createHash('sha256').update(id).digest('hex')}`;
}

/**
 * The subjects (with NATS wildcards) that together match what an MQTT filter matches, under `prefix`.
 * `a/#` also matches `a` itself [MQTT-4.7.1-2], which NATS `a.>` does not: it maps to `a` and `a.>`.
 * A topic matches at most one of the returned subjects.
 */
export function filterSubjects(prefix: string, filter: string): string[] {
  const levels = filter.split('/');
  const first = levels[0]!;
  // A filter starting with a wildcard covers plain topics only; a literal first level decides the branch.
  const branch = first.startsWith('$') ? DOLLAR : PLAIN;
  const tokens = levels.map((level) => (level === '+' ? '*' : level === '#' ? '>' : encodeLevel(level)));
  const subject = `${prefix}.${branch}.${tokens.join('.')}`;
  if (levels.length > 1 && levels[levels.length - 1] === '#') {
    return [`${prefix}.${branch}.${tokens.slice(0, -1).join('.')}`, subject];
  }
  return [subject];
}
