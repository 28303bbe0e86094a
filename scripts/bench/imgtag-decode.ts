import fs from 'node:fs';
import sharp from 'sharp';
import { decodeImage } from '../../src/decode/decode.js';
import { closeHeicPool } from '../../src/decode/heic.js';
import { benchClock } from './clock.js';

/**
 * imgtag's decode stage alone, one image at a time on one thread, to the model's 224x224 tensor slot:
 * uint8 RGB, copied into the batch buffer (normalisation runs inside the model, see infer/pixel-input.ts).
 * BENCH_REPEAT=k decodes the list k times (steady state on a small set). Prints seconds per pass.
 */
sharp.concurrency(1);
const target = { width: 224, height: 224, shortSide: 256, maxPixels: 100_000_000 };
const blobs = process.argv.slice(2).map((f) => fs.readFileSync(f));
const tensor = new Uint8Array(3 * 224 * 224);
const once = async (b: Buffer) => tensor.set((await decodeImage(b, [target])).pixels[0]!, 0);
for (const b of blobs.slice(0, 5)) await once(b);
const repeat = Number(process.env.BENCH_REPEAT ?? 1);
const start = benchClock();
for (let r = 0; r < repeat; r++) for (const b of blobs) await once(b);
console.log((benchClock() - start) / repeat);
await closeHeicPool();
