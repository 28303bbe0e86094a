import { UserError } from '../errors.js';
import type { ManifestRow } from './types.js';
import { isS3Uri, joinUri, parseUri, s3Uri } from '../storage/uri.js';

/** How bare entries of a key list are resolved: a key in a bucket, or a path beside the list. */
export interface Resolver {
  bucket?: string;
  baseDir: string;
}

/** Turn one key-list entry (s3:// URI, bare key or local path) into a row's URI. */
export function resolveEntry(entry: string, resolver: Resolver): string {
  if (isS3Uri(entry)) {
    parseUri(entry);
    return entry;
  }
  if (resolver.bucket !== undefined) return s3Uri(resolver.bucket, entry);
  if (isS3Uri(resolver.baseDir)) {
    const { bucket } = parseUri(resolver.baseDir) as { bucket: string };
    return s3Uri(bucket, entry);
  }
  return entry.startsWith('/') ? entry : joinUri(resolver.baseDir, entry);
}

function optionalNumber(v: unknown, where: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UserError(`${where}: size "${String(v)}" is not a byte count`);
  return n;
}

function optionalString(v: unknown): string | undefined {
  return v === undefined || v === null || v === '' ? undefined : String(v).replace(/^"+|"+$/g, '');
}

/** A record from a CSV or JSONL key list, with the usual column names. */
export function rowFromRecord(rec: Record<string, unknown>, resolver: Resolver, where: string): ManifestRow {
  const entry = rec.uri ?? rec.url ?? rec.path ?? rec.key ?? rec.Key;
  if (typeof entry !== 'string' || entry === '') {
    throw new UserError(`${where}: needs a "uri", "path" or "key" field`);
  }
  const bucket = optionalString(rec.bucket ?? rec.Bucket);
  const uri = bucket !== undefined && !isS3Uri(entry) ? s3Uri(bucket, entry) : resolveEntry(entry, resolver);
  return { uri, size: optionalNumber(rec.size ?? rec.Size, where), etag: optionalString(rec.etag ?? rec.ETag ?? rec.e_tag) };
}
