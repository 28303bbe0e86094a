import type { DuckDBConnection } from '@duckdb/node-api';
import { errorMessage } from '../errors.js';
import { openDuckDb, restate, sqlFiles, sqlString, type Duck, type DuckSettings, type LocalCopy } from '../sql/duckdb.js';

export type MergeSettings = DuckSettings;

/** A staged file on local disk, where it came from, and the rows its commit marker promised. */
export interface LocalPart extends LocalCopy {
  rows: number;
}

/**
 * Merge Parquet files into one, rows sorted by key (then bucket), zstd, row groups of `rowGroupRows`.
 * DuckDB sorts out of core within its memory limit, so a group of any size merges in bounded memory.
 * Every file's footer and row count is checked against its commit marker first, so a damaged staged
 * file stops the merge with its name before anything is written.
 */
export class ParquetMerger {
  private readonly conn: DuckDBConnection;

  private constructor(private readonly duck: Duck) {
    this.conn = duck.conn;
  }

  static async open(s: MergeSettings): Promise<ParquetMerger> {
    return new ParquetMerger(await openDuckDb(s));
  }

  /**
   * Footers readable and row counts as the markers say; throws naming the first file that is not.
   * Returns the files' uncompressed bytes (from their footers), which is what a row group of a
   * given size holds in a writer's memory.
   */
  async check(parts: LocalPart[]): Promise<number> {
    let uncompressed = 0;
    for (const p of parts) {
      let rows: number;
      try {
        // One footer read per file: rows from the row groups, bytes from their column chunks.
        const r = await this.conn.runAndReadAll(
          `SELECT coalesce(sum(group_rows), 0), coalesce(sum(total_uncompressed_size), 0) FROM (SELECT total_uncompressed_size, ` +
            `CASE WHEN column_id = 0 THEN row_group_num_rows ELSE 0 END AS group_rows FROM parquet_metadata(${sqlString(p.file)}))`,
        );
        const [n, bytes] = r.getRows()[0]!;
        rows = Number(n);
        uncompressed += Number(bytes);
      } catch (e) {
        throw new Error(`${p.uri} is damaged (${restate(errorMessage(e), [p])})`);
      }
      if (rows !== p.rows) throw new Error(`${p.uri} has ${rows} rows where its commit marker says ${p.rows}`);
    }
    return uncompressed;
  }

  /** Returns the rows written. */
  async merge(parts: LocalPart[], out: string, rowGroupRows: number): Promise<number> {
    try {
      const r = await this.conn.runAndReadAll(
        `COPY (SELECT * FROM read_parquet(${sqlFiles(parts)}, union_by_name = true) ORDER BY key, bucket, etag) ` +
          `TO ${sqlString(out)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${Math.max(2048, Math.round(rowGroupRows))})`,
      );
      return Number(r.getRows()[0]![0]);
    } catch (e) {
      throw new Error(restate(errorMessage(e), parts));
    }
  }

  close(): void {
    this.duck.close();
  }
}
