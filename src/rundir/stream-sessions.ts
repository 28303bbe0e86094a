import { listFolders } from '../storage/storage.js';
import { joinUri } from '../storage/uri.js';
import { shardName } from './layout.js';
import { resultFiles } from './result-files.js';

/**
 * A stream session: one run directory under `<root>/stream/` per listener process (and per
 * --session-minutes), whose shards are the micro-batches it tagged, in order. It is an ordinary
 * run (plan.json, shards, staging, commits) so every reader of runs reads it; plan.json's shard
 * count grows with each batch. The listener holds `leases/listener.json` while the session is open:
 * a session without a live lease is closed, and the nightly folds and compacts it.
 */
export const streamLayout = {
  dir: (root: string) => joinUri(root, 'stream/'),
  session: (root: string, name: string) => joinUri(root, 'stream', name),
  lease: (session: string) => joinUri(session, 'leases', 'listener.json'),
  deletions: (session: string, i: number) => joinUri(session, 'deletions', `part-${shardName(i)}.json`),
};

/** What a deletions file holds: the objects removed, with S3's order token, for the nightly and the "now" view. */
export interface DeletionsFile {
  removed: { uri: string; sequencer?: string; time: string }[];
}

/** The stream sessions under a nightly root, oldest first. */
export async function streamSessions(root: string): Promise<string[]> {
  return (await listFolders(streamLayout.dir(root))).map((f) => f.replace(/\/$/, '')).sort();
}

/** Every Parquet file holding rows the stream tagged (a closed session's merged files, an open one's staged ones). */
export async function streamResultFiles(root: string): Promise<string[]> {
  return (await Promise.all((await streamSessions(root)).map(resultFiles))).flat();
}
