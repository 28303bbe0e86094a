import fs from 'node:fs';
import path from 'node:path';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { readBytes } from '../../src/storage/storage.js';
import { resultFiles } from '../../src/rundir/result-files.js';

/** Every result row of a run (compacted or staged), read back with hyparquet (independent of both writers). */
export async function readRunResults(run: string): Promise<{ rows: Record<string, unknown>[]; columns: string[] }> {
  const rows: Record<string, unknown>[] = [];
  let columns: string[] = [];
  for (const uri of await resultFiles(run)) {
    const buf = await readBytes(uri);
    const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
    columns = parquetSchema(parquetMetadata(file)).children.map((c) => c.element.name);
    rows.push(...((await parquetReadObjects({ file, compressors })) as Record<string, unknown>[]));
  }
  return { rows, columns };
}

export function localFiles(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort().map((f) => path.join(dir, f)) : [];
}

/** A model's column name in the results: `tags_mobilenetv2_12_int8` for ('tags', 'mobilenetv2-12-int8'). */
export const modelColumn = (kind: 'model' | 'tags' | 'embedding', model: string) => `${kind}_${model.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '')}`;
export const MOBILENET_TAGS = 'tags_mobilenetv2_12_int8';
export const MOBILENET_MODEL = 'model_mobilenetv2_12_int8';
