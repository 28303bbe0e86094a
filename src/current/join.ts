import fsp from 'node:fs/promises';
import path from 'node:path';
import { UserError, errorMessage } from '../errors.js';
import { openDuckDb, restate, sqlFiles, sqlName, sqlString, type Duck, type DuckSettings, type LocalCopy } from '../sql/duckdb.js';

/** Rows tagged before, to leave out of a plan: the current table, or a run and its ancestors' results. */
export interface TaggedRows {
  /** Local copies of their Parquet files. */
  files: LocalCopy[];
  /** Ids of the models a row must carry, exactly, to count as tagged; undefined: any model. */
  models?: string[];
  /** The current table: one row per object. Its tagged rows that are still live are kept (`keptDir`). */
  current: boolean;
  /** Tag again objects whose row is a permanent error (default: such an object waits for a new ETag or model). */
  retryErrors?: boolean;
  /**
   * Rows `imgtag listen` staged since (current table only): a row whose object and ETag the manifest
   * lists, by the wanted models, counts as tagged and joins the table in place of the object's older
   * row; one row per object however often the stream tagged it. The others wait (an upload after
   * the manifest was taken) or are past (an object deleted or changed since).
   */
  stream?: LocalCopy[];
}

export interface JoinCounts {
  /** Image rows in the manifest. */
  images: number;
  /** Left out: tagged before with the same ETag (and models). */
  unchanged: number;
  /** Of those, objects whose row is a permanent error (not an image, empty, truncated, too large): not fetched again. */
  untaggable: number;
  /** To tag, and of those, objects never seen before. */
  delta: number;
  new: number;
  /** Objects in the current table that the manifest no longer lists (current table only). */
  deleted: number;
  /** Of the unchanged, objects the stream tagged since the current table: folded into it, not tagged again. */
  stream?: number;
}

export interface JoinResult {
  /** Shard lines of the objects to tag, sorted by URI. */
  delta: string;
  counts: JoinCounts;
  /** Parquet files of the current table's rows still live and unchanged (current table only). */
  kept: { file: string; rows: number }[];
  keptRows: number;
}

export interface JoinOptions extends Omit<DuckSettings, 'keepOrder' | 'tempDir'> {
  /** Size of each kept file. */
  fileMb: number;
}

/** A result row's object as a URI (rows of local files have no bucket), in SQL; `t` prefixes the columns with a table's name. */
export const rowUriSql = (t = '') => `CASE WHEN ${t}bucket IS NULL THEN ${t}key ELSE 's3://' || ${t}bucket || '/' || ${t}key END`;
const URI = rowUriSql();

/** The join's own columns: never written into a table. */
const HELPERS = 'uri_, tagged_, failed_';

/**
 * A result file's own columns, by name: without the join's helpers, nor the `failed_*` that tables
 * written before this kept by mistake (each night added one more), so they leave the table.
 */
const rowColumns = (schema: string[]) => schema.filter((n) => n !== 'uri_' && n !== 'tagged_' && !n.startsWith('failed_')).map(sqlName).join(', ');

/**
 * Rows per row group of the kept files: DuckDB's writer holds a row group per thread outside its
 * memory limit, and a current table's row (five tags) takes about 1 KB there.
 */
const rowGroupRows = (o: JoinOptions) => Math.max(2048, Math.floor((o.memoryLimitMb * 1024) / (2 * o.threads)));

async function q(duck: Duck, sql: string): Promise<void> {
  await duck.conn.runAndReadAll(sql);
}

async function one(duck: Duck, sql: string): Promise<unknown[]> {
  return (await duck.conn.runAndReadAll(sql)).getRows()[0] ?? [];
}

/** Rows a COPY wrote. */
async function count(duck: Duck, copy: string): Promise<number> {
  return Number((await one(duck, copy))[0]);
}

/**
 * SQL true for an error row that tagging the same bytes again would only repeat: the object is not
 * a decodable image (empty, truncated, HTML named .jpg), is over --max-bytes, or has a key HTTP
 * would rewrite. A store's failure is never such a row (the shard is left unfinished instead), and
 * "not found" is not one either: the same bytes may be uploaded again.
 */
export const PERMANENT_ERROR =
  "(error.stage = 'decode' OR (error.stage = 'fetch' AND (error.message LIKE 'the object is % bytes, over the %' OR error.message LIKE '%path segment%')))";

/** SQL that is true for a row the wanted models tagged, or found untaggable (unless retryErrors). */
function taggedCondition(columns: string[], models: string[] | undefined, hasError: boolean, retryErrors: boolean): string {
  const ids = `list_sort(list_filter([${columns.map(sqlName).join(', ')}]::VARCHAR[], x -> x IS NOT NULL))`;
  const byModels = models === undefined ? `len(${ids}) > 0` : `${ids} = [${[...models].sort().map(sqlString).join(', ')}]::VARCHAR[]`;
  const ok = !hasError ? '' : retryErrors ? 'error IS NULL AND ' : `(error IS NULL OR ${PERMANENT_ERROR}) AND `;
  return `${ok}etag IS NOT NULL AND ${columns.length === 0 ? 'false' : byModels}`;
}

/** Each file's row count, from its footer. */
async function fileRows(duck: Duck, files: string[]): Promise<{ file: string; rows: number }[]> {
  if (files.length === 0) return [];
  const list = sqlFiles(files.map((file) => ({ file, uri: file })));
  const rows = (await duck.conn.runAndReadAll(
    `SELECT file_name, sum(row_group_num_rows) FROM (SELECT DISTINCT file_name, row_group_id, row_group_num_rows FROM parquet_metadata(${list})) GROUP BY file_name`,
  )).getRows();
  const byFile = new Map(rows.map((r) => [String(r[0]), Number(r[1])]));
  return files.map((file) => ({ file, rows: byFile.get(file) ?? 0 }));
}

/**
 * The stream's rows that the manifest lists as they are (object and ETag), by the wanted models,
 * not already in the table with that ETag: table `s`, one row per object (the newest), and `t`
 * (what counts as tagged) widened by them. Returns how many.
 */
async function foldStream(duck: Awaited<ReturnType<typeof openDuckDb>>, tagged: TaggedRows): Promise<number> {
  if (!tagged.stream?.length) return 0;
  await q(duck, `CREATE VIEW stream_files AS SELECT * FROM read_parquet(${sqlFiles(tagged.stream)}, union_by_name = true)`);
  const schema = (await duck.conn.runAndReadAll('DESCRIBE stream_files')).getRows().map((r) => String(r[0]));
  const cond = taggedCondition(schema.filter((name) => name.startsWith('model_')), tagged.models, schema.includes('error'), tagged.retryErrors === true);
  await q(duck, `CREATE VIEW sf AS SELECT ${rowColumns(schema)}, ${URI} AS uri_, (${cond}) AS tagged_, ${schema.includes('error') ? 'error IS NOT NULL' : 'false'} AS failed_ FROM stream_files`);
  await q(
    duck,
    'CREATE TABLE s AS SELECT * EXCLUDE (rn) FROM (SELECT x.*, row_number() OVER (PARTITION BY x.uri_ ORDER BY x.tagged_at DESC) AS rn ' +
      'FROM (SELECT sf.* FROM sf SEMI JOIN m ON m.uri = sf.uri_ AND m.etag = sf.etag WHERE sf.tagged_) x ANTI JOIN t ON t.uri = x.uri_ AND t.etag = x.etag) WHERE rn = 1',
  );
  await q(duck, 'CREATE OR REPLACE VIEW t AS SELECT uri, etag, failed FROM c WHERE tagged UNION ALL SELECT uri_ AS uri, etag, failed_ AS failed FROM s');
  return Number((await one(duck, 'SELECT count(*) FROM s'))[0]);
}

/**
 * Join a manifest's image rows (part files of shard lines, removed once loaded) against rows tagged before, in DuckDB,
 * out of core: what is left to tag goes to `delta` sorted by URI (so shards are the same whatever
 * order the manifest came in), and with the current table, its rows that stay go to Parquet files.
 * A manifest that lists a key twice is refused: its current table would have two rows for one object.
 */
export async function joinManifest(parts: string[], tagged: TaggedRows, dir: string, o: JoinOptions): Promise<JoinResult> {
  const duck = await openDuckDb({ ...o, tempDir: dir, database: path.join(dir, 'join.duckdb') });
  const delta = path.join(dir, 'delta.ndjson');
  const keptDir = path.join(dir, 'kept');
  try {
    const partList = sqlFiles(parts.map((file) => ({ file, uri: file })));
    await q(
      duck,
      `CREATE TABLE m AS SELECT * FROM read_json(${partList}, format = 'newline_delimited', columns = {uri: 'VARCHAR', size: 'BIGINT', etag: 'VARCHAR'})`,
    );
    // Loaded: the part files' disk goes back before the join needs its own (at 300 M rows, 30 GB).
    await Promise.all(parts.map((p) => fsp.rm(p, { force: true })));
    const twice = (await duck.conn.runAndReadAll('SELECT uri FROM m GROUP BY uri HAVING count(*) > 1 ORDER BY uri LIMIT 3')).getRows();
    if (twice.length > 0) {
      throw new UserError(`the manifest lists ${twice.map((r) => String(r[0])).join(', ')} more than once: a manifest must name each object once (nothing was planned)`);
    }
    // t: what was tagged, one row per object and ETag; c: every object seen (for new/deleted).
    if (tagged.files.length > 0) {
      await q(duck, `CREATE VIEW tagged_files AS SELECT * FROM read_parquet(${sqlFiles(tagged.files)}, union_by_name = true)`);
      const schema = (await duck.conn.runAndReadAll('DESCRIBE tagged_files')).getRows().map((r) => String(r[0]));
      const hasError = schema.includes('error');
      const cond = taggedCondition(schema.filter((name) => name.startsWith('model_')), tagged.models, hasError, tagged.retryErrors === true);
      await q(duck, `CREATE VIEW tf AS SELECT ${rowColumns(schema)}, ${URI} AS uri_, (${cond}) AS tagged_, ${hasError ? 'error IS NOT NULL' : 'false'} AS failed_ FROM tagged_files`);
      // The current table has one row per object: no grouping, which would hash every row in memory.
      // A lineage of runs has many: each object's newest row decides, so content that went A -> B -> A
      // is tagged again (the newest row carries B's tags), never counted as tagged by an older run.
      await q(
        duck,
        tagged.current
          ? 'CREATE TABLE c AS SELECT uri_ AS uri, etag, tagged_ AS tagged, failed_ AS failed FROM tf'
          : `CREATE TABLE c AS SELECT uri_ AS uri, n.etag AS etag, n.tagged AS tagged, n.failed AS failed FROM (SELECT uri_, arg_max({'etag': etag, 'tagged': tagged_, 'failed': failed_}, tagged_at) AS n FROM tf GROUP BY uri_)`,
      );
      await q(duck, 'CREATE VIEW t AS SELECT uri, etag, failed FROM c WHERE tagged');
    } else {
      await q(duck, 'CREATE TABLE c (uri VARCHAR, etag VARCHAR, tagged BOOLEAN, failed BOOLEAN)');
      await q(duck, 'CREATE VIEW t AS SELECT uri, etag, failed FROM c');
    }
    const streamRows = await foldStream(duck, tagged);
    // Each manifest row once, with whether it was tagged (or found untaggable) as it is now.
    await q(duck, 'CREATE TABLE j AS SELECT m.*, t.uri IS NOT NULL AS unchanged, coalesce(t.failed, false) AS untaggable FROM m LEFT JOIN t ON m.uri = t.uri AND m.etag = t.etag');
    const deltaRows = await count(duck, `COPY (SELECT uri, size, etag FROM j WHERE NOT unchanged ORDER BY uri) TO ${sqlString(delta)} (FORMAT json)`);
    const [images, untaggable] = await one(duck, 'SELECT count(*), count(*) FILTER (WHERE unchanged AND untaggable) FROM j');
    const [known] = await one(duck, 'SELECT count(*) FROM (SELECT uri FROM j WHERE NOT unchanged) d SEMI JOIN c ON d.uri = c.uri');
    let keptRows = 0;
    let deleted = 0;
    let kept: { file: string; rows: number }[] = [];
    if (tagged.current && (tagged.files.length > 0 || streamRows > 0)) {
      // What leaves the table is small (the delta and the deleted): the rows that stay are found by
      // an anti-join against it, streaming the table past a small hash table, never the reverse.
      await q(duck, 'CREATE TABLE gone AS SELECT uri FROM c ANTI JOIN m ON m.uri = c.uri');
      deleted = Number((await one(duck, 'SELECT count(*) FROM gone'))[0]);
      await q(duck, 'INSERT INTO gone SELECT uri FROM j WHERE NOT unchanged');
      await fsp.mkdir(keptDir, { recursive: true });
      // The table's rows that stay, but where the stream tagged the object since; and the stream's rows.
      const keptRows_ = [
        ...(tagged.files.length > 0 ? [`SELECT tf.* EXCLUDE (${HELPERS}) FROM tf ANTI JOIN gone ON tf.uri_ = gone.uri${streamRows > 0 ? ' ANTI JOIN s ON tf.uri_ = s.uri_' : ''}`] : []),
        ...(streamRows > 0 ? [`SELECT s.* EXCLUDE (${HELPERS}) FROM s`] : []),
      ];
      keptRows = await count(
        duck,
        `COPY (${keptRows_.join(' UNION ALL BY NAME ')}) ` +
          `TO ${sqlString(keptDir)} (FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES '${o.fileMb}MB', ROW_GROUP_SIZE ${rowGroupRows(o)}, OVERWRITE_OR_IGNORE true)`,
      );
      kept = await fileRows(duck, (await fsp.readdir(keptDir)).filter((f) => f.endsWith('.parquet')).sort().map((f) => path.join(keptDir, f)));
    }
    const counts: JoinCounts = {
      images: Number(images),
      unchanged: Number(images) - deltaRows,
      untaggable: Number(untaggable),
      delta: deltaRows,
      new: deltaRows - Number(known),
      deleted,
      ...(streamRows > 0 ? { stream: streamRows } : {}),
    };
    return { delta, counts, kept, keptRows };
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new Error(restate(errorMessage(e), tagged.files));
  } finally {
    duck.close();
  }
}
