import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadClassifier } from '../src/infer/session.js';
import { resolveModel } from '../src/model/resolve.js';
import { ROOT } from './bench-env.js';
import { writeBenchmarkSection } from './benchmarks-md.js';

/**
 * Inference alone, images/s by batch size and onnxruntime threads, for MobileNetV2 int8 and
 * SqueezeNet 1.1. imgtag feeds uint8 pixels to the model wrapped with its pre-processing graph
 * (cast, normalise, NCHW inside onnxruntime); the baseline feeds the unmodified model the float32
 * NCHW tensor that a pandas_udf would build. Same inputs, same process, alternating. Usage:
 *   node dist/scripts/bench-infer.js [seconds-per-cell]
 */
const SECONDS = Number(process.argv[2] ?? 1.5);
const MODELS = ['mobilenetv2-12-int8', 'squeezenet1.1'];
const BATCHES = [1, 8, 32];
const THREADS = [1, 2];

/** Images/s of `run(batch)` over at least SECONDS, after two warm-up calls. */
async function rate(batch: number, run: () => Promise<unknown>): Promise<number> {
  await run();
  await run();
  let images = 0;
  const start = performance.now();
  while (performance.now() - start < SECONDS * 1000) {
    await run();
    images += batch;
  }
  return images / ((performance.now() - start) / 1000);
}

const rows: string[] = [];
for (const name of MODELS) {
  const model = await resolveModel(name);
  const { width, height } = model.spec.input;
  const perImage = 3 * width * height;
  for (const threads of THREADS) {
    const imgtag = await loadClassifier(model, { threads });
    const plain = await ort.InferenceSession.create(model.bytes, { intraOpNumThreads: threads, graphOptimizationLevel: 'all' });
    const fixed = (plain.inputMetadata.find((m) => m.name === model.spec.input.name) as { shape?: unknown[] } | undefined)?.shape?.[0];
    for (const batch of BATCHES) {
      const pixels = new Uint8Array(batch * perImage).map((_, i) => (i * 2654435761) >>> 24);
      const floats = Float32Array.from(pixels, (p) => p / 255);
      // A fixed-batch model (SqueezeNet: 1) takes the batch one slice at a time, as imgtag does.
      const step = typeof fixed === 'number' ? fixed : batch;
      const baseline = async () => {
        for (let s = 0; s < batch; s += step) {
          const t = new ort.Tensor('float32', floats.subarray(s * perImage, (s + step) * perImage), [step, 3, height, width]);
          await plain.run({ [model.spec.input.name]: t });
        }
      };
      const base = await rate(batch, baseline);
      const ours = await rate(batch, () => imgtag.classify(pixels.slice(), batch));
      rows.push(`| ${name} | ${threads} | ${batch} | ${base.toFixed(0)} | ${ours.toFixed(0)} | ${(ours / base).toFixed(2)}x |`);
      console.log(rows.at(-1));
    }
    await imgtag.release();
    await plain.release();
  }
}
const table = [
  `${os.cpus()[0]?.model ?? 'cpu'}, ${os.availableParallelism()} cores, onnxruntime-node ${ort.env.versions.common}, CPU execution provider, graph optimisation "all".`,
  'The imgtag column includes the top-k post-processing and runs on its inference thread with idle intra-op threads sleeping; the baseline column does neither (onnxruntime defaults).',
  '',
  '| model | threads | batch | float32 input, unmodified model (baseline), images/s | imgtag: uint8 input, normalised in the graph, images/s | ratio |',
  '| --- | --- | --- | --- | --- | --- |',
  ...rows,
  '',
  'Reproduce: `npm run build && node dist/scripts/bench-infer.js`.',
].join('\n');
console.log(table);
writeBenchmarkSection(path.join(ROOT, 'BENCHMARKS.md'), 'Inference alone, by batch size and threads', table);
