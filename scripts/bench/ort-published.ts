import * as ort from 'onnxruntime-node';
import { resolveModel } from '../../src/model/resolve.js';
import { benchClock } from './clock.js';

/**
 * The hand-written pipeline's inference: the default model as published (float32 NCHW input,
 * normalised by the caller), onnxruntime's defaults but one thread (one process per core). `n`
 * images in batches of `batch`; prints seconds.
 */
const [batch = 16, n = 512] = process.argv.slice(2).map(Number);
const model = await resolveModel('mobilenetv2-12-int8');
const { width, height } = model.spec.input;
const session = await ort.InferenceSession.create(model.bytes, { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
const floats = Float32Array.from({ length: batch * 3 * width * height }, (_, i) => (((i * 2654435761) >>> 24) / 255 - 0.45) / 0.226);
const run = () => session.run({ [model.spec.input.name]: new ort.Tensor('float32', floats, [batch, 3, height, width]) });
await run();
const start = benchClock();
for (let done = 0; done < n; done += batch) await run();
console.log(benchClock() - start);
await session.release();
