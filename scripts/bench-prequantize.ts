import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packBatch } from '../src/batch/pack.js';
import { decodeImage } from '../src/decode/decode.js';
import { loadClassifier } from '../src/infer/session.js';
import { resolveModel } from '../src/model/resolve.js';
import { cpuFlags, ONE_CORE, ROOT } from './bench-env.js';
import { writeBenchmarkSection } from './benchmarks-md.js';

/**
 * Pre-quantized input against the normalising graph: one process per try, pinned to one core, decodes
 * (JPEG fast path), packs and tags the ImageNet samples COPIES times in batches of 16 with the default
 * model; the two ways alternate, ROUNDS tries each, and the median CPU per image (every thread of the
 * process: decode, the table pass, onnxruntime) and peak RSS are kept.
 * Usage: node dist/scripts/bench-prequantize.js [images-dir] [copies] [rounds]
 */
const BATCH = 16;
const [, , first, second, third] = process.argv;

async function child(mode: string, images: string, copies: number): Promise<void> {
  const samples = path.join(images, 'imagenet-samples');
  const files = fs.readdirSync(samples).filter((f) => /\.jpe?g$/i.test(f)).sort().map((f) => fs.readFileSync(path.join(samples, f)));
  const all = Array.from({ length: copies }, () => files).flat();
  const classifier = await loadClassifier(await resolveModel('mobilenetv2-12-int8'), { threads: 1, prequantize: mode === 'prequantized' });
  if (classifier.prequantized !== (mode === 'prequantized')) throw new Error(`asked for ${mode}, got prequantized=${classifier.prequantized}`);
  const target = { width: 224, height: 224, shortSide: 256, maxPixels: 100_000_000 };
  const batchOf = async (at: number) => {
    const slice = all.slice(at, at + BATCH);
    const pixels = (await Promise.all(slice.map((b) => decodeImage(b, [target])))).map((d) => d.pixels[0]!);
    await classifier.classify(packBatch(slice.map(String), pixels, 224 * 224 * 3).tensor, slice.length);
  };
  await batchOf(0); // warm: onnxruntime's first run allocates its arena
  const cpu = process.cpuUsage();
  for (let at = 0; at < all.length; at += BATCH) await batchOf(at);
  const used = process.cpuUsage(cpu);
  await classifier.release();
  console.log(JSON.stringify({ cpuMs: (used.user + used.system) / 1000 / all.length, rssMb: process.resourceUsage().maxRSS / 1024, images: all.length }));
}

if (first === 'child') await child(second!, third!, Number(process.argv[5]));
else {
  const images = first ?? path.resolve(ROOT, '../shared/images');
  const copies = Number(second ?? 4);
  const rounds = Number(third ?? 3);
  const script = path.join(ROOT, 'dist/scripts/bench-prequantize.js');
  const modes = ['normalising', 'prequantized'] as const;
  const got: Record<string, { cpuMs: number; rssMb: number; images: number }[]> = { normalising: [], prequantized: [] };
  for (let r = 0; r < rounds; r++) {
    for (const mode of r % 2 ? [...modes].reverse() : modes) {
      const out = execFileSync(ONE_CORE[0]!, [...ONE_CORE.slice(1), process.execPath, script, 'child', mode, images, String(copies)], { encoding: 'utf8', env: { ...process.env, UV_THREADPOOL_SIZE: '1' } });
      got[mode]!.push(JSON.parse(out.trim().split('\n').pop()!));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const row = (mode: string) => {
    const g = got[mode]!;
    return { cpu: median(g.map((x) => x.cpuMs)), rss: median(g.map((x) => x.rssMb)), all: g.map((x) => x.cpuMs.toFixed(3)).join(', ') };
  };
  const [a, b] = [row('normalising'), row('prequantized')];
  const table = [
    `${os.cpus()[0]?.model ?? 'cpu'}, CPU flags: ${cpuFlags()} (the table pass's SIMD path needs avx512vbmi). One process per try on one core (decode on libuv's one thread, onnxruntime one thread), ${got.normalising![0]!.images} images (the ImageNet samples x ${copies}, JPEG fast path), MobileNetV2 int8, batch 16; the two ways alternate, ${rounds} tries each, medians.`,
    '',
    '| input | CPU per image (decode + pack + tag) | each try | peak RSS |',
    '| --- | --- | --- | --- |',
    `| normalising graph (Cast, BatchNormalization, QuantizeLinear in onnxruntime) | ${a.cpu.toFixed(3)} ms | ${a.all} | ${a.rss.toFixed(0)} MB |`,
    `| pre-quantized (per-channel table in one native pass, AVX-512 VBMI where the CPU has it; the graph starts at the quantized bytes) | ${b.cpu.toFixed(3)} ms (**${(b.cpu / a.cpu).toFixed(3)}x**) | ${b.all} | ${b.rss.toFixed(0)} MB (${(((b.rss - a.rss) / a.rss) * 100).toFixed(0)}%) |`,
    '',
    'Top-5 labels and scores are identical bit for bit on every decode path (test/prequantize.test.ts). Reproduce: `npm run build && node dist/scripts/bench-prequantize.js`.',
  ].join('\n');
  console.log(table);
  writeBenchmarkSection(path.join(ROOT, 'BENCHMARKS.md'), 'Pre-quantized input: the int8 model fed its quantized bytes, one core', table);
}
