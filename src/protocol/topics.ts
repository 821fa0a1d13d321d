/** Topic names, topic filters and `$share` parsing (MQTT 5.0 §4.7, §4.8.2). */

const SHARE_PREFIX = '$share/';

/** A topic filter split into its shared-subscription group (if any) and the filter proper. */
export interface ParsedFilter {
  /** The filter as the client sent it, e.g. `$share/workers/jobs/#`. */
  raw: string;
  /** The filter that topics are matched against, e.g. `jobs/#`. */
  filter: string;
  /** The share name for `$share/<group>/<filter>`, otherwise undefined. */
  group?: string;
}

/** True when a topic name is valid for PUBLISH: non-empty, no wildcards, no NUL [MQTT-3.3.2-2], [MQTT-4.7.3-1], [MQTT-4.7.3-2]. */
export function isValidTopicName(topic: string): boolean {
  if (topic.length === 0 || topic.length > 65535) return false;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0x2b /* + */ || c === 0x23 /* # */ || c === 0) return false;
  }
  return true;
}

/** True when a topic filter (without `$share/`) is well formed [MQTT-4.7.1-1], [MQTT-4.7.1-2]. */
export function isValidTopicFilter(filter: string): boolean {
  if (filter.length === 0 || filter.length > 65535 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes('#')) {
      // '#' must be the whole last level [MQTT-4.7.1-1].
      if (level !== '#' || i !== levels.length - 1) return false;
    } else if (level.includes('+') && level !== '+') {
      // '+' must occupy a whole level [MQTT-4.7.1-2].
      return false;
    }
  }
  return true;
}

/**
 * Parses a SUBSCRIBE/UNSUBSCRIBE topic filter, recognising `$share/<group>/<filter>`.
 * Returns undefined when the filter is not valid.
 */
export function parseTopicFilter(raw: string): ParsedFilter | undefined {
  if (raw.startsWith(SHARE_PREFIX)) {
    const rest = raw.slice(SHARE_PREFIX.length);
    const slash = rest.indexOf('/');
    if (slash <= 0) return undefined;
    const group = rest.slice(0, slash);
    const filter = rest.slice(slash + 1);
    // [MQTT-4.8.2-1] the ShareName must not contain '/', '+' or '#' and must be at least one character.
    if (group.includes('+') || group.includes('#')) return undefined;
    // [MQTT-4.8.2-2] the filter after the ShareName must be a valid, non-empty filter.
    if (!isValidTopicFilter(filter)) return undefined;
    return { raw, filter, group };
  }
  if (!isValidTopicFilter(raw)) return undefined;
  return { raw, filter: raw };
}

/** True when `topic` matches `filter`, including the `$` rule [MQTT-4.7.2-1]. */
export function topicMatchesFilter(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Levels of a topic name or filter: one more than its `/` separators (`a//b` has 3, MQTT 5.0 §4.7.1.1). */
export function topicLevelCount(topic: string): number {
  let levels = 1;
  for (let i = topic.indexOf('/'); i !== -1; i = topic.indexOf('/', i + 1)) levels++;
  return levels;
}
