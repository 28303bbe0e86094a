import type { Readable } from 'node:stream';
import { readStream } from '../storage/storage.js';
import { inflated, lineChunks } from './line-chunks.js';

/** A byte stream of a manifest file, gunzipped when its name ends in .gz. */
export async function openManifestStream(uri: string): Promise<Readable> {
  return inflated(await readStream(uri), uri);
}

/** A manifest file's bytes (gunzipped) in chunks of whole lines. */
export async function* manifestChunks(uri: string): AsyncGenerator<Buffer> {
  yield* lineChunks(await readStream(uri), uri);
}
