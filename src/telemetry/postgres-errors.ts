/** Error fields node-postgres and Node's sockets set. */
type PgError = Error & { code?: string; address?: string; port?: number };

/** SQLSTATEs of a server that is going away or not there yet (class 08 is handled by prefix). */
const TRANSIENT_STATES = new Set(['57P01', '57P02', '57P03', '53300', '40001', '40P01']);
const TRANSIENT_SOCKET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * True when the database is (briefly) unreachable rather than refusing the statement: the write is
 * worth trying again. Wrong data or a broken schema is not retried.
 */
export function isTransient(error: unknown): boolean {
  const e = error as PgError;
  if (e.code && (TRANSIENT_STATES.has(e.code) || TRANSIENT_SOCKET.has(e.code) || e.code.startsWith('08'))) return true;
  return /Connection terminated|connection error|timeout exceeded when trying to connect|Client was closed|not queryable/i.test(
    e.message ?? '',
  );
}

/** `postgresql://user@host:port/db` without the password, for messages and /api/stats. */
export function redactUrl(location: string): string {
  try {
    const url = new URL(location);
    if (url.password) url.password = '';
    return url.toString().replace(/:@/, '@');
  } catch {
    return 'postgresql://(unparsable URL)';
  }
}

/** One line saying why connecting to the database failed, and what to do. */
export function describeConnectError(error: unknown, location: string): string {
  const e = error as PgError;
  let where = location;
  let user = 'postgres';
  let database = '';
  try {
    const url = new URL(location);
    where = `${url.hostname}:${url.port || 5432}`;
    user = decodeURIComponent(url.username) || user;
    database = decodeURIComponent(url.pathname.slice(1)) || user;
  } catch {
    return `--store ${redactUrl(location)} is not a valid postgresql:// URL`;
  }
  switch (e.code) {
    case 'ECONNREFUSED':
      return `cannot reach PostgreSQL at ${where} (connection refused): is it running, on this port?`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot reach PostgreSQL at ${where}: unknown host`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
      return `cannot reach PostgreSQL at ${where}: no answer`;
    case '28P01':
    case '28000':
      return `PostgreSQL at ${where} refused the credentials of user "${user}": check user and password in the --store URL`;
    case '3D000':
      return `PostgreSQL at ${where} has no database "${database}": create it (createdb ${database}) or name another in the --store URL`;
    case '57P03':
      return `PostgreSQL at ${where} is starting up or shutting down: try again in a moment`;
  }
  if (/timeout exceeded when trying to connect/i.test(e.message)) return `cannot reach PostgreSQL at ${where}: no answer within 5 s`;
  if (/password/i.test(e.message))
    return `PostgreSQL at ${where} asks for a password: put it in the --store URL (postgresql://user:password@host/db)`;
  return `PostgreSQL at ${where}: ${e.message}`;
}
