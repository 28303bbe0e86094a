import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import { sha256Hex } from '../model/resolve.js';
import { cacheRoot } from '../model/paths.js';
import { settings } from '../settings.js';
import { downloadPinned, mirroredUrl } from '../storage/pinned-download.js';

/** One photograph of the demo's set: where it comes from, its credit, and what the model should see. */
export interface DemoPhoto {
  file: string;
  url: string;
  sha256: string;
  bytes: number;
  credit: string;
  licence: string;
  /** ImageNet labels any of which the default model should give as the photo's first tag. */
  expect?: string[];
}

const BUILTIN_LIST = fileURLToPath(new URL('../../../data/demo-photos.json', import.meta.url));

/** The photo list: IMGTAG_DEMO_PHOTOS (a file of the same shape), else the one shipped with imgtag. */
export function demoPhotoList(): DemoPhoto[] {
  const file = settings().demoPhotos ?? BUILTIN_LIST;
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { photos: DemoPhoto[] }).photos;
}

/** Where downloaded demo photos are kept: <cache>/demo-photos. */
export const demoPhotoDir = (): string => path.join(cacheRoot(), 'demo-photos');

/**
 * The demo's photographs on this machine: each checked by sha256 in the cache, the missing ones
 * downloaded (about 11 MB the first time). Throws a UserError naming the URL and the ways around
 * it when a download fails; the caller falls back to generated images.
 */
export async function ensureDemoPhotos(mirror?: string): Promise<{ dir: string; photos: DemoPhoto[]; downloaded: number }> {
  const dir = demoPhotoDir();
  const photos = demoPhotoList();
  const limit = pLimit(4);
  const around = 'imgtag demo --images DIR tags a folder of your own, --mirror URL downloads the same files from elsewhere';
  const got = await Promise.all(
    photos.map((p) =>
      limit(async () => {
        const file = path.join(dir, p.file);
        if (fs.existsSync(file) && sha256Hex(await fsp.readFile(file)) === p.sha256) return 0;
        await downloadPinned(mirroredUrl(p.url, mirror), p.sha256, file, around);
        return 1;
      }),
    ),
  );
  return { dir, photos, downloaded: got.reduce<number>((a, b) => a + b, 0) };
}
