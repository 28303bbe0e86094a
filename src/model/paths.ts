import { DEFAULTS } from '../defaults.js';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The specs shipped with imgtag (models/*.json in the package). */
export const BUILTIN_MODEL_DIR = fileURLToPath(new URL('../../../models/', import.meta.url));

export const DEFAULT_MODEL = DEFAULTS.model;

/** Where `npm run fetch-model` puts downloads: $IMGTAG_CACHE_DIR, else the XDG cache. */
export function modelCacheDir(): string {
  const base = process.env.IMGTAG_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'imgtag');
  return path.join(base, 'models');
}

/** Folders searched for a model's .onnx and labels files, in order. */
export function modelSearchDirs(specDir: string): string[] {
  const dirs = [specDir];
  if (process.env.IMGTAG_MODEL_DIR) dirs.push(path.resolve(process.env.IMGTAG_MODEL_DIR));
  dirs.push(modelCacheDir());
  return [...new Set(dirs)];
}
