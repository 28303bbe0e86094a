import type { Readable } from 'node:stream';
import { createGunzip, type ZlibOptions } from 'node:zlib';
import { StoreError, StoreUserError, UserError, errorMessage } from '../errors.js';

/** Inflate in 1 MiB steps: at zlib's default 16 KiB, per-chunk overhead costs 4x the inflating. */
const CHUNK = 1 << 20;

/** A manifest file's bytes, gunzipped when its name ends in .gz. */
export function inflated(raw: Readable, uri: string): Readable {
  if (!/\.gz$/i.test(uri)) return raw;
  // Room for a few chunks, so inflating the next one (on the thread pool) overlaps parsing this one.
  const gunzip = createGunzip({ chunkSize: CHUNK, readableHighWaterMark: 4 * CHUNK } as ZlibOptions);
  raw.on('error', (e) => gunzip.destroy(e));
  return raw.pipe(gunzip);
}

/** zlib's words for a cut or damaged file, said in the user's terms. */
export function readError(uri: string, e: unknown): unknown {
  // The store's own errors already say what went wrong (and may contain "invalid", as a host name can).
  if (e instanceof StoreError || e instanceof StoreUserError) return e;
  const code = (e as { code?: string }).code;
  if (code === 'Z_BUF_ERROR' || code === 'Z_DATA_ERROR' || /unexpected end of file|incorrect header check|invalid/.test(errorMessage(e))) {
    return new UserError(`${uri} is truncated or is not valid gzip (${errorMessage(e)}): nothing was planned from it`);
  }
  // csv-parse's errors (CSV_*) say where in the file, not which file.
  if (typeof code === 'string' && code.startsWith('CSV_')) return new UserError(`${uri}: ${errorMessage(e)}: nothing was planned from it`);
  return e;
}

/**
 * Byte chunks regrouped to end at a line end (the last one may not): the bulk of each chunk is
 * passed on as a view of it; only the line that spans two chunks is copied.
 */
export async function* wholeLineBuffers(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let rest: Buffer | undefined;
  for await (const chunk of chunks) {
    const first = chunk.indexOf(10);
    if (first < 0) {
      rest = rest === undefined ? Buffer.from(chunk) : Buffer.concat([rest, chunk]);
      continue;
    }
    const last = chunk.lastIndexOf(10);
    yield rest === undefined ? chunk.subarray(0, first + 1) : Buffer.concat([rest, chunk.subarray(0, first + 1)]);
    if (last > first) yield chunk.subarray(first + 1, last + 1);
    rest = last + 1 < chunk.length ? Buffer.from(chunk.subarray(last + 1)) : undefined;
  }
  if (rest !== undefined) yield rest;
}

/** A manifest file's bytes (gunzipped) in chunks of whole lines; `uri` names it, and says whether it is gzip. */
export async function* lineChunks(raw: Readable, uri: string): AsyncGenerator<Buffer> {
  try {
    yield* wholeLineBuffers(inflated(raw, uri) as AsyncIterable<Buffer>);
  } catch (e) {
    throw readError(uri, e);
  }
}
