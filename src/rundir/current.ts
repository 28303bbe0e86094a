import path from 'node:path';
import { UserError } from '../errors.js';
import { exists, readText, writeBytes } from '../storage/storage.js';
import { isS3Uri, joinUri } from '../storage/uri.js';

/**
 * The current table of a nightly root: each version in a folder of its own under `<root>/current/`
 * (`v=<run id>/`), and `<root>/current.json` naming the version that is the table, its files and
 * the run it reflects. A new version is written beside the old, then current.json (and the Glue
 * table's location) moves to it in one write: a reader following either sees one version, never
 * two. The previous version stays until the next, for queries planned before the move.
 */
export const currentLayout = {
  dir: (root: string) => `${joinUri(root, 'current')}/`,
  version: (root: string, id: string) => `${joinUri(root, 'current', `v=${id}`)}/`,
  state: (root: string) => joinUri(root, 'current.json'),
  lock: (root: string) => joinUri(root, 'current.lock'),
  /** The newest run a nightly planned under this root; it may not be in the current table yet. */
  latest: (root: string) => joinUri(root, 'nightly.json'),
};

/** current.json */
export interface CurrentTable {
  version: 1;
  /** The nightly root the table belongs to: a table copied in from another root is refused. */
  root: string;
  /** The run whose manifest the table reflects: one row per object that manifest listed. */
  run: string;
  runId: string;
  files: { uri: string; rows: number }[];
  rows: number;
  updatedAt: string;
  /** The version's folder (every file is in it): the Glue table's location. Absent in tables from before versions. */
  location?: string;
  /** The version before, kept until the next update for readers that planned against it. */
  previous?: { location?: string; files: { uri: string; rows: number }[] };
}

/** A root as it is written in state files: local paths absolute, no trailing slash. */
export function rootId(root: string): string {
  return isS3Uri(root) ? root.replace(/\/+$/, '') : path.resolve(root);
}

async function readJson<T>(uri: string, what: string): Promise<T | undefined> {
  if (!(await exists(uri))) return undefined;
  try {
    return JSON.parse(await readText(uri)) as T;
  } catch {
    throw new UserError(`${uri} is damaged (not JSON): ${what}`);
  }
}

/** The root's current table, or undefined before the first nightly has finished. */
export async function readCurrent(root: string): Promise<CurrentTable | undefined> {
  const uri = currentLayout.state(root);
  const table = await readJson<CurrentTable>(uri, 'restore it from a backup or version, or delete it to tag every object again');
  if (table === undefined) return undefined;
  if (table.version !== 1 || !Array.isArray(table.files)) throw new UserError(`${uri} is not an imgtag current table`);
  const dir = currentLayout.dir(root);
  if (rootId(table.root) !== rootId(root) || table.files.some((f) => !f.uri.startsWith(dir))) {
    throw new UserError(`${uri} describes the current table of ${table.root}, not of ${rootId(root)}: give the nightly the --root it was built under`);
  }
  return table;
}

export async function writeCurrent(table: CurrentTable): Promise<void> {
  await writeBytes(currentLayout.state(table.root), JSON.stringify(table, null, 2) + '\n', 'application/json');
}

/** nightly.json: the newest run planned under the root, its models, and where it is tagged. */
export interface LatestRun {
  version: 1;
  run: string;
  models?: string[];
  /** Set when the run went to the fleet: its array job (or what became of the submission). */
  fleet?: string;
  /** How often later nightlies resubmitted the run's unfinished shards after its fleet job ended. */
  resubmits?: number;
  /** Given up on by an operator (nightly --abandon-previous): never finished, never the table. */
  abandoned?: boolean;
}

export async function readLatestRun(root: string): Promise<LatestRun | undefined> {
  return readJson<LatestRun>(currentLayout.latest(root), 'delete it; the next nightly plans against the current table');
}

export async function writeLatestRun(root: string, latest: LatestRun): Promise<void> {
  await writeBytes(currentLayout.latest(root), JSON.stringify(latest, null, 2) + '\n', 'application/json');
}
