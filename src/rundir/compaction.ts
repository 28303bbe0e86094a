import { UserError } from '../errors.js';
import { exists, readText, writeBytes } from '../storage/storage.js';
import { runLayout } from './layout.js';

/** One merged file in the dataset. */
export interface CompactedFile {
  uri: string;
  rows: number;
  bytes: number;
  /** The shards whose rows it holds. */
  shards: number[];
  /** Of its bytes (from this version on): imgtag verify checks it. */
  sha256?: string;
}

/** compaction/plan.json: fixed before the first file is written, so a re-run makes the same files. */
export interface CompactionPlan {
  version: 1;
  createdAt: string;
  targetBytes: number;
  rowGroupBytes: number;
  groups: { uri: string; shards: { shard: number; uri: string; rows: number; bytes: number }[]; rows: number; bytes: number }[];
}

/** compaction/done.json: written after every merged file; from then on the run's rows are the dataset's. */
export interface CompactionDone {
  version: 1;
  runId: string;
  finishedAt: string;
  rows: number;
  bytes: number;
  /** Staged shard files the merge replaced. */
  shards: number;
  files: CompactedFile[];
}

/** Read one of compaction's state files; undefined when absent; a damaged one is named. */
export async function readState<T>(run: string, name: string): Promise<T | undefined> {
  const uri = runLayout.compaction(run, name);
  if (!(await exists(uri))) return undefined;
  try {
    return JSON.parse(await readText(uri)) as T;
  } catch {
    throw new UserError(`${uri} is damaged: delete the run's compaction/ folder and run "imgtag compact --run ${run}" again`);
  }
}

export async function writeState(run: string, name: string, value: unknown): Promise<void> {
  await writeBytes(runLayout.compaction(run, name), JSON.stringify(value, null, 2) + '\n', 'application/json');
}

export const groupMarker = (index: number) => `group-${String(index).padStart(5, '0')}.json`;
