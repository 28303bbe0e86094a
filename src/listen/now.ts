import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { localCopies } from '../plan/delta.js';
import { readCurrent } from '../rundir/current.js';
import { openDuckDb, sqlFiles, sqlString } from '../sql/duckdb.js';
import { listObjects, readText, uploadFile } from '../storage/storage.js';
import { isS3Uri } from '../storage/uri.js';
import { dropScratch, scratchDir } from '../temp/scratch.js';
import { settings } from '../settings.js';
import { streamResultFiles, streamSessions, type DeletionsFile } from '../rundir/stream-sessions.js';

export interface NowView {
  rows: number;
  /** Objects whose newest row the stream tagged since the current table. */
  fromStream: number;
  /** Objects the stream saw removed since they were tagged. */
  removed: number;
}

/** Every removal the stream recorded, as NDJSON lines for DuckDB. */
async function removals(root: string): Promise<string[]> {
  const lines: string[] = [];
  for (const session of await streamSessions(root)) {
    for await (const o of listObjects(`${session}/deletions/`)) {
      for (const r of (JSON.parse(await readText(o.uri)) as DeletionsFile).removed) lines.push(JSON.stringify({ uri: r.uri, time: r.time }));
    }
  }
  return lines;
}

/**
 * "Now": one row per live object, its newest tags, from the current table and the rows the stream
 * tagged since (`imgtag listen`), less the objects the stream saw removed after their row. Written
 * as one Parquet file: what a query of the bucket's tags as of this minute reads.
 */
export async function writeNowView(root: string, out: string): Promise<NowView> {
  const table = await readCurrent(root);
  const scratch = await scratchDir('plan');
  try {
    const current = await localCopies(table?.files.map((f) => f.uri) ?? [], scratch, 'current');
    const stream = await localCopies(await streamResultFiles(root), scratch, 'stream');
    const removedFile = path.join(scratch, 'removed.ndjson');
    fs.writeFileSync(removedFile, (await removals(root)).join('\n'));
    const local = isS3Uri(out) ? path.join(scratch, 'now.parquet') : out;
    const duck = await openDuckDb({ memoryLimitMb: settings().joinMemoryMb, threads: os.availableParallelism(), tempDir: scratch });
    try {
      const uri = `CASE WHEN bucket IS NULL THEN key ELSE 's3://' || bucket || '/' || key END`;
      const parts = [...(current.length ? [`SELECT *, false AS from_stream_ FROM read_parquet(${sqlFiles(current)}, union_by_name = true)`] : []), ...(stream.length ? [`SELECT *, true AS from_stream_ FROM read_parquet(${sqlFiles(stream)}, union_by_name = true)`] : [])];
      if (parts.length === 0) throw new Error(`${root} has no current table and no stream rows yet`);
      await duck.conn.runAndReadAll(`CREATE VIEW all_rows AS ${parts.join(' UNION ALL BY NAME ')}`);
      await duck.conn.runAndReadAll(`CREATE TABLE removed AS SELECT uri, max(time) AS time FROM read_json(${sqlString(removedFile)}, format = 'newline_delimited', columns = {uri: 'VARCHAR', time: 'TIMESTAMPTZ'}) GROUP BY uri`);
      // Newest row per object; dropped where the stream saw it removed after that row was tagged.
      await duck.conn.runAndReadAll(
        `CREATE TABLE now_rows AS SELECT r.* EXCLUDE (rn, uri_) FROM (SELECT *, ${uri} AS uri_, row_number() OVER (PARTITION BY ${uri} ORDER BY tagged_at DESC, from_stream_ DESC) AS rn FROM all_rows) r ` +
          'ANTI JOIN removed ON removed.uri = r.uri_ AND removed.time > r.tagged_at WHERE r.rn = 1',
      );
      const [rows, fromStream] = (await duck.conn.runAndReadAll('SELECT count(*), count(*) FILTER (WHERE from_stream_) FROM now_rows')).getRows()[0]!;
      const [removed] = (await duck.conn.runAndReadAll('SELECT count(*) FROM removed')).getRows()[0]!;
      await duck.conn.runAndReadAll(`COPY (SELECT * EXCLUDE (from_stream_) FROM now_rows ORDER BY bucket, key) TO ${sqlString(local)} (FORMAT parquet, COMPRESSION zstd)`);
      if (local !== out) await uploadFile(local, out, 'application/vnd.apache.parquet');
      return { rows: Number(rows), fromStream: Number(fromStream), removed: Number(removed) };
    } finally {
      duck.close();
    }
  } finally {
    await dropScratch(scratch);
  }
}

