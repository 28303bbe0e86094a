import { isS3Uri } from '../storage/uri.js';
import { listObjects } from '../storage/storage.js';
import { UserError } from '../errors.js';
import { readInventory } from './inventory.js';
import { readKeyList } from './keylist.js';
import { pages, type ManifestRows, type ManifestSource } from './types.js';

export { pages, type ManifestRow, type ManifestRows, type ManifestSource } from './types.js';

/** An S3 Inventory report is named manifest.json; anything else given as --manifest is a key list. */
export function manifestSource(opts: { manifest?: string; prefix?: string; bucket?: string }): ManifestSource {
  if ((opts.manifest === undefined) === (opts.prefix === undefined)) {
    throw new UserError('give exactly one of --manifest <uri> or --prefix s3://bucket/prefix');
  }
  if (opts.prefix !== undefined) {
    if (!isS3Uri(opts.prefix)) throw new UserError(`--prefix must be an s3:// URI, got "${opts.prefix}"`);
    return { kind: 'prefix', uri: opts.prefix };
  }
  const uri = opts.manifest!;
  const kind = /(^|\/)manifest\.json$/i.test(uri) ? 'inventory' : 'keylist';
  return { kind, uri, bucket: opts.bucket };
}

/** Stream the rows of any manifest kind; nothing here holds more than one data file's page in memory. */
export function readManifest(source: ManifestSource, pageSize?: number): ManifestRows {
  switch (source.kind) {
    case 'inventory':
      return readInventory(source.uri);
    case 'keylist':
      return pages(readKeyList(source.uri, source.bucket));
    case 'prefix':
      return pages(listObjects(source.uri, pageSize), pageSize);
  }
}
