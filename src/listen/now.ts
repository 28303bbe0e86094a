import fs from 'node:fs';
import pLimit from 'p-limit';
import os from 'node:os';
import path from 'node:path';
import { rowUriSql } from '../current/join.js';
import { localCopies } from '../plan/delta.js';
import { readCurrent } from '../rundir/current.js';
import { loadPlan } from '../rundir/plan-file.js';
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

/** The files under one folder of every stream session, read 16 at a time, each turned into NDJSON lines. */
async function sessionLines(root: string, folder: string, lines: (text: string) => string[]): Promise<string[]> {
  const uris: string[] = [];
  for (const session of await streamSessions(root)) for await (const o of listObjects(`${session}/${folder}/`)) uris.push(o.uri);
  const limit = pLimit(16);
  return (await Promise.all(uris.map((uri) => limit(async () => lines(await readText(uri)))))).flat();
}

/** When each object the stream tagged was uploaded: its event's time, staged with its batch's shard lines. */
const uploads = (root: string) =>
  sessionLines(root, 'shards', (text) =>
    text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { uri: string; etag?: string; time?: string })
      .filter((r) => r.time !== undefined)
      .map((r) => JSON.stringify({ uri: r.uri, etag: r.etag ?? null, time: r.time })),
  );

/** Every removal the stream recorded. */
const removals = (root: string) => sessionLines(root, 'deletions', (text) => (JSON.parse(text) as DeletionsFile).removed.map((r) => JSON.stringify({ uri: r.uri, time: r.time })));

/**
 * The time the current table is as of: its run's Inventory report, where the manifest names one
 * (`.../2026-12-05T01-00Z/manifest.json`), else when that run was planned.
 */
async function tableAsOf(run: string): Promise<string | undefined> {
  const plan = await loadPlan(run).catch(() => undefined);
  const dated = /\/(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})Z\/manifest\.json$/.exec(plan?.source.uri ?? '');
  return dated ? `${dated[1]}T${dated[2]}:${dated[3]}:00Z` : plan?.createdAt;
}

/** An NDJSON file as a table with these columns (an empty file as an empty table). */
async function ndjsonTable(duck: Awaited<ReturnType<typeof openDuckDb>>, name: string, file: string, lines: string[], columns: Record<string, string>): Promise<void> {
  fs.writeFileSync(file, lines.join('\n'));
  const cols = Object.entries(columns);
  await duck.conn.runAndReadAll(
    lines.length === 0
      ? `CREATE TABLE ${name} (${cols.map(([c, t]) => `${c} ${t}`).join(', ')})`
      : `CREATE TABLE ${name} AS SELECT * FROM read_json(${sqlString(file)}, format = 'newline_delimited', columns = {${cols.map(([c, t]) => `${c}: '${t}'`).join(', ')}})`,
  );
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
    const local = isS3Uri(out) ? path.join(scratch, 'now.parquet') : out;
    const asOf = table ? await tableAsOf(table.run) : undefined;
    const duck = await openDuckDb({ memoryLimitMb: settings().joinMemoryMb, threads: os.availableParallelism(), tempDir: scratch });
    try {
      const parts = [...(current.length ? [`SELECT *, false AS from_stream_ FROM read_parquet(${sqlFiles(current)}, union_by_name = true)`] : []), ...(stream.length ? [`SELECT *, true AS from_stream_ FROM read_parquet(${sqlFiles(stream)}, union_by_name = true)`] : [])];
      if (parts.length === 0) throw new Error(`${root} has no current table and no stream rows yet`);
      await duck.conn.runAndReadAll(`CREATE VIEW all_rows AS ${parts.join(' UNION ALL BY NAME ')}`);
      await ndjsonTable(duck, 'removed_events', path.join(scratch, 'removed.ndjson'), await removals(root), { uri: 'VARCHAR', time: 'TIMESTAMPTZ' });
      await duck.conn.runAndReadAll('CREATE TABLE removed AS SELECT uri, max(time) AS time FROM removed_events GROUP BY uri');
      await ndjsonTable(duck, 'uploaded_events', path.join(scratch, 'uploaded.ndjson'), await uploads(root), { uri: 'VARCHAR', etag: 'VARCHAR', time: 'TIMESTAMPTZ' });
      await duck.conn.runAndReadAll('CREATE TABLE uploaded AS SELECT uri, etag, min(time) AS time FROM uploaded_events GROUP BY uri, etag');
      // Each row's time is the change it shows: a stream row's upload (its event), a table row's
      // Inventory (or when it was tagged, if earlier). The newest row per object wins, and is
      // dropped where the stream saw the object removed after that time.
      const tableAt = asOf ? `least(a.tagged_at, TIMESTAMPTZ ${sqlString(asOf)})` : 'a.tagged_at';
      await duck.conn.runAndReadAll(
        `CREATE VIEW timed AS SELECT a.*, ${rowUriSql('a.')} AS uri_, CASE WHEN a.from_stream_ THEN coalesce(u.time, a.tagged_at) ELSE ${tableAt} END AS at_ ` +
          `FROM all_rows a LEFT JOIN uploaded u ON u.uri = ${rowUriSql('a.')} AND u.etag = a.etag`,
      );
      await duck.conn.runAndReadAll(
        'CREATE TABLE now_rows AS SELECT r.* EXCLUDE (rn, uri_, at_) FROM (SELECT *, row_number() OVER (PARTITION BY uri_ ORDER BY at_ DESC, from_stream_ DESC) AS rn FROM timed) r ' +
          'ANTI JOIN removed ON removed.uri = r.uri_ AND removed.time > r.at_ WHERE r.rn = 1',
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

