import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { readStream } from '../storage/storage.js';

/** A byte stream of a manifest file, gunzipped when its name ends in .gz. */
export async function openManifestStream(uri: string): Promise<Readable> {
  const raw = await readStream(uri);
  return /\.gz$/i.test(uri) ? raw.pipe(createGunzip()) : raw;
}
