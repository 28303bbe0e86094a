import fsp from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import { manifestSource } from '../manifest/index.js';
import { createPlan } from '../plan/plan.js';
import { isImageUri } from '../plan/filter.js';
import { defaultWorkers, runPlan, type RunEvent, type RunSummary } from '../run/run-plan.js';
import { readResults, topLabels } from '../output/read-results.js';
import type { ResultRow } from '../output/rows.js';
import { UserError } from '../errors.js';
import { ensureDemoPhotos, type DemoPhoto } from './photos.js';
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
  /** A folder of images to upload; otherwise the pinned photographs, or `count` generated images. */
  images?: string;
  /** Generated images even when the photographs can be had. */
  generated?: boolean;
  /** Download the photographs from this base URL (same /owner/repo/commit/path layout). */
  mirror?: string;
  count: number;
  run: string;
  models: string[];
  workers?: number;
  batchSize: number;
  concurrency: number;
  stop?: RunStop;
}

/** What the model made of one pinned photograph. */
export interface PhotoOutcome {
  photo: DemoPhoto;
  /** The model's first three tags. */
  tags: { label: string; score: number }[];
  error?: string;
  /** One of the first three tags is one of the photo's expected labels (undefined: the list expects none). */
  asExpected?: boolean;
}

export interface DemoResult {
  endpoint: string;
  run: string;
  summary: RunSummary;
  top: { label: string; count: number }[];
  /** Set when the demo tagged the pinned photographs. */
  photos?: PhotoOutcome[];
}

const BUCKET = 'imgtag-demo';

/** Upload local files under images/ in the demo bucket, keyed by their path below `root`. */
async function uploadFiles(root: string, files: string[]): Promise<string[]> {
  const limit = pLimit(8);
  return Promise.all(
    files.map((file) =>
      limit(async () => {
        const uri = s3Uri(BUCKET, `images/${path.relative(root, file)}`);
        await writeBytes(uri, await fsp.readFile(file));
        return uri;
      }),
    ),
  );
}

/**
 * What the demo tags: a folder given with --images; else the pinned photographs (downloaded once);
 * else, offline or with --generated, `count` generated images. A failed download is one notice
 * saying why, and the demo goes on with generated images.
 */
async function uploadImages(opts: DemoOptions, log: (e: { event: string; [k: string]: unknown }) => void): Promise<{ uris: string[]; photos?: DemoPhoto[] }> {
  if (opts.images !== undefined) {
    const root = path.resolve(opts.images);
    const files: string[] = [];
    for await (const f of listObjects(root)) if (isImageUri(f.uri)) files.push(f.uri);
    return { uris: await uploadFiles(root, files) };
  }
  if (!opts.generated) {
    try {
      const { dir, photos, downloaded } = await ensureDemoPhotos(opts.mirror);
      if (downloaded > 0) log({ event: 'notice', message: `demo: ${downloaded} photograph(s) downloaded into ${dir}` });
      return { uris: await uploadFiles(dir, photos.map((p) => path.join(dir, p.file))), photos };
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      log({ event: 'notice', message: `demo: no photographs (${e.message}); tagging ${opts.count} generated images instead` });
    }
  }
  const limit = pLimit(8);
  const uris = await Promise.all(
    Array.from({ length: opts.count }, (_, i) =>
      limit(async () => {
        const format = i % 4 === 3 ? 'png' : 'jpeg';
        const uri = s3Uri(BUCKET, `images/${String(i).padStart(5, '0')}.${format === 'png' ? 'png' : 'jpg'}`);
        await writeBytes(uri, await syntheticImage(i + 1, 320 + (i % 5) * 80, 240 + (i % 3) * 60, format));
        return uri;
      }),
    ),
  );
  return { uris };
}

/** Each photograph's first tags beside what its list expects. */
function photoOutcomes(photos: DemoPhoto[], rows: ResultRow[]): PhotoOutcome[] {
  const byKey = new Map(rows.map((r) => [r.key, r]));
  return photos.map((photo) => {
    const row = byKey.get(`images/${photo.file}`);
    const tags = (row?.models[0]?.tags ?? []).slice(0, 3).map(({ label, score }) => ({ label, score }));
    if (tags.length === 0) return { photo, tags, error: row?.error ? `${row.error.stage}: ${row.error.message}` : 'no result row' };
    return { photo, tags, asExpected: photo.expect ? tags.some((t) => photo.expect!.includes(t.label)) : undefined };
  });
}

/** The whole job on one machine with no cloud account: a loopback S3 server, a key list, plan, run, summary. */
export async function runDemo(opts: DemoOptions, log: (e: RunEvent | { event: string; [k: string]: unknown }) => void): Promise<DemoResult> {
  // A fresh machine has no model yet: fetch the built-in one (sha256-checked) before anything else.
  // Offline, generated images stand in for the photographs, but nothing stands in for the model.
  for (const m of modelsOrDefault(opts.models)) {
    await ensureBuiltinModel(m).catch((e: unknown) => {
      throw e instanceof UserError ? new UserError(`the demo needs the model ${m} (one download, cached) even offline, and it is not on this machine: ${e.message}`) : e;
    });
  }
  Object.assign(process.env, LOCAL_S3_CREDENTIALS);
  const s3 = await startLocalS3({ buckets: [BUCKET] });
  try {
    configureS3({ endpoint: s3.endpoint });
    log({ event: 'demo-s3', endpoint: s3.endpoint });
    const { uris, photos } = await uploadImages(opts, log);
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
    return { endpoint: s3.endpoint, run: opts.run, summary, top: topLabels(rows, 5), ...(photos ? { photos: photoOutcomes(photos, rows) } : {}) };
  } finally {
    await s3.close();
  }
}
