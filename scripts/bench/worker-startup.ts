import { loadClassifier } from '../../src/infer/session.js';
import { resolveModel } from '../../src/model/resolve.js';

/** What a worker does before its first image: resolve and verify the model file, prepend the pixel graph, create the session. Prints seconds. */
const start = performance.now();
const classifier = await loadClassifier(await resolveModel('mobilenetv2-12-int8'), { threads: 1 });
console.log((performance.now() - start) / 1000);
await classifier.release();
