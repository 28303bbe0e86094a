import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { cpuFlags, ROOT } from './bench-env.js';
import { writeBenchmarkSection } from './benchmarks-md.js';
import { tiledHeif } from '../test/helpers/heif.js';

/**
 * Memory soak: one worker's decode stage (two decodes at a time, as its libuv threads) over 10,000
 * phone photos as HEIC (with a 320 thumbnail, as phones store them; FFmpeg's HEVC decoder, and
 * libde265 over a fifth as many) and 10,000 as JPEG, RSS after every tenth. Flat is the point: a leak of a decoder
 * context per grid tile once took a worker past 2 GB; a 2x2 grid of 512x512 tiles (an iPhone
 * photo's layout, 4 tiles of its 48), decoded a tenth as many times, shows that path alone.
 * Needs heif-enc (libheif-examples).
 * Usage: node dist/scripts/bench-soak.js [images-dir] [count]
 */
const images = process.argv[2] ?? path.resolve(ROOT, '../shared/images');
const count = Number(process.argv[3] ?? 10_000);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-soak-'));
const jpegs = fs.readdirSync(path.join(images, 'large')).filter((f) => /\.jpe?g$/i.test(f)).sort().map((f) => path.join(images, 'large', f));
const heics = jpegs.map((jpeg) => {
  const out = path.join(work, `${path.basename(jpeg).replace(/\.[^.]+$/, '')}.heic`);
  execFileSync('heif-enc', ['-q', '70', '-t', '320', '-o', out, jpeg], { stdio: 'ignore' });
  return out;
});
// The grid: four 512x512 tiles of the first photo, each its own HEVC image, as iPhones store them.
const tiles: Buffer[] = [];
for (let i = 0; i < 4; i++) {
  const png = path.join(work, `tile-${i}.png`);
  const out = path.join(work, `tile-${i}.heic`);
  await sharp(jpegs[0]!).extract({ left: (i % 2) * 512, top: (i >> 1) * 512, width: 512, height: 512 }).png().toFile(png);
  execFileSync('heif-enc', ['-q', '70', '-o', out, png], { stdio: 'ignore' });
  tiles.push(fs.readFileSync(out));
}
const grid = path.join(work, 'grid.heic');
fs.writeFileSync(grid, tiledHeif([[tiles[0]!, tiles[1]!], [tiles[2]!, tiles[3]!]], { width: 1024, height: 1024 }));

interface Soak {
  rss: number[];
  peak: number;
}
const soak = (files: string[], env: NodeJS.ProcessEnv, n: number): Soak =>
  JSON.parse(
    execFileSync(process.execPath, ['--expose-gc', path.join(ROOT, 'dist/scripts/bench/soak-decode.js'), ...files], {
      encoding: 'utf8',
      env: { ...process.env, UV_THREADPOOL_SIZE: '2', SOAK_COUNT: String(n), ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim().split('\n').pop()!,
  ) as Soak;

const sets = [
  { name: `${heics.length} phone photos as HEIC (FFmpeg HEVC decoder, the default)`, files: heics, env: {}, n: count },
  // libde265 for its peak beside FFmpeg's: a fifth as many (it is the slower decoder).
  { name: `${heics.length} phone photos as HEIC (libde265)`, files: heics, env: { IMGTAG_HEVC_DECODER: 'libde265' }, n: count / 5 },
  { name: `the same ${jpegs.length} photos as JPEG`, files: jpegs, env: {}, n: count },
  { name: 'a 2x2 grid of 512x512 HEVC tiles (FFmpeg)', files: [grid], env: {}, n: count / 10 },
  { name: 'a 2x2 grid of 512x512 HEVC tiles (libde265)', files: [grid], env: { IMGTAG_HEVC_DECODER: 'libde265' }, n: count / 10 },
];
const rows = sets.map((s) => {
  const r = soak(s.files, s.env, s.n);
  console.log(s.name, JSON.stringify(r));
  // Memory only: decode rates on a shared machine belong to "HEIC decode", measured pinned to a core.
  return `| ${s.name} | ${s.n.toLocaleString('en')} | ${r.rss[0]} | ${r.rss.at(-1)} | ${Math.max(...r.rss)} | ${r.peak} | ${(r.rss.at(-1)! / r.rss[0]!).toFixed(2)}x |`;
});
const cpu = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:(.*)$/m)?.[1]?.trim() ?? 'unknown CPU';
const vnni = /\bavx512_vnni\b/.test(fs.readFileSync('/proc/cpuinfo', 'utf8')) ? 'avx512_vnni is there' : 'no avx512_vnni';
writeBenchmarkSection(
  path.join(ROOT, 'BENCHMARKS.md'),
  'Memory soak: one worker over 10,000 HEIC and 10,000 JPEG photos',
  [
    `${cpu}, ${os.cpus().length} cores (shared); CPU flags: ${cpuFlags()} (${vnni}). One process decoding as a worker does (two at a time on libuv's threads, to the 224x224 slot) the ${jpegs.length} phone photos (~3000 px, 4:3 from their thumbnail, 16:9 decoded whole), in turn; RSS after a GC at each tenth of the count, and the peak sampled every 50 decodes. libde265 over a fifth as many (the slower decoder); the grid, a tenth as many, is the tile path alone.`,
    '',
    '| photos | decodes | RSS after 1/10, MB | RSS at the end, MB | highest tenth, MB | peak RSS, MB | end / first tenth |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    'Reproduce: `apt-get install libheif-examples && npm run build && node dist/scripts/bench-soak.js` (about 45 minutes on 2 shared cores).',
  ].join('\n'),
);
fs.rmSync(work, { recursive: true, force: true });
