import sharp from 'sharp';
import { loadClassifier, type Classifier } from '../infer/session.js';
import { resolveModel } from '../model/resolve.js';
import { configureS3 } from '../storage/s3-client.js';
import { runShard, type ShardOutcome } from './run-shard.js';
import type { WorkerInit } from './worker-protocol.js';

/** One process's tagging engine: configured once, then fed shard numbers. */
export interface Tagger {
  tag(shard: number): Promise<ShardOutcome>;
  close(): Promise<void>;
}

export async function createTagger(init: WorkerInit): Promise<Tagger> {
  configureS3(init.s3);
  // Decode threads and model threads share the cores given to this process.
  sharp.concurrency(init.threads);
  const classifier: Classifier = await loadClassifier(await resolveModel(init.model), { threads: init.threads, device: init.device });
  return {
    tag: (shard) => runShard(init.run, shard, classifier, init.shard),
    close: () => classifier.release(),
  };
}
