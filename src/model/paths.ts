import { DEFAULTS } from '../defaults.js';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { settings } from '../settings.js';

/** The specs shipped with imgtag (models/*.json in the package). */
export const BUILTIN_MODEL_DIR = fileURLToPath(new URL('../../../models/', import.meta.url));


/** Where `npm run fetch-model` puts downloads: $IMGTAG_CACHE_DIR, else the XDG cache. */
export function modelCacheDir(): string {
  const base = settings().cacheDir ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'imgtag');
  return path.join(base, 'models');
}

/** Folders searched for a model's .onnx and labels files, in order. */
export function modelSearchDirs(specDir: string): string[] {
  const dirs = [specDir];
  const modelDir = settings().modelDir;
  if (modelDir) dirs.push(path.resolve(modelDir));
  dirs.push(modelCacheDir());
  return [...new Set(dirs)];
}
