import { createHash } from 'node:crypto';
import { parquetMetadataAsync } from 'hyparquet';
import { UserError } from '../errors.js';
import { runLayout } from '../rundir/layout.js';
import { deleteObjects, listObjects, readStream } from '../storage/storage.js';
import { rangedBuffer } from '../storage/ranged-buffer.js';
import { basenameUri, dirnameUri } from '../storage/uri.js';
import { groupMarker, readState, writeState, type CompactedFile, type CompactionDone, type CompactionPlan } from '../rundir/compaction.js';

/**
 * A dataset file that is not what done.json recorded: one it lists that is damaged or missing, or
 * one in the run's dataset folder that it does not list (`extra`: readers of the folder read its
 * rows too; `copy` when its bytes are a listed file's, so --repair may delete it).
 */
export interface Damage {
  uri: string;
  why: string;
  extra?: 'copy' | 'unlisted';
}

/** compaction/repair.json: groups whose files are being made again; until they are, the run is not compacted. */
export interface CompactionRepair {
  version: 1;
  groups: number[];
}

/** done.json, unless a repair is under way (then the run is compacted again once its shards are re-tagged). */
export async function finishedCompaction(run: string): Promise<CompactionDone | undefined> {
  const done = await readState<CompactionDone>(run, 'done.json');
  if (done === undefined || (await readState<CompactionRepair>(run, 'repair.json')) !== undefined) return undefined;
  return done;
}

/** This run's name for a compacted file, or another run's: `<runId>-<shard>.parquet` (layout.ts). */
const COMPACTED_NAME = /^(.+)-\d{5,}\.parquet$/;

/**
 * The dataset folders against done.json, both ways: each listed file there at its size, and each
 * Parquet file there that done.json does not list named, unless it is another run's by its name
 * (runs of one day share a folder). One LIST per folder (usually one).
 */
async function folderDamage(done: CompactionDone, folders: Set<string>): Promise<{ damage: Damage[]; extras: { uri: string; size?: number; otherRun: boolean }[] }> {
  const sizes = new Map<string, number | undefined>();
  for (const dir of folders) for await (const o of listObjects(dir)) sizes.set(o.uri, o.size);
  const damage: Damage[] = [];
  for (const f of done.files) {
    if (!sizes.has(f.uri)) damage.push({ uri: f.uri, why: 'is missing' });
    else if (sizes.get(f.uri) !== f.bytes) damage.push({ uri: f.uri, why: `is ${sizes.get(f.uri)} bytes where done.json records ${f.bytes}` });
  }
  const listed = new Set(done.files.map((f) => f.uri));
  const extras = [...sizes]
    .filter(([uri]) => uri.endsWith('.parquet') && !listed.has(uri))
    .map(([uri, size]) => {
      const prefix = COMPACTED_NAME.exec(basenameUri(uri))?.[1];
      // A name with this run's id in it ("copy of <runId>-00000.parquet") is this run's doing.
      return { uri, size, otherRun: prefix !== undefined && !/\s/.test(prefix) && !prefix.includes(done.runId) };
    });
  return { damage, extras };
}

/** compaction/plan.json's groups against done.json: a group whose file done.json does not list lost its shards' rows. */
async function planDamage(run: string, done: CompactionDone): Promise<Damage[]> {
  const plan = await readState<CompactionPlan>(run, 'plan.json');
  if (plan === undefined) return [];
  const listed = new Set(done.files.map((f) => f.uri));
  const damage = plan.groups
    .filter((g) => !listed.has(g.uri))
    .map((g) => ({ uri: g.uri, why: `is in compaction/plan.json (${g.rows} rows of shard(s) ${g.shards.map((s) => s.shard).join(', ')}) but not in done.json: those rows are in no listed file` }));
  const rows = done.files.reduce((n, f) => n + f.rows, 0);
  if (rows !== done.rows) damage.push({ uri: runLayout.compaction(run, 'done.json'), why: `records ${done.rows} rows in all but its files ${rows}` });
  return damage;
}

/** A file's SHA-256 (a local path or s3:// URI), streamed: merged files are hundreds of MB. */
export async function sha256(uri: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of await readStream(uri)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * What is wrong with a compacted run's dataset: done.json against its folders both ways (listed
 * files missing or of another size, files there it does not list) and against compaction/plan.json
 * (a group's file gone from both done.json and the folder). Cheap always (run, report, nightly and
 * compact check it); with `deep`, each listed file's footer row count and, where recorded, the
 * sha256 of the whole file, and whether an unlisted file is a listed one's copy (imgtag verify).
 */
export async function checkDataset(run: string, done: CompactionDone, deep = false): Promise<Damage[]> {
  const plan = await planDamage(run, done);
  const folders = new Set([...done.files.map((f) => f.uri), ...plan.map((d) => d.uri)].filter((u) => u.endsWith('.parquet')).map((u) => `${dirnameUri(u)}/`));
  const { damage, extras } = await folderDamage(done, folders);
  damage.push(...plan.filter((p) => !damage.some((d) => d.uri === p.uri)));
  const bad = new Set(damage.map((d) => d.uri));
  const planned = new Set(plan.map((d) => d.uri));
  const digests = new Map<string, string>();
  const digest = async (uri: string) => digests.get(uri) ?? digests.set(uri, await sha256(uri)).get(uri)!;
  // A planned file done.json forgot is named once, as planned: --repair makes it again.
  for (const e of extras.filter((x) => !planned.has(x.uri))) {
    // Another run's file by its name is that run's, unless its bytes are one of ours (deep only: a hash each).
    if (e.otherRun && !deep) continue;
    const same = deep ? await findAsync(done.files.filter((f) => f.bytes === e.size && !bad.has(f.uri)), async (f) => (f.sha256 ?? (await digest(f.uri))) === (await digest(e.uri))) : undefined;
    if (e.otherRun && !same) continue;
    damage.push(
      same
        ? { uri: e.uri, why: `is a copy of ${basenameUri(same.uri)} that done.json does not list: readers of the folder get its ${same.rows} rows twice`, extra: 'copy' }
        : { uri: e.uri, why: 'is in the dataset folder but not in done.json: readers of the folder read its rows too (move it out, or delete it)', extra: 'unlisted' },
    );
  }
  if (!deep) return damage;
  for (const f of done.files.filter((f) => !bad.has(f.uri))) {
    const rows = Number((await parquetMetadataAsync(await rangedBuffer(f.uri)).catch(() => ({ num_rows: -1 }))).num_rows);
    if (rows !== f.rows) damage.push({ uri: f.uri, why: rows < 0 ? 'has no readable Parquet footer' : `holds ${rows} rows where done.json records ${f.rows}` });
    else if (f.sha256 !== undefined && (await digest(f.uri)) !== f.sha256) damage.push({ uri: f.uri, why: 'has other bytes than done.json records (sha256)' });
  }
  return damage;
}

async function findAsync<T>(list: T[], test: (x: T) => Promise<boolean>): Promise<T | undefined> {
  for (const x of list) if (await test(x)) return x;
  return undefined;
}

/** Refuse to trust a compacted run whose dataset files are not what done.json says. */
export async function refuseDamagedDataset(run: string, done: CompactionDone): Promise<void> {
  const damage = await checkDataset(run, done);
  if (damage.length === 0) return;
  throw new UserError(
    `${damage[0]!.uri} ${damage[0]!.why}${damage.length > 1 ? ` (and ${damage.length - 1} more file(s))` : ''}: the run's dataset is damaged. ` +
      `"imgtag verify --run ${run} --repair", then "imgtag run --run ${run}", re-tags their shards`,
  );
}

/**
 * Make damaged files again from their shards: their commit markers, group markers and files go,
 * and repair.json says the run is not compacted. The next `run` re-tags exactly those shards (the
 * others stay trusted: done.json remains) and compacts just those groups into the same names.
 */
export async function repairDataset(run: string, damage: Damage[]): Promise<{ groups: number[]; shards: number[] }> {
  const plan = await readState<CompactionPlan>(run, 'plan.json');
  if (plan === undefined) throw new UserError(`${runLayout.compaction(run, 'plan.json')} is missing: the run cannot be repaired file by file; plan it again`);
  // An unlisted file is deleted only when it is a listed file's copy: another is named, and left to a
  // person. done.json's own totals are not a file to delete.
  const bad = new Set(damage.filter((d) => d.extra !== 'unlisted' && d.uri.endsWith('.parquet')).map((d) => d.uri));
  const groups = plan.groups.flatMap((g, i) => (bad.has(g.uri) ? [i] : []));
  const shards = groups.flatMap((i) => plan.groups[i]!.shards.map((s) => s.shard));
  const previous = (await readState<CompactionRepair>(run, 'repair.json'))?.groups ?? [];
  // repair.json first: from then on nothing treats the run as compacted, whatever is deleted next.
  // Copies alone need no re-tagging: the run stays compacted.
  if (groups.length > 0 || previous.length > 0)
    await writeState(run, 'repair.json', { version: 1, groups: [...new Set([...previous, ...groups])].sort((a, b) => a - b) } satisfies CompactionRepair);
  await deleteObjects([...bad, ...groups.map((i) => runLayout.compaction(run, groupMarker(i))), ...shards.map((s) => runLayout.commit(run, s))]);
  return { groups, shards };
}
