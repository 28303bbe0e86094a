import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = path.join(ROOT, 'dist/cli/imgtag.js');

/** Shared test data: set by .ci/run; a checkout beside ../shared finds it by itself. */
function sharedDir(envName: string, fallback: string): string {
  const dir = process.env[envName] ?? path.resolve(ROOT, '..', 'shared', fallback);
  if (!fs.existsSync(dir)) {
    throw new Error(`${envName} is not set and ${dir} does not exist: point it at the models/images folder (see README)`);
  }
  return dir;
}

export const MODEL_DIR = sharedDir('IMGTAG_MODEL_DIR', 'models');
export const IMAGE_DIR = sharedDir('IMGTAG_IMAGE_DIR', 'images');
export const IMAGENET_DIR = path.join(IMAGE_DIR, 'imagenet-samples');
export const LARGE_DIR = path.join(IMAGE_DIR, 'large');

process.env.IMGTAG_MODEL_DIR = MODEL_DIR;
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
// One worker process unless a test asks for more (--workers): a worker's start costs ~1.3 s of CPU,
// more than tagging the few dozen images of most tests, and the suite runs three files at once on 2 cores (many tests wait on timeouts, not the CPU).
process.env.IMGTAG_WORKERS ??= '1';

export function imagenetFiles(): string[] {
  return fs
    .readdirSync(IMAGENET_DIR)
    .filter((f) => f.endsWith('.JPEG'))
    .sort();
}
