import fs from 'node:fs';
import path from 'node:path';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { readBytes, listObjects } from '../../src/storage/storage.js';
import { joinUri } from '../../src/storage/uri.js';

/** Every result row of a run, read back with hyparquet (independent of the parquet-wasm writer). */
export async function readRunResults(run: string): Promise<{ rows: Record<string, unknown>[]; columns: string[] }> {
  const rows: Record<string, unknown>[] = [];
  let columns: string[] = [];
  for await (const obj of listObjects(joinUri(run, 'results/'))) {
    const buf = await readBytes(obj.uri);
    const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
    columns = parquetSchema(parquetMetadata(file)).children.map((c) => c.element.name);
    rows.push(...((await parquetReadObjects({ file, compressors })) as Record<string, unknown>[]));
  }
  return { rows, columns };
}

export function localFiles(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort().map((f) => path.join(dir, f)) : [];
}
