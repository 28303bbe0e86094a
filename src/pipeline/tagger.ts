import sharp from 'sharp';
import { loadClassifier, type Classifier } from '../infer/session.js';
import { resolveModel } from '../model/resolve.js';
import { describeMachine } from '../infer/machine.js';
import { configureS3 } from '../storage/s3-config.js';
import { modelSet } from './model-set.js';
import { runShard, type ShardHooks, type ShardOutcome } from './run-shard.js';
import { decodesInFlight, type StageLimits } from './stage-limits.js';
import type { WorkerInit } from './worker-init.js';
import { DEFAULTS } from '../defaults.js';

/** One process's tagging engine: configured once, then fed shard numbers. */
export interface Tagger {
  tag(shard: number, hooks?: ShardHooks): Promise<ShardOutcome>;
  close(): Promise<void>;
}

export async function createTagger(init: WorkerInit): Promise<Tagger> {
  configureS3(init.s3);
  // Decode threads and model threads share the cores given to this process.
  sharp.concurrency(init.threads);
  // Every image is new: libvips's operation cache (up to 50 MB) would only grow the RSS.
  sharp.cache(false);
  // Each model file is fetched (from S3 if need be), verified and loaded once per worker process.
  const classifiers: Classifier[] = [];
  try {
    for (const m of init.models) classifiers.push(await loadClassifier(await resolveModel(m), { threads: init.threads, device: init.device }));
    const models = modelSet(classifiers, init.shard.maxPixels);
    const limits: StageLimits = {
      fetch: init.shard.concurrency,
      maxBytes: init.shard.maxBytes ?? DEFAULTS.maxBytes,
      decode: decodesInFlight(init.threads),
      batchSize: init.shard.batchSize,
      // A GPU overlaps a batch's host-to-device copy with the previous batch's compute; a CPU has no spare cores for it.
      infer: init.device === 'cpu' ? 1 : 2,
    };
    const machine = await describeMachine(init.device);
    return {
      tag: (shard, hooks) => runShard({ dir: init.run, id: init.runId, machine }, shard, models, limits, hooks),
      close: async () => void (await Promise.all(classifiers.map((c) => c.release()))),
    };
  } catch (e) {
    await Promise.all(classifiers.map((c) => c.release()));
    throw e;
  }
}
