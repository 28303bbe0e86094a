import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { settings } from '../settings.js';

/** How DuckDB may use this machine: memory beyond the limit spills to `tempDir`. */
export interface DuckSettings {
  memoryLimitMb: number;
  threads: number;
  tempDir: string;
  /** Keep the input order where a query has no ORDER BY (the cheaper default is to drop it). */
  keepOrder?: boolean;
  /** A database file, so tables larger than memory live on disk (default: in memory). */
  database?: string;
}

/** A local file standing in for an object: DuckDB reads the file, messages name the object. */
export interface LocalCopy {
  file: string;
  uri: string;
}

export const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;
export const sqlFiles = (parts: LocalCopy[]) => `[${parts.map((p) => sqlString(p.file)).join(', ')}]`;
export const sqlName = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** DuckDB's messages name local temp files: say which object it was instead. */
export function restate(message: string, parts: LocalCopy[]): string {
  let out = message.replace(/\s+/g, ' ').trim();
  for (const p of parts) out = out.split(p.file).join(p.uri);
  return out;
}

export interface Duck {
  conn: DuckDBConnection;
  close(): void;
}

/** Loaded on first use: a plan without a join, or a run, never maps DuckDB's library. */
export async function openDuckDb(s: DuckSettings): Promise<Duck> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(s.database ?? ':memory:', {
    memory_limit: `${s.memoryLimitMb}MB`,
    threads: String(s.threads),
    temp_directory: path.join(s.tempDir, 'duckdb-spill'),
    // ORDER BY still orders the output; this only lets the writer skip buffering for input order.
    preserve_insertion_order: s.keepOrder ? 'true' : 'false',
    // Nothing is fetched at run time: the fleet and these machines may have no route to extension hosts.
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const conn = await db.connect();
  if (settings().debugSql) {
    // Each statement's time and the memory DuckDB holds after it, on stderr.
    const run = conn.runAndReadAll.bind(conn);
    conn.runAndReadAll = (async (sql: string) => {
      const t = performance.now();
      const out = await run(sql);
      process.stderr.write(`${((performance.now() - t) / 1000).toFixed(2)} s, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB: ${sql.slice(0, 120)}\n`);
      return out;
    }) as typeof conn.runAndReadAll;
  }
  return {
    conn,
    close() {
      conn.closeSync();
      db.closeSync();
    },
  };
}
