/** One object named by a manifest: an `s3://bucket/key` URI or an absolute local path. */
export interface ManifestRow {
  uri: string;
  size?: number;
  etag?: string;
}

/** Where the rows of a plan come from. */
export type ManifestSource =
  | { kind: 'inventory' | 'keylist'; uri: string; bucket?: string }
  | { kind: 'prefix'; uri: string };

export type ManifestRows = AsyncIterable<ManifestRow>;
