import * as ort from 'onnxruntime-node';
import { UserError } from '../errors.js';
import type { ResolvedModel } from '../model/resolve.js';
import { deviceLoadError, executionProviders, type Device } from './device.js';
import { withPixelInput, PIXEL_INPUT } from './pixel-input.js';
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
  /** `pixels`: uint8 [count, height, width, 3], RGB; the model's pre-processing graph normalises them. */
  classify(pixels: Uint8Array, count: number): Promise<ModelOutput[]>;
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
  let wrapped: ReturnType<typeof withPixelInput>;
  try {
    wrapped = withPixelInput(model.bytes, spec.input);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`model ${spec.name} ${e.message}`);
    throw new UserError(`cannot read ${model.source} as an ONNX model: ${(e as Error).message}`);
  }
  const wantDims = inputDims(spec);
  const { original } = wrapped;
  if (original.dims.length === 3 && original.dims.some((d, i) => typeof d === 'number' && d !== wantDims[i])) {
    const shape = [original.fixedBatch ?? 'batch', ...original.dims];
    throw new UserError(`model ${spec.name} takes input ${JSON.stringify(shape)}, but its spec feeds ${spec.input.layout} [${wantDims.join(', ')}]`);
  }
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(wrapped.bytes, {
      executionProviders: executionProviders(device),
      graphOptimizationLevel: 'all',
      intraOpNumThreads: opts.threads ?? 0,
    });
  } catch (e) {
    if (e instanceof UserError) throw e;
    if (device !== 'cpu') throw deviceLoadError(device, e);
    throw new UserError(`cannot load ${model.source} with onnxruntime: ${(e as Error).message}`);
  }
  if (!session.outputNames.includes(spec.output.name)) {
    throw new UserError(`model ${spec.name} has no output "${spec.output.name}" (it has: ${session.outputNames.join(', ')})`);
  }
  // A numeric first dimension is a fixed batch (SqueezeNet's is 1): such models get the batch in slices.
  const fixedBatch = original.fixedBatch;
  const { width, height } = spec.input;
  const perImage = 3 * width * height;
  const needsLabels = spec.output.kind !== 'embedding';

  async function runChunk(data: Uint8Array, n: number): Promise<Float32Array> {
    const feed = { [PIXEL_INPUT]: new ort.Tensor('uint8', data, [n, height, width, 3]) };
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
          const padded = new Uint8Array(fixedBatch * perImage);
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
