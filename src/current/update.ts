import pLimit from 'p-limit';
import { UserError } from '../errors.js';
import type { CompactionDone } from '../rundir/compaction.js';
import { acquireLock, leaseTtlMs } from '../lease/lease.js';
import { planIdentity, type Plan } from '../rundir/plan-file.js';
import { shardName } from '../rundir/layout.js';
import { copyObject, deleteObjects, listObjects } from '../storage/storage.js';
import { currentLayout, readCurrent, writeCurrent, type CurrentTable } from '../rundir/current.js';

export type CurrentUpdate =
  | { status: 'updated'; table: CurrentTable; removed: number }
  | { status: 'already'; table: CurrentTable }
  | { status: 'leased'; owner: string };

/** Delete what current/ holds beside the table and its previous version (older versions, a crash's copies) and the staged kept files. */
async function removeOthers(table: CurrentTable, staged: { uri: string }[]): Promise<number> {
  const keep = new Set([...table.files, ...(table.previous?.files ?? [])].map((f) => f.uri));
  const stale: string[] = [];
  for await (const o of listObjects(currentLayout.dir(table.root))) if (!keep.has(o.uri)) stale.push(o.uri);
  await deleteObjects([...stale, ...staged.map((f) => f.uri)]);
  return stale.length;
}

/**
 * Remove what a crash left in current/ beside the table current.json names (a previous table whose
 * delete never ran): readers of current/ would count every object twice until the next update.
 * Under the table's lock, so it never races an update copying in the next table's files; when the
 * lock is held, the update that holds it tidies up itself.
 */
export async function tidyCurrent(root: string): Promise<number> {
  const got = await acquireLock(currentLayout.lock(root), leaseTtlMs());
  if ('holder' in got) return 0;
  try {
    const table = await readCurrent(root);
    return table === undefined ? 0 : await removeOthers(table, []);
  } finally {
    await got.lease.release();
  }
}

/**
 * Make a finished nightly run the root's current table: the rows its plan kept from the previous
 * table, plus the rows the run tagged, which is every object its manifest listed, once. Nothing is
 * merged: the files are copied (server-side on S3) under names of this run, current.json is
 * replaced (from then on they are the table), and only then is anything else in current/ deleted.
 * Run again after a crash at any point, it finishes the same table; run twice, it does nothing.
 */
export async function updateCurrent(run: string, plan: Plan, done: CompactionDone): Promise<CurrentUpdate | undefined> {
  const staged = plan.current;
  if (staged === undefined) return undefined;
  const root = staged.root;
  const got = await acquireLock(currentLayout.lock(root), leaseTtlMs());
  if ('holder' in got) return { status: 'leased', owner: got.holder.owner };
  try {
    const table = await readCurrent(root);
    if (table?.run === run) {
      // The Glue client loads only for runs that keep a Glue table.
      if (staged.glueTable && table.location) await (await import('./glue.js')).moveGlueTable(staged.glueTable, table.location);
      await removeOthers(table, staged.kept);
      return { status: 'already', table };
    }
    if (table?.run !== staged.base) {
      throw new UserError(
        `the current table of ${root} was built from ${table?.run ?? 'nothing'} after ${run} was planned against ${staged.base ?? 'no table'}: ` +
          'its rows would be lost or doubled, so it is not updated: run the nightly again to plan against the table as it is',
      );
    }
    const id = planIdentity(run, plan).id;
    const all = [...staged.kept, ...done.files];
    // An empty table keeps one empty file: readers of its folder then get no rows, not an error.
    const nonEmpty = all.filter((f) => f.rows > 0);
    const sources = nonEmpty.length > 0 ? nonEmpty : all.slice(0, 1);
    const limit = pLimit(16);
    const files = await Promise.all(
      sources.map((f, i) =>
        limit(async () => {
          const uri = `${currentLayout.version(root, id)}part-${shardName(i)}.parquet`;
          await copyObject(f.uri, uri);
          return { uri, rows: f.rows };
        }),
      ),
    );
    const location = currentLayout.version(root, id);
    const next: CurrentTable = {
      version: 1,
      root,
      run,
      runId: id,
      files,
      rows: files.reduce((n, f) => n + f.rows, 0),
      updatedAt: new Date().toISOString(),
      location,
      ...(table ? { previous: { location: table.location, files: table.files } } : {}),
    };
    // The switch: current.json, then the Glue table (a crash between is mended by the next update,
    // which moves it again), then what is older than the previous version goes.
    await writeCurrent(next);
    if (staged.glueTable) await (await import('./glue.js')).moveGlueTable(staged.glueTable, location);
    return { status: 'updated', table: next, removed: await removeOthers(next, staged.kept) };
  } finally {
    await got.lease.release();
  }
}
