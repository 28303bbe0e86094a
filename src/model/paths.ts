import { DEFAULTS } from '../defaults.js';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { settings } from '../settings.js';

/** The specs shipped with imgtag (models/*.json in the package). */
export const BUILTIN_MODEL_DIR = fileURLToPath(new URL('../../../models/', import.meta.url));


/** The XDG cache's imgtag folder: $XDG_CACHE_HOME/imgtag, else ~/.cache/imgtag. */
export const xdgCacheRoot = (env: NodeJS.ProcessEnv = process.env): string => path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'imgtag');

/** imgtag's download cache: $IMGTAG_CACHE_DIR, else the XDG cache. */
export function cacheRoot(): string {
  return settings().cacheDir ?? xdgCacheRoot();
}

/** Where `npm run fetch-model` puts downloads. */
export function modelCacheDir(): string {
  return path.join(cacheRoot(), 'models');
}

/** Folders searched for a model's .onnx and labels files, in order. */
export function modelSearchDirs(specDir: string): string[] {
  const dirs = [specDir];
  const modelDir = settings().modelDir;
  if (modelDir) dirs.push(path.resolve(modelDir));
  dirs.push(modelCacheDir());
  return [...new Set(dirs)];
}
