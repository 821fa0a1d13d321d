import pg from 'pg';
import { findPostgresBin, startPostgresProcess, type PostgresProcess } from '../../src/util/index.js';

/** Why PostgreSQL tests are skipped on this machine, or false when they run. */
export const postgresSkip: string | false = findPostgresBin() ? false : 'PostgreSQL is not installed (apt-get install postgresql)';

/** A PostgreSQL for one test file, handing out a fresh database per test. */
export interface TestPostgres {
  readonly server: PostgresProcess;
  /** Creates an empty database and returns its URL. */
  freshDatabase(): Promise<string>;
  close(): Promise<void>;
}

/** Starts a throw-away PostgreSQL (fsync off: tests do not survive power cuts, they run fast). */
export async function startTestPostgres(): Promise<TestPostgres> {
  const server = await startPostgresProcess({ unsafeFast: true });
  let n = 0;
  return {
    server,
    freshDatabase: async () => {
      const name = `t${++n}`;
      const admin = new pg.Client(server.url);
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return server.url.replace(/\/postgres$/, `/${name}`);
    },
    close: () => server.close(),
  };
}

/** Runs one SQL statement on a database and returns its rows (for tests that look at the tables). */
export async function queryRows<T = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}
