import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pLimit from 'p-limit';
import sharp from 'sharp';
import { cpuFlags, ROOT } from './bench-env.js';
import { writeBenchmarkSection } from './benchmarks-md.js';
import { parseLabels } from '../src/model/labels.js';
import { modelColumn, readRunResults } from '../test/helpers/results.js';

/**
 * Is a 16:9 photo's 320x180 thumbnail enough for the model? The 500 ImageNet samples cut to 16:9
 * (centre), tagged by `imgtag run` three ways: as JPEG (q95), as HEIC decoded whole, and as the
 * 320x180 picture a phone stores as the thumbnail (encoded as its own HEIC: decoding it is decoding
 * the thumbnail). Top-5 per model, and how many photos each way gets right that the whole image
 * does not, and the reverse. Needs heif-enc. Usage: node dist/scripts/bench-thumb169.js [images-dir]
 */
const images = process.argv[2] ?? path.resolve(ROOT, '../shared/images');
const samples = path.join(images, 'imagenet-samples');
const files = fs.readdirSync(samples).filter((f) => /\.jpe?g$/i.test(f)).sort();
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-thumb169-'));
const CLI = path.join(ROOT, 'dist/cli/imgtag.js');
const MODELS = ['mobilenetv2-12-int8', 'squeezenet1.1'];

const limit = pLimit(2);
const sets: Record<'jpeg' | 'whole' | 'thumb', string[]> = { jpeg: [], whole: [], thumb: [] };
await Promise.all(
  files.map((f) =>
    limit(async () => {
      const src = sharp(path.join(samples, f));
      const { width, height } = await src.metadata();
      // The largest 16:9 centre crop.
      const w = Math.min(width!, Math.floor((height! * 16) / 9));
      const h = Math.floor((w * 9) / 16);
      const base = f.replace(/\.[^.]+$/, '');
      const crop = await sharp(path.join(samples, f)).extract({ left: (width! - w) >> 1, top: (height! - h) >> 1, width: w, height: h }).png().toBuffer();
      const png = path.join(work, `${base}.png`);
      const small = path.join(work, `${base}-320.png`);
      fs.writeFileSync(png, crop);
      await sharp(crop).resize(320, 180, { fit: 'fill' }).png().toFile(small);
      await sharp(crop).jpeg({ quality: 95 }).toFile(path.join(work, `${base}.jpg`));
      const enc = (input: string, out: string) => promisify(execFile)('heif-enc', ['-q', '90', '-p', 'preset=veryfast', '-o', out, input]);
      await enc(png, path.join(work, `${base}.heic`));
      await enc(small, path.join(work, `${base}-thumb.heic`));
      sets.jpeg.push(path.join(work, `${base}.jpg`));
      sets.whole.push(path.join(work, `${base}.heic`));
      sets.thumb.push(path.join(work, `${base}-thumb.heic`));
    }),
  ),
);

const lines = fs.readFileSync(path.join(process.env.IMGTAG_MODEL_DIR!, 'synset.txt'), 'utf8').trim().split('\n');
const labels = parseLabels(lines.join('\n'), 'synset');
const byWnid = new Map(lines.map((l, i) => [l.split(' ')[0]!, labels[i]!]));

/** Which photos (by wnid file name) have their true class in the top 5. */
async function hits(name: string, paths: string[], model: string): Promise<Set<string>> {
  const dir = path.join(work, `${name}-${model}`);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'keys.txt'), paths.join('\n'));
  const run = path.join(dir, 'run');
  execFileSync(process.execPath, [CLI, 'plan', '--manifest', path.join(dir, 'keys.txt'), '--run', run, '--shard-size', '125'], { stdio: 'ignore' });
  execFileSync(process.execPath, [CLI, 'run', '--run', run, '--model', model, '--workers', '2'], { stdio: 'ignore', env: { ...process.env, IMGTAG_HEIC: 'full' } });
  const { rows } = await readRunResults(run);
  const out = new Set<string>();
  for (const r of rows) {
    const photo = path.basename(String(r.key)).split('.')[0]!.replace(/-thumb$/, '');
    if ((r[modelColumn('tags', model)] as { label: string }[] | null)?.some((t) => t.label === byWnid.get(photo.split('_')[0]!))) out.add(photo);
  }
  return out;
}

const pct = (n: number) => `${((n / files.length) * 100).toFixed(1)}%`;
const rows: string[] = [];
for (const model of MODELS) {
  const [jpeg, whole, thumb] = [await hits('jpeg', sets.jpeg, model), await hits('whole', sets.whole, model), await hits('thumb', sets.thumb, model)];
  const gained = [...thumb].filter((p) => !whole.has(p)).length;
  const lost = [...whole].filter((p) => !thumb.has(p)).length;
  rows.push(`| ${model} | ${pct(jpeg.size)} | ${pct(whole.size)} | ${pct(thumb.size)} | ${(((thumb.size - whole.size) / files.length) * 100).toFixed(1)} points (${lost} lost, ${gained} gained) | ${(((thumb.size - jpeg.size) / files.length) * 100).toFixed(1)} points |`);
  console.log(rows.at(-1));
}
writeBenchmarkSection(
  path.join(ROOT, 'BENCHMARKS.md'),
  'HEIC 16:9 thumbnails: top-5 from 320x180 against the whole image',
  [
    `The ${files.length} ImageNet samples cut to 16:9 (centre), tagged by \`imgtag run\` (CPU flags: ${cpuFlags()}): as JPEG (q95), as HEIC decoded whole, and from the 320x180 picture a phone stores as the thumbnail of a 16:9 photo (its short side 180, under the 224 crop: the model's resize enlarges it 1.42x).`,
    '',
    '| model | JPEG | HEIC, the whole image | HEIC, the 320x180 thumbnail | thumbnail vs whole | thumbnail vs JPEG |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    'The thumbnail floor (src/decode/native-targets.ts) is chosen from this table: a thumbnail is used when it keeps top-5 within one point of the whole image.',
    '',
    'Reproduce: `apt-get install libheif-examples && npm run build && node dist/scripts/bench-thumb169.js`.',
  ].join('\n'),
);
fs.rmSync(work, { recursive: true, force: true });
