import { readMarkers, stagedFile } from './commits.js';
import { readState, type CompactionDone } from './compaction.js';

/**
 * The Parquet files that hold a run's rows: the merged files once compaction is done, else each
 * committed shard's staged file. Never both, so a reader never counts a row twice.
 */
export async function resultFiles(run: string): Promise<string[]> {
  const done = await readState<CompactionDone>(run, 'done.json');
  if (done) return done.files.map((f) => f.uri);
  return (await readMarkers(run)).map((m) => stagedFile(run, m));
}
