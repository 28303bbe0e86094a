import readline from 'node:readline';
import { parse } from 'csv-parse';
import { UserError } from '../errors.js';
import { dirnameUri } from '../storage/uri.js';
import { readError } from './line-chunks.js';
import { openManifestStream } from './lines.js';
import { resolveEntry, rowFromRecord, type Resolver } from './row-fields.js';
import type { ManifestRow } from './types.js';

export type KeyListFormat = 'txt' | 'csv' | 'jsonl';

export function keyListFormat(uri: string): KeyListFormat {
  const name = uri.toLowerCase().replace(/\.gz$/, '');
  if (name.endsWith('.csv')) return 'csv';
  if (name.endsWith('.jsonl') || name.endsWith('.ndjson')) return 'jsonl';
  return 'txt';
}

/** Stream a key list: one entry per line (txt), CSV with a header row, or JSON Lines. */
export async function* readKeyList(uri: string, bucket?: string): AsyncGenerator<ManifestRow> {
  try {
    yield* keyListRows(uri, bucket);
  } catch (e) {
    throw readError(uri, e);
  }
}

async function* keyListRows(uri: string, bucket?: string): AsyncGenerator<ManifestRow> {
  const resolver: Resolver = { bucket, baseDir: dirnameUri(uri) };
  const input = await openManifestStream(uri);
  const format = keyListFormat(uri);
  if (format === 'csv') {
    let line = 1;
    for await (const rec of input.pipe(parse({ columns: true, skip_empty_lines: true, trim: true, bom: true }))) {
      line += 1;
      yield rowFromRecord(rec as Record<string, unknown>, resolver, `${uri} line ${line}`);
    }
    return;
  }
  let line = 0;
  for await (const raw of readline.createInterface({ input, crlfDelay: Infinity })) {
    line += 1;
    const text = format === 'txt' ? raw.replace(/\r$/, '') : raw.trim();
    if (text.trim() === '' || text.startsWith('#')) continue;
    if (format === 'txt') {
      // The line is the key: S3 keys may begin or end with spaces.
      yield { uri: resolveEntry(text, resolver) };
      continue;
    }
    let rec: unknown;
    try {
      rec = JSON.parse(text);
    } catch {
      throw new UserError(`${uri} line ${line}: not valid JSON`);
    }
    if (typeof rec === 'string') yield { uri: resolveEntry(rec, resolver) };
    else if (rec && typeof rec === 'object') yield rowFromRecord(rec as Record<string, unknown>, resolver, `${uri} line ${line}`);
    else throw new UserError(`${uri} line ${line}: expected an object or a string`);
  }
}
