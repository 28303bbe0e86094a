import fs from 'node:fs';
import { decodeImage } from '../../src/decode/decode.js';
import { closeHeicPool } from '../../src/decode/heic.js';

/**
 * A worker's decode stage over many photos: SOAK_COUNT decodes of the files given, in turn, two at a
 * time (a worker's libuv threads), each to the model's 224x224 slot. Prints JSON: RSS in MB after
 * every tenth of the count (after a GC, what is held), and the peak RSS sampled every 50 decodes.
 */
const target = { width: 224, height: 224, shortSide: 256, maxPixels: 100_000_000 };
const blobs = process.argv.slice(2).map((f) => fs.readFileSync(f));
const count = Number(process.env.SOAK_COUNT ?? 10_000);
const mb = (n: number) => Math.round(n / 1048576);
const held = () => {
  globalThis.gc?.();
  return mb(process.memoryUsage().rss);
};
let next = 0;
let peak = 0;
const rss: number[] = [];
const start = performance.now();
async function lane(): Promise<void> {
  for (let i = next++; i < count; i = next++) {
    await decodeImage(blobs[i % blobs.length]!, [target]);
    if (i % 50 === 0) peak = Math.max(peak, mb(process.memoryUsage().rss));
    if ((i + 1) % (count / 10) === 0) rss.push(held());
  }
}
await Promise.all([lane(), lane()]);
console.log(JSON.stringify({ rss, peak, seconds: (performance.now() - start) / 1000 }));
await closeHeicPool();
