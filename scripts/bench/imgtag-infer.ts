import { loadClassifier } from '../../src/infer/session.js';
import { resolveModel } from '../../src/model/resolve.js';
import { benchClock } from './clock.js';

/** imgtag's infer stage alone (default model, one onnxruntime thread): `n` images in batches of `batch`. Prints seconds. */
const [batch = 16, n = 512] = process.argv.slice(2).map(Number);
const classifier = await loadClassifier(await resolveModel('mobilenetv2-12-int8'), { threads: 1 });
const pixels = new Uint8Array(batch * 3 * 224 * 224).map((_, i) => (i * 2654435761) >>> 24);
await classifier.classify(pixels.slice(), batch);
const start = benchClock();
for (let done = 0; done < n; done += batch) await classifier.classify(pixels.slice(), batch);
console.log(benchClock() - start);
await classifier.release();
