import fs from 'node:fs';
import path from 'node:path';
import { isS3Uri } from '../storage/uri.js';
import { listFolders, listObjects } from '../storage/storage.js';
import { UserError } from '../errors.js';
import { readInventory } from './inventory.js';
import { readKeyList } from './keylist.js';
import { pages, type ManifestRows, type ManifestSource } from './types.js';

export { pages, type ManifestRow, type ManifestRows, type ManifestSource } from './types.js';

/** An S3 Inventory report is named manifest.json; anything else given as --manifest is a key list. */
export function manifestSource(opts: { manifest?: string; prefix?: string; bucket?: string }): ManifestSource {
  if ((opts.manifest === undefined) === (opts.prefix === undefined)) {
    throw new UserError('give exactly one of --manifest <uri> or --prefix (s3://bucket/prefix, or a local folder)');
  }
  if (opts.prefix !== undefined) {
    if (isS3Uri(opts.prefix)) return { kind: 'prefix', uri: opts.prefix };
    // A local folder, listed recursively like a prefix.
    const dir = path.resolve(opts.prefix);
    if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new UserError(`--prefix ${opts.prefix}: not a folder (give a folder of images, or s3://bucket/prefix)`);
    return { kind: 'prefix', uri: dir };
  }
  const uri = opts.manifest!;
  // A folder: an Inventory configuration's, whose newest dated manifest.json is read (see latestInventory).
  const kind = /(^|\/)manifest\.json$/i.test(uri) || uri.endsWith('/') ? 'inventory' : 'keylist';
  return { kind, uri, bucket: opts.bucket };
}

/** An Inventory configuration's folder with no report in it yet: S3 delivers the first within 48 hours. */
export class NoInventoryReport extends UserError {
  override name = 'NoInventoryReport';
}

/** Inventory writes each report under a folder named for its time: 2026-11-22T01-00Z/manifest.json. */
const DATED = /\/(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}Z)\/$/;

/**
 * `--manifest s3://dest/prefix/source-bucket/config-id/` (a folder) stands for the newest report
 * of that Inventory configuration, so a nightly schedule names the configuration once and reads a
 * new report every night. The folder's sub-folders are listed (one request per 1,000 reports),
 * never the data files. Any other source is returned as it is.
 */
export async function resolveManifest(source: ManifestSource): Promise<ManifestSource> {
  if (source.kind !== 'inventory' || !source.uri.endsWith('/')) return source;
  const dated = (await listFolders(source.uri)).filter((f) => DATED.test(f));
  if (dated.length === 0) {
    throw new NoInventoryReport(`${source.uri} has no dated Inventory reports (folders like 2026-11-22T01-00Z/): give the Inventory configuration's folder, or one manifest.json`);
  }
  return { ...source, uri: `${dated.at(-1)!}manifest.json` };
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
