import { once } from 'node:events';
import fs from 'node:fs';
import { createGzip } from 'node:zlib';

/** How keys look: `mixed` (1 in 10 needs URL-decoding), `plain` (none), `encoded` (every one: a space, an accent, brackets). */
export type KeyStyle = 'mixed' | 'plain' | 'encoded';

/** The fields a configuration has: `full` (every optional field, long lines) or `short` (size, date, ETag, class). */
export type FieldSet = 'full' | 'short';

export const SHORT_INVENTORY_FIELDS = 'Bucket, Key, Size, LastModifiedDate, ETag, StorageClass';

/** The full optional field set, in the order S3 writes it; most buckets leave several of them empty. */
export const INVENTORY_FIELDS = 'Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass, IsMultipartUploaded, ReplicationStatus, EncryptionStatus, ObjectLockRetainUntilDate, ObjectLockMode, ObjectLockLegalHoldStatus, IntelligentTieringAccessTier, BucketKeyStatus, ChecksumAlgorithm, ObjectAccessControlList, ObjectOwner';
const OWNER = '79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be';
const ACL = Buffer.from(JSON.stringify({ version: '2022-11-20', status: 'AVAILABLE', grants: [{ permission: 'FULL_CONTROL', granteeType: 'CANONICAL_USER', canonicalId: OWNER }] })).toString('base64');
const hex = (x: number) => (x >>> 0).toString(16).padStart(8, '0');
/** A cheap integer hash, so ETags, dates and paths look as varied as real ones and compress as badly. */
function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Object number k of a generated bucket: its key as the Inventory writes it (URL-encoded), size and ETag. */
export function inventoryObject(k: number, keys: KeyStyle = 'mixed'): { key: string; size: number; etag: string; h: [number, number, number, number] } {
  const h = mix(k + 1);
  const h2 = mix(h);
  const h3 = mix(h2);
  const h4 = mix(h3);
  const ext = ['jpg', 'png', 'JPEG', 'webp', 'json'][k % 5];
  const encoded = keys === 'encoded' || (keys === 'mixed' && k % 10 === 0);
  // As S3 writes a user's upload "Été 2024 [copy]/IMG 12+3.jpg": spaces as +, the rest %XX.
  const key = encoded ? `photos/${h % 997}/%C3%89t%C3%A9+${hex(h2)}+%5Bcopy%5D/IMG+${k}%2B3.${ext}` : `photos/${h % 997}/${hex(h2)}/IMG_${k}.${ext}`;
  return { key, size: 20_000 + (h3 % 5_000_000), etag: hex(h) + hex(h2) + hex(h3) + hex(h4), h: [h, h2, h3, h4] };
}

/** One Inventory line as S3 writes it: every field quoted, empty ones as "", keys URL-encoded (1 in 10 needs decoding); 4 in 5 are images. */
export function inventoryLine(bucket: string, k: number, keys: KeyStyle = 'mixed', fieldSet: FieldSet = 'full'): string {
  const { key, size, etag, h: [h, h2, h3, h4] } = inventoryObject(k, keys);
  const date = `2026-${String(1 + (h % 11)).padStart(2, '0')}-${String(1 + (h2 % 28)).padStart(2, '0')}T${String(h3 % 24).padStart(2, '0')}:${String(h4 % 60).padStart(2, '0')}:00.000Z`;
  const storageClass = h % 7 ? 'STANDARD' : 'INTELLIGENT_TIERING';
  const fields =
    fieldSet === 'short'
      ? [bucket, key, String(size), date, etag, storageClass]
      : [bucket, key, '', 'true', 'false', String(size), date, etag, storageClass, h % 3 ? 'false' : 'true', '', 'SSE-S3', '', '', '', '', 'DISABLED', '', ACL, OWNER];
  return `"${fields.join('","')}"\n`;
}

/** An Inventory CSV.gz data file of `count` rows, numbered from `first`. */
export async function writeInventoryCsvGz(file: string, bucket: string, first: number, count: number, keys: KeyStyle = 'mixed', fieldSet: FieldSet = 'full'): Promise<void> {
  const gz = createGzip();
  const out = fs.createWriteStream(file);
  gz.pipe(out);
  for (let start = 0; start < count; start += 10_000) {
    let chunk = '';
    for (let j = start; j < Math.min(count, start + 10_000); j++) chunk += inventoryLine(bucket, first + j, keys, fieldSet);
    if (!gz.write(chunk)) await once(gz, 'drain');
  }
  gz.end();
  await once(out, 'close');
}
