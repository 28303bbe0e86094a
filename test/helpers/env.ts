import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { testDataDirs } from '../../scripts/test-data.js';

/** The repository root (tests run from dist/test). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = path.join(ROOT, 'dist/cli/imgtag.js');

/**
 * The models and photos: IMGTAG_MODEL_DIR and IMGTAG_IMAGE_DIR (set by .ci/run), else ../shared
 * beside the checkout, else what npm run fetch-test-data downloaded (npm test runs it first).
 */
const dirs = testDataDirs(process.env, ROOT);
if (!dirs) {
  throw new Error('no test data: IMGTAG_MODEL_DIR and IMGTAG_IMAGE_DIR are not set, ../shared is not beside the checkout, and nothing was downloaded: run npm run fetch-test-data (79 MB)');
}
export const MODEL_DIR = dirs.models;
export const IMAGE_DIR = dirs.images;
export const IMAGENET_DIR = path.join(IMAGE_DIR, 'imagenet-samples');
export const LARGE_DIR = path.join(IMAGE_DIR, 'large');

process.env.IMGTAG_MODEL_DIR = MODEL_DIR;
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
// One worker process unless a test asks for more (--workers): a worker's start costs ~1.3 s of CPU,
// more than tagging the few dozen images of most tests, and the suite runs four files at once on 2 cores (many tests wait on timeouts, not the CPU).
process.env.IMGTAG_WORKERS ??= '1';

export function imagenetFiles(): string[] {
  return fs
    .readdirSync(IMAGENET_DIR)
    .filter((f) => f.endsWith('.JPEG'))
    .sort();
}
