import fs from 'node:fs';
import { isS3Uri } from '../storage/uri.js';
import { readKeyList } from './keylist.js';
import type { ManifestSource } from './types.js';

/**
 * A local key list's entries without --bucket are paths beside the list: a list of S3 keys read so
 * would plan a run of files that are not there. Said before planning, from its first entry alone
 * (not a stat per row); undefined when that entry is an s3:// URI or a file that exists.
 */
export async function bareKeysWarning(source: ManifestSource): Promise<string | undefined> {
  if (source.kind !== 'keylist' || source.bucket !== undefined || isS3Uri(source.uri)) return undefined;
  const rows = readKeyList(source.uri);
  try {
    const first = (await rows.next()).value?.uri;
    if (first === undefined || isS3Uri(first) || fs.existsSync(first)) return undefined;
    return `the first entry of ${source.uri} is read as the local path ${first}, which is not there: if the list holds S3 keys, give --bucket BUCKET`;
  } finally {
    await rows.return(undefined);
  }
}
