import { UserError } from '../errors.js';
import { deleteObjects, exists, readText, writeBytes } from '../storage/storage.js';
import { joinUri } from '../storage/uri.js';

/**
 * `<run>/tasks.json`: the shards an array's children take when a run is submitted again with some
 * shards already committed (a child failed for good, the nightly or an operator resubmits). Child
 * i takes entries [i*K, i*K+K) of `shards`, so one unfinished shard of 150,000 starts one child,
 * not 10,000 that find their work done. Without the file, child i takes shards [i*K, i*K+K).
 */
export interface TaskMap {
  version: 1;
  shards: number[];
}

const taskMapUri = (run: string) => joinUri(run, 'tasks.json');

export async function readTaskMap(run: string): Promise<TaskMap | undefined> {
  const uri = taskMapUri(run);
  if (!(await exists(uri))) return undefined;
  const map = JSON.parse(await readText(uri)) as Partial<TaskMap>;
  if (map.version !== 1 || !Array.isArray(map.shards) || !map.shards.every((s) => Number.isInteger(s) && s >= 0)) {
    throw new UserError(`${uri} is damaged (no list of shard numbers): delete it and submit the run again`);
  }
  return map as TaskMap;
}

/** Write the map before the array is submitted (its children read it when they start); none when every shard is pending. */
export async function writeTaskMap(run: string, pending: number[], total: number): Promise<void> {
  if (pending.length === total) {
    if (await exists(taskMapUri(run))) await deleteObjects([taskMapUri(run)]);
    return;
  }
  await writeBytes(taskMapUri(run), JSON.stringify({ version: 1, shards: pending } satisfies TaskMap));
}
