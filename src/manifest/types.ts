/** One object named by a manifest: an `s3://bucket/key` URI or an absolute local path. */
export interface ManifestRow {
  uri: string;
  size?: number;
  etag?: string;
  /** Prefix listings only: for --modified-after (never written into shard files). */
  modified?: Date;
}

/** Where the rows of a plan come from. */
export type ManifestSource =
  | { kind: 'inventory' | 'keylist'; uri: string; bucket?: string }
  | { kind: 'prefix'; uri: string };

/** Rows in pages (a data file's chunk, a listing page): per-row async steps would cost more than the rows' own work. */
export type ManifestRows = AsyncIterable<ManifestRow[]>;

/** Rows regrouped into pages of `size`. */
export async function* pages<T>(rows: AsyncIterable<T>, size = 1000): AsyncGenerator<T[]> {
  let page: T[] = [];
  for await (const row of rows) {
    page.push(row);
    if (page.length >= size) {
      yield page;
      page = [];
    }
  }
  if (page.length > 0) yield page;
}
