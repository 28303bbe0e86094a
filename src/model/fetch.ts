import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { downloadPinned } from '../storage/pinned-download.js';
import { builtinSpecFile, readSpec, sha256Hex } from './resolve.js';
import { modelCacheDir, modelSearchDirs } from './paths.js';
import type { ModelSpec } from './spec.js';

export interface FetchedFile {
  file: string;
  path: string;
  action: 'present' | 'downloaded';
}

/** Download one file to the cache unless a verified copy is already in a search folder. */
async function fetchFile(file: string, url: string | undefined, sha256: string | undefined, mirror?: string): Promise<FetchedFile> {
  for (const dir of modelSearchDirs(modelCacheDir())) {
    const p = path.join(dir, file);
    if (fs.existsSync(p) && (sha256 === undefined || sha256Hex(await fsp.readFile(p)) === sha256)) {
      return { file, path: p, action: 'present' };
    }
  }
  const from = mirror ? `${mirror.replace(/\/+$/, '')}/${file}` : url;
  if (!from) throw new UserError(`${file} has no download URL in its spec: place it in IMGTAG_MODEL_DIR`);
  const dest = path.join(modelCacheDir(), file);
  await downloadPinned(from, sha256, dest, `put ${file} in a folder named by IMGTAG_MODEL_DIR, or download it through a mirror (npm run fetch-model -- --mirror <url>)`);
  return { file, path: dest, action: 'downloaded' };
}

/** Make a model's .onnx and labels available locally, checked against the sha256 in its spec. */
export async function fetchModel(spec: ModelSpec, mirror?: string): Promise<FetchedFile[]> {
  const files = [await fetchFile(spec.file, spec.url, spec.sha256, mirror)];
  if (spec.labels) files.push(await fetchFile(spec.labels.file, spec.labels.url, spec.labels.sha256, mirror));
  return files;
}

/** For the demo on a fresh machine: fetch a built-in model by name if it is not here yet. */
export async function ensureBuiltinModel(name: string): Promise<void> {
  const specFile = builtinSpecFile(name);
  if (fs.existsSync(specFile)) await fetchModel(await readSpec(specFile));
}
