import { createHash } from 'node:crypto';
import { parquetMetadataAsync } from 'hyparquet';
import { UserError } from '../errors.js';
import { runLayout } from '../rundir/layout.js';
import { deleteObjects, listObjects, readStream } from '../storage/storage.js';
import { rangedBuffer } from '../storage/ranged-buffer.js';
import { dirnameUri } from '../storage/uri.js';
import { groupMarker, readState, writeState, type CompactedFile, type CompactionDone, type CompactionPlan } from '../rundir/compaction.js';

/** A compacted file that is not what done.json recorded. */
export interface Damage {
  uri: string;
  why: string;
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

/** Each file's size against done.json: one LIST per folder of the dataset the run wrote (usually one). */
async function sizeDamage(files: CompactedFile[]): Promise<Damage[]> {
  const sizes = new Map<string, number | undefined>();
  for (const dir of new Set(files.map((f) => `${dirnameUri(f.uri)}/`))) for await (const o of listObjects(dir)) sizes.set(o.uri, o.size);
  const out: Damage[] = [];
  for (const f of files) {
    if (!sizes.has(f.uri)) out.push({ uri: f.uri, why: 'is missing' });
    else if (sizes.get(f.uri) !== f.bytes) out.push({ uri: f.uri, why: `is ${sizes.get(f.uri)} bytes where done.json records ${f.bytes}` });
  }
  return out;
}

/** A file's SHA-256 (a local path or s3:// URI), streamed: merged files are hundreds of MB. */
export async function sha256(uri: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of await readStream(uri)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * What is wrong with a compacted run's dataset files. Sizes always (cheap: run, report, nightly and
 * compact check them); with `deep`, each footer's row count and, where recorded, the sha256 of the
 * whole file (imgtag verify).
 */
export async function checkDataset(done: CompactionDone, deep = false): Promise<Damage[]> {
  const damage = await sizeDamage(done.files);
  if (!deep) return damage;
  const bad = new Set(damage.map((d) => d.uri));
  for (const f of done.files.filter((f) => !bad.has(f.uri))) {
    const rows = Number((await parquetMetadataAsync(await rangedBuffer(f.uri)).catch(() => ({ num_rows: -1 }))).num_rows);
    if (rows !== f.rows) damage.push({ uri: f.uri, why: rows < 0 ? 'has no readable Parquet footer' : `holds ${rows} rows where done.json records ${f.rows}` });
    else if (f.sha256 !== undefined && (await sha256(f.uri)) !== f.sha256) damage.push({ uri: f.uri, why: 'has other bytes than done.json records (sha256)' });
  }
  return damage;
}

/** Refuse to trust a compacted run whose dataset files are not what done.json says. */
export async function refuseDamagedDataset(run: string, done: CompactionDone): Promise<void> {
  const damage = await checkDataset(done);
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
  const bad = new Set(damage.map((d) => d.uri));
  const groups = plan.groups.flatMap((g, i) => (bad.has(g.uri) ? [i] : []));
  const shards = groups.flatMap((i) => plan.groups[i]!.shards.map((s) => s.shard));
  const previous = (await readState<CompactionRepair>(run, 'repair.json'))?.groups ?? [];
  // repair.json first: from then on nothing treats the run as compacted, whatever is deleted next.
  await writeState(run, 'repair.json', { version: 1, groups: [...new Set([...previous, ...groups])].sort((a, b) => a - b) } satisfies CompactionRepair);
  await deleteObjects([...bad, ...groups.map((i) => runLayout.compaction(run, groupMarker(i))), ...shards.map((s) => runLayout.commit(run, s))]);
  return { groups, shards };
}
