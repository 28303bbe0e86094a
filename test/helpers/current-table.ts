import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { downloadFile, listObjects, readText } from '../../src/storage/storage.js';
import { duckdb } from './duckdb.js';

/** The bucket as it is: every live key under img/ and its ETag. */
export async function truth(bucket: string): Promise<Map<string, string>> {
  const live = new Map<string, string>();
  for await (const o of listObjects(`s3://${bucket}/img/`)) live.set(o.uri.slice(`s3://${bucket}/`.length), o.etag!);
  return live;
}

/**
 * The current table as a reader reads it: the files of the version current.json names, all in its
 * folder. current/ holds Parquet only, of that version and at most the one before.
 */
export async function currentTable(root: string): Promise<Record<string, unknown>[]> {
  const table = JSON.parse(await readText(`${root}/current.json`)) as { location: string; files: { uri: string }[]; previous?: { files: { uri: string }[] } };
  assert.ok(table.files.every((f) => f.uri.startsWith(table.location)), 'every file in the version\'s folder');
  const known = new Set([...table.files, ...(table.previous?.files ?? [])].map((f) => f.uri));
  for await (const o of listObjects(`${root}/current/`)) {
    assert.match(o.uri, /\/v=[^/]+\/[^/]+\.parquet$/, 'current/ holds versions of Parquet files only');
    assert.ok(known.has(o.uri), `${o.uri} is neither the table nor its previous version`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-current-'));
  const files: string[] = [];
  for (const f of table.files) {
    const file = path.join(dir, `${files.length}.parquet`);
    await downloadFile(f.uri, file);
    files.push(`'${file}'`);
  }
  const list = `[${files.join(', ')}]`;
  // The results schema only: no column of the join's own (uri_, tagged_, failed_...).
  const columns = (await duckdb(`DESCRIBE SELECT * FROM read_parquet(${list}, union_by_name = true)`)).map((c) => String(c.column_name));
  assert.deepEqual(columns.filter((c) => /^(uri_|tagged_|failed_\w*)$/.test(c)), [], 'no helper column in the current table');
  return duckdb(`SELECT key, etag, run_id, error, COLUMNS('^model_') FROM read_parquet(${list}, union_by_name = true) ORDER BY key`);
}

/** One row per live object, with its current ETag, tagged without error by `model`. */
export async function assertCurrent(root: string, bucket: string, model: string): Promise<void> {
  const live = await truth(bucket);
  const rows = await currentTable(root);
  assert.equal(rows.length, live.size, `one row per live object (${rows.length} rows, ${live.size} objects)`);
  for (const r of rows) {
    assert.equal(r.etag, live.get(String(r.key)), `${String(r.key)}: the current ETag`);
    assert.equal(r.error, null);
    assert.match(String(r[`model_${model}`]), new RegExp(`^${model.replace(/_/g, '.')}@`), `${String(r.key)}: tagged by ${model}`);
  }
}

