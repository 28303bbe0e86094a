import fs from 'node:fs';
import sharp from 'sharp';
import { writeImage } from '../../src/batch/pack.js';
import { decodeImage } from '../../src/decode/decode.js';
import { BUILTIN_MODEL_DIR } from '../../src/model/paths.js';

/** imgtag's decode stage alone, one image at a time on one thread, to a normalised float tensor. Prints seconds. */
sharp.concurrency(1);
const spec = JSON.parse(fs.readFileSync(`${BUILTIN_MODEL_DIR}/mobilenetv2-12-int8.json`, 'utf8'));
const target = { width: 224, height: 224, shortSide: 256, maxPixels: 100_000_000 };
const blobs = process.argv.slice(2).map((f) => fs.readFileSync(f));
const tensor = new Float32Array(3 * 224 * 224);
const once = async (b: Buffer) => writeImage(tensor, 0, (await decodeImage(b, [target])).pixels[0]!, spec.input);
for (const b of blobs.slice(0, 5)) await once(b);
const start = performance.now();
for (const b of blobs) await once(b);
console.log((performance.now() - start) / 1000);
