import { DuckDBInstance } from '@duckdb/node-api';

/** Rows of one query in DuckDB, as JSON values (BIGINT as strings): the reader a user would point at the dataset. */
export async function duckdb(sql: string): Promise<Record<string, unknown>[]> {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}
