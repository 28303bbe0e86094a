import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { cpuFlags, ROOT } from './bench-env.js';
import { writeBenchmarkSection } from './benchmarks-md.js';
import { readMarkers } from '../src/rundir/commits.js';
import { tiledHeif } from '../test/helpers/heif.js';

/**
 * `imgtag run --workers 1` over 1,500 HEIC keys with FFmpeg's HEVC decoder (the default) and with
 * libde265: the worker's peak RSS (its commit markers record it) side by side. The keys are links to
 * the 50 HEIC samples and to 2x2 grids of 512x512 tiles made from the phone photos (a phone's
 * layout: each tile its own HEVC image, the path that once leaked a decoder context per tile).
 * Needs heif-enc. Usage: node dist/scripts/bench-heic-rss.js [images-dir] [keys]
 */
const images = process.argv[2] ?? path.resolve(ROOT, '../shared/images');
const count = Number(process.argv[3] ?? 1500);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-heic-rss-'));
const CLI = path.join(ROOT, 'dist/cli/imgtag.js');

const samples = fs.readdirSync(path.join(images, 'heic')).filter((f) => /^n\d+_.*\.heic$/.test(f)).map((f) => path.join(images, 'heic', f));
const phones = fs.readdirSync(path.join(images, 'large')).filter((f) => /\.jpe?g$/i.test(f)).sort().map((f) => path.join(images, 'large', f));
const grids: string[] = [];
for (const [p, phone] of phones.entries()) {
  const tiles: Buffer[] = [];
  for (let i = 0; i < 4; i++) {
    const png = path.join(work, `t${p}-${i}.png`);
    const out = path.join(work, `t${p}-${i}.heic`);
    await sharp(phone).extract({ left: (i % 2) * 512, top: (i >> 1) * 512, width: 512, height: 512 }).png().toFile(png);
    execFileSync('heif-enc', ['-q', '70', '-o', out, png], { stdio: 'ignore' });
    tiles.push(fs.readFileSync(out));
  }
  const grid = path.join(work, `grid-${p}.heic`);
  fs.writeFileSync(grid, tiledHeif([[tiles[0]!, tiles[1]!], [tiles[2]!, tiles[3]!]], { width: 1024, height: 1024 }));
  grids.push(grid);
}
const files = [...samples, ...grids];
// Distinct keys: links in as many folders as it takes.
const keys = Array.from({ length: count }, (_, i) => {
  const dir = path.join(work, 'keys', String(Math.floor(i / files.length)));
  fs.mkdirSync(dir, { recursive: true });
  const link = path.join(dir, path.basename(files[i % files.length]!));
  fs.symlinkSync(files[i % files.length]!, link);
  return link;
});
fs.writeFileSync(path.join(work, 'keys.txt'), keys.join('\n'));

async function peak(decoder: string): Promise<{ rss: number }> {
  const run = path.join(work, `run-${decoder}`);
  const env = { ...process.env, IMGTAG_HEVC_DECODER: decoder };
  execFileSync(process.execPath, [CLI, 'plan', '--manifest', path.join(work, 'keys.txt'), '--run', run, '--shard-size', '100'], { env, stdio: 'ignore' });
  const res = spawnSync(process.execPath, [CLI, 'run', '--run', run, '--workers', '1', '--no-compact'], { env, encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`run (${decoder}) exited ${res.status}: ${res.stderr.slice(-2000)}`);
  const markers = await readMarkers(run);
  return { rss: Math.max(...markers.map((m) => m.maxRssMb)) };
}

const ffmpeg = await peak('ffmpeg');
const libde265 = await peak('libde265');
// Memory only: rates on a shared machine belong to "HEIC decode", measured pinned to a core.
const rows = [`| FFmpeg (the default) | ${ffmpeg.rss} | ${(ffmpeg.rss / libde265.rss).toFixed(2)}x |`, `| libde265 | ${libde265.rss} | 1.00x |`];
console.log(rows.join('\n'));
writeBenchmarkSection(
  path.join(ROOT, 'BENCHMARKS.md'),
  'Memory: imgtag run over 1,500 HEIC, FFmpeg against libde265',
  [
    `\`imgtag run --workers 1\` (MobileNetV2 int8, local files; CPU flags: ${cpuFlags()}) over ${count.toLocaleString('en')} HEIC keys: the 50 samples and ${grids.length} 2x2 grids of 512x512 tiles cut from the phone photos, in turn. The worker's peak RSS from its commit markers.`,
    '',
    '| HEVC decoder | worker peak RSS, MB | vs libde265 |',
    '| --- | --- | --- |',
    ...rows,
    '',
    'Reproduce: `apt-get install libheif-examples && npm run build && node dist/scripts/bench-heic-rss.js`.',
  ].join('\n'),
);
fs.rmSync(work, { recursive: true, force: true });
