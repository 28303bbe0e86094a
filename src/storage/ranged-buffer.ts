import type { AsyncBuffer } from 'hyparquet';
import { readBytes, statObject } from './storage.js';

/** A Parquet object read by ranged GETs (or file reads), so only the column chunks asked for are in memory. */
export async function rangedBuffer(uri: string): Promise<AsyncBuffer> {
  const { size } = await statObject(uri);
  return {
    byteLength: size ?? 0,
    async slice(start: number, end?: number) {
      const buf = await readBytes(uri, { start, end: end ?? size ?? 0 });
      return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
    },
  };
}
