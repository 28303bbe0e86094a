import * as ort from 'onnxruntime-node';
import { UserError } from '../errors.js';
import type { ResolvedModel } from '../model/resolve.js';
import { deviceLoadError, executionProviders, type Device } from './device.js';
import { postprocess, type ModelOutput } from './postprocess.js';

export interface SessionOptions {
  /** onnxruntime intra-op threads; default: all cores divided among the workers. */
  threads?: number;
  device?: Device;
}

/** The infer stage: a loaded model that turns a packed batch tensor into tags and/or an embedding per image. */
export interface Classifier {
  readonly model: ResolvedModel;
  /** Values per image in the output (the embedding length), when the model's metadata fixes it. */
  readonly outputSize?: number;
  classify(tensor: Float32Array, count: number): Promise<ModelOutput[]>;
  release(): Promise<void>;
}

function tensorMeta(list: readonly ort.InferenceSession.ValueMetadata[], name: string) {
  const meta = list.find((m) => m.name === name);
  return meta && meta.isTensor ? meta : undefined;
}

/** The per-image input dimensions the spec feeds, in its layout. */
function inputDims(spec: ResolvedModel['spec']): number[] {
  const { width, height, layout } = spec.input;
  return layout === 'NCHW' ? [3, height, width] : [height, width, 3];
}

export async function loadClassifier(model: ResolvedModel, opts: SessionOptions = {}): Promise<Classifier> {
  const { spec, labels } = model;
  const device = opts.device ?? 'cpu';
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(model.bytes, {
      executionProviders: executionProviders(device),
      graphOptimizationLevel: 'all',
      intraOpNumThreads: opts.threads ?? 0,
    });
  } catch (e) {
    if (e instanceof UserError) throw e;
    if (device !== 'cpu') throw deviceLoadError(device, e);
    throw new UserError(`cannot load ${model.source} with onnxruntime: ${(e as Error).message}`);
  }
  const input = tensorMeta(session.inputMetadata, spec.input.name);
  if (!input) throw new UserError(`model ${spec.name} has no tensor input "${spec.input.name}" (it has: ${session.inputNames.join(', ')})`);
  if (!session.outputNames.includes(spec.output.name)) {
    throw new UserError(`model ${spec.name} has no output "${spec.output.name}" (it has: ${session.outputNames.join(', ')})`);
  }
  const wantDims = inputDims(spec);
  const fixed = input.shape.slice(1);
  if (fixed.length === 3 && fixed.some((d, i) => typeof d === 'number' && d !== wantDims[i])) {
    throw new UserError(`model ${spec.name} takes input ${JSON.stringify(input.shape)}, but its spec feeds ${spec.input.layout} [${wantDims.join(', ')}]`);
  }
  if (input.type !== 'float32') throw new UserError(`model ${spec.name}: input type ${input.type} is not supported yet (float32 only)`);
  // A numeric first dimension is a fixed batch (SqueezeNet's is 1): such models get the batch in slices.
  const fixedBatch = typeof input.shape[0] === 'number' && input.shape[0] > 0 ? input.shape[0] : undefined;
  const { width, height, layout } = spec.input;
  const dims = (n: number) => (layout === 'NCHW' ? [n, 3, height, width] : [n, height, width, 3]);
  const perImage = 3 * width * height;
  const needsLabels = spec.output.kind !== 'embedding';

  async function runChunk(data: Float32Array, n: number): Promise<Float32Array> {
    const feed = { [spec.input.name]: new ort.Tensor('float32', data, dims(n)) };
    const out = await session.run(feed, [spec.output.name]);
    return out[spec.output.name]!.data as Float32Array;
  }

  const outMeta = tensorMeta(session.outputMetadata, spec.output.name);
  const perImageDims = outMeta?.shape.slice(1) ?? [];
  const outputSize = perImageDims.every((d) => typeof d === 'number') ? perImageDims.reduce<number>((a, d) => a * (d as number), 1) : undefined;

  return {
    model,
    outputSize,
    async classify(tensor, count) {
      const outputs: ModelOutput[] = [];
      const step = fixedBatch ?? count;
      for (let start = 0; start < count; start += step) {
        const n = Math.min(step, count - start);
        let chunk = tensor.subarray(start * perImage, (start + n) * perImage);
        if (fixedBatch !== undefined && n < fixedBatch) {
          // Only a short last chunk of a fixed-batch model is copied, to pad it with zeros.
          const padded = new Float32Array(fixedBatch * perImage);
          padded.set(chunk);
          chunk = padded;
        }
        const scores = await runChunk(chunk, fixedBatch ?? n);
        const classes = scores.length / (fixedBatch ?? n);
        if (needsLabels && labels.length !== classes) {
          throw new UserError(`model ${spec.name} outputs ${classes} classes but its labels file has ${labels.length}`);
        }
        const zs = model.zeroShot?.vectors[0]?.length;
        if (zs !== undefined && zs !== classes) {
          throw new UserError(`model ${spec.name} outputs ${classes}-dimensional embeddings but its zero-shot vectors have ${zs}`);
        }
        for (let i = 0; i < n; i++) outputs.push(postprocess(scores.subarray(i * classes, (i + 1) * classes), model));
      }
      return outputs;
    },
    release: () => session.release(),
  };
}
