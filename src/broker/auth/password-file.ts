import { createHash, pbkdf2Sync, timingSafeEqual } from 'node:crypto';

/** A password hash as `mosquitto_passwd` writes it: `$6$salt$hash` or `$7$iterations$salt$hash` (base64). */
type PasswordHash =
  | { readonly kind: 'sha512'; readonly salt: Buffer; readonly hash: Buffer }
  | { readonly kind: 'sha512-pbkdf2'; readonly iterations: number; readonly salt: Buffer; readonly hash: Buffer };

/** Upper bound on PBKDF2 iterations read from a file, so a bad line cannot stall every CONNECT. */
const MAX_ITERATIONS = 10_000_000;

/**
 * A Mosquitto password file (`password_file`): one `user:hash` per line, as written by
 * `mosquitto_passwd`. `$6$` is SHA-512 over password then salt; `$7$` is PBKDF2-HMAC-SHA512, 64 bytes.
 */
export class PasswordFile {
  private constructor(private readonly users: ReadonlyMap<string, PasswordHash>) {}

  /** Parses the file's text; `file` names it in errors (`file:line: ...`). */
  static parse(text: string, file: string): PasswordFile {
    const users = new Map<string, PasswordHash>();
    text.split(/\r?\n/).forEach((raw, index) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const where = `${file}:${index + 1}`;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error(`${where}: expected "username:hash"`);
      const username = line.slice(0, colon);
      users.set(username, parseHash(line.slice(colon + 1), `${where}: user "${username}"`));
    });
    return new PasswordFile(users);
  }

  /** Number of users in the file. */
  get size(): number {
    return this.users.size;
  }

  /** True when the user is in the file and the password matches its hash. */
  check(username: string, password: Buffer | undefined): boolean {
    const entry = this.users.get(username);
    if (!entry || password === undefined) return false;
    const computed =
      entry.kind === 'sha512'
        ? createHash('sha512').update(password).update(entry.salt).digest()
        : pbkdf2Sync(password, entry.salt, entry.iterations, entry.hash.length, 'sha512');
    return computed.length === entry.hash.length && timingSafeEqual(computed, entry.hash);
  }
}

function parseHash(text: string, where: string): PasswordHash {
  const parts = text.split('$');
  const base64 = (s: string | undefined, what: string): Buffer => {
    if (!s || !/^[A-Za-z0-9+/]+=*$/.test(s)) throw new Error(`${where}: ${what} is not base64`);
    return Buffer.from(s, 'base64');
  };
  if (parts[0] === '' && parts[1] === '6' && parts.length === 4) {
    return { kind: 'sha512', salt: base64(parts[2], 'salt'), hash: base64(parts[3], 'hash') };
  }
  if (parts[0] === '' && parts[1] === '7' && parts.length === 5) {
    const iterations = Number(parts[2]);
    if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS)
      throw new Error(`${where}: bad iteration count "${parts[2]}"`);
    return { kind: 'sha512-pbkdf2', iterations, salt: base64(parts[3], 'salt'), hash: base64(parts[4], 'hash') };
  }
  throw new Error(`${where}: not a $6$ or $7$ hash (plain-text files must be hashed first: mosquitto_passwd -U file)`);
}
