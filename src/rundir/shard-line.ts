import type { ManifestRow } from '../manifest/types.js';

/** Characters JSON.stringify would escape: most URIs and ETags have none and are quoted as they are. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u2028\u2029\ud800-\udfff]/;
const jsonString = (s: string) => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`);

/**
 * One row per line, fields in a fixed order, so the same rows always give the same bytes. `size` is
 * a decimal byte count as text; an empty size or ETag is left out.
 */
export function encodeShardLine(uri: string, size: string, etag: string): string {
  return `{"uri":${jsonString(uri)}${size === '' ? '' : `,"size":${size}`}${etag === '' ? '' : `,"etag":${jsonString(etag)}`}}\n`;
}

export function encodeShardRow(row: ManifestRow): string {
  return encodeShardLine(row.uri, row.size === undefined ? '' : JSON.stringify(row.size), row.etag ?? '');
}

/** A shard line back into its row (the plan's filters read Inventory parts this way). */
export function decodeShardLine(line: string): ManifestRow {
  const row = JSON.parse(line) as { uri: string; size?: number; etag?: string };
  return { uri: row.uri, ...(row.size !== undefined ? { size: row.size } : {}), ...(row.etag !== undefined ? { etag: row.etag } : {}) };
}
