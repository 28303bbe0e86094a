import fsp from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import { manifestSource } from '../manifest/index.js';
import { createPlan } from '../plan/plan.js';
import { isImageUri } from '../plan/filter.js';
import { defaultWorkers, runPlan, type RunEvent, type RunSummary } from '../run/run-plan.js';
import { readResults, topLabels } from '../output/read-results.js';
import { resultFiles } from '../rundir/result-files.js';
import { configureS3 } from '../storage/s3-config.js';
import { listObjects, writeBytes } from '../storage/storage.js';
import { s3Uri } from '../storage/uri.js';
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from './local-s3.js';
import { syntheticImage } from './synthetic.js';
import { ensureBuiltinModel } from '../model/fetch.js';
import { modelsOrDefault } from '../defaults.js';
import type { RunStop } from '../pool/stop.js';
import { DEFAULTS } from '../defaults.js';

export interface DemoOptions {
  /** A folder of images to upload; otherwise `count` generated ones. */
  images?: string;
  count: number;
  run: string;
  models: string[];
  workers?: number;
  batchSize: number;
  concurrency: number;
  stop?: RunStop;
}

export interface DemoResult {
  endpoint: string;
  run: string;
  summary: RunSummary;
  top: { label: string; count: number }[];
}

const BUCKET = 'imgtag-demo';

/** Upload the images under images/ in the demo bucket; returns their URIs in order. */
async function uploadImages(opts: DemoOptions): Promise<string[]> {
  const limit = pLimit(8);
  if (opts.images !== undefined) {
    const files: string[] = [];
    for await (const f of listObjects(path.resolve(opts.images))) if (isImageUri(f.uri)) files.push(f.uri);
    return Promise.all(
      files.map((file) =>
        limit(async () => {
          const uri = s3Uri(BUCKET, `images/${path.relative(path.resolve(opts.images!), file)}`);
          await writeBytes(uri, await fsp.readFile(file));
          return uri;
        }),
      ),
    );
  }
  return Promise.all(
    Array.from({ length: opts.count }, (_, i) =>
      limit(async () => {
        const format = i % 4 === 3 ? 'png' : 'jpeg';
        const uri = s3Uri(BUCKET, `images/${String(i).padStart(5, '0')}.${format === 'png' ? 'png' : 'jpg'}`);
        await writeBytes(uri, await syntheticImage(i + 1, 320 + (i % 5) * 80, 240 + (i % 3) * 60, format));
        return uri;
      }),
    ),
  );
}

/** The whole job on one machine with no cloud account: a loopback S3 server, a key list, plan, run, summary. */
export async function runDemo(opts: DemoOptions, log: (e: RunEvent | { event: string; [k: string]: unknown }) => void): Promise<DemoResult> {
  // A fresh machine has no model yet: fetch the built-in one (sha256-checked) before anything else.
  for (const m of modelsOrDefault(opts.models)) await ensureBuiltinModel(m);
  Object.assign(process.env, LOCAL_S3_CREDENTIALS);
  const s3 = await startLocalS3({ buckets: [BUCKET] });
  try {
    configureS3({ endpoint: s3.endpoint });
    log({ event: 'demo-s3', endpoint: s3.endpoint });
    const uris = await uploadImages(opts);
    log({ event: 'demo-uploaded', images: uris.length });
    const keyList = s3Uri(BUCKET, 'keys.txt');
    await writeBytes(keyList, uris.map((u) => `${u}\n`).join(''));
    const shardSize = Math.max(1, Math.ceil(uris.length / Math.max(4, (opts.workers ?? defaultWorkers('cpu')) * 2)));
    await createPlan(manifestSource({ manifest: keyList }), opts.run, { shardSize });
    const summary = await runPlan(
      {
        run: opts.run,
        models: opts.models,
        workers: opts.workers,
        batchSize: opts.batchSize,
        concurrency: opts.concurrency,
        maxPixels: DEFAULTS.maxPixels,
        s3: { endpoint: s3.endpoint },
        stop: opts.stop,
      },
      log,
    );
    const rows = (await Promise.all((await resultFiles(opts.run)).map((f) => readResults(f)))).flat();
    return { endpoint: s3.endpoint, run: opts.run, summary, top: topLabels(rows, 5) };
  } finally {
    await s3.close();
  }
}
