import sharp from 'sharp';
import { loadClassifier, type Classifier } from '../infer/session.js';
import { resolveModel } from '../model/resolve.js';
import { configureS3 } from '../storage/s3-client.js';
import { modelSet, runShard, type ShardOutcome } from './run-shard.js';
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
  // Each model file is fetched (from S3 if need be), verified and loaded once per worker process.
  const classifiers: Classifier[] = [];
  try {
    for (const m of init.models) classifiers.push(await loadClassifier(await resolveModel(m), { threads: init.threads, device: init.device }));
    const models = modelSet(classifiers, init.shard.maxPixels);
    return {
      tag: (shard) => runShard(init.run, shard, models, init.shard),
      close: async () => void (await Promise.all(classifiers.map((c) => c.release()))),
    };
  } catch (e) {
    await Promise.all(classifiers.map((c) => c.release()));
    throw e;
  }
}
