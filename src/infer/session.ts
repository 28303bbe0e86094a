import { DEFAULTS } from '../defaults.js';
import { UserError } from '../errors.js';
import type { ResolvedModel } from '../model/resolve.js';
import type { Device } from '../defaults.js';
import { deviceLoadError, executionProviders } from './device.js';
import { withPixelInput, PIXEL_INPUT } from './pixel-input.js';
import { prequantized } from './prequantize.js';
import { RemoteSession } from './remote-session.js';
import { postprocess, type ModelOutput } from './postprocess.js';

export interface SessionOptions {
  /** onnxruntime intra-op threads; default: all cores divided among the workers. */
  threads?: number;
  device?: Device;
  /** Feed a model whose input feeds one uint8 QuantizeLinear its quantized bytes (default: on CPU). */
  prequantize?: boolean;
}

/** The infer stage: a loaded model that turns a packed batch tensor into tags and/or an embedding per image. */
export interface Classifier {
  readonly model: ResolvedModel;
  /** Values per image in the output (the embedding length), when the model's metadata fixes it. */
  readonly outputSize?: number;
  /** Whether the model is fed pre-quantized bytes (prequantize.ts) rather than normalising them itself. */
  readonly prequantized?: boolean;
  /**
   * `pixels`: uint8 [count, height, width, 3], RGB; the model's pre-processing graph normalises them.
   * They are handed to the inference thread (their buffer is detached): do not use them afterwards.
   */
  classify(pixels: Uint8Array, count: number): Promise<ModelOutput[]>;
  /** A buffer for `count` images to pack a batch into and classify: batch buffers are reused. */
  batchBuffer(count: number): Uint8Array;
  release(): Promise<void>;
}

/** The per-image input dimensions the spec feeds, in its layout. */
function inputDims(spec: ResolvedModel['spec']): number[] {
  const { width, height, layout } = spec.input;
  return layout === 'NCHW' ? [3, height, width] : [height, width, 3];
}

export async function loadClassifier(model: ResolvedModel, opts: SessionOptions = {}): Promise<Classifier> {
  const { spec, labels } = model;
  const device = opts.device ?? DEFAULTS.device;
  let wrapped: ReturnType<typeof withPixelInput>;
  let pre: ReturnType<typeof prequantized>;
  try {
    wrapped = withPixelInput(model.bytes, spec.input, spec.output.name);
    // CPU only: the table is onnxruntime's CPU arithmetic; other providers may round otherwise.
    pre = device === 'cpu' && opts.prequantize !== false ? prequantized(model.bytes, spec.input, spec.output.name) : undefined;
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
  let session: RemoteSession;
  try {
    session = await RemoteSession.create({
      bytes: wrapped.bytes,
      prequantized: pre && { ...pre, height: spec.input.height, width: spec.input.width },
      options: {
        executionProviders: executionProviders(device),
        graphOptimizationLevel: 'all',
        intraOpNumThreads: opts.threads ?? 0,
        // Idle intra-op threads sleep instead of spinning: decode threads share these cores.
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      },
    });
  } catch (e) {
    if (e instanceof UserError) throw e;
    if (device !== 'cpu') throw deviceLoadError(device, e);
    throw new UserError(`cannot load ${model.source} with onnxruntime: ${(e as Error).message}`);
  }
  const outMeta = session.outputs.find((o) => o.name === spec.output.name);
  if (!outMeta) {
    await session.release();
    throw new UserError(`model ${spec.name} has no output "${spec.output.name}" (it has: ${session.outputs.map((o) => o.name).join(', ')})`);
  }
  // A numeric first dimension is a fixed batch (SqueezeNet's is 1): such models get the batch in slices.
  const fixedBatch = original.fixedBatch;
  const { width, height } = spec.input;
  const needsLabels = spec.output.kind !== 'embedding';

  const perImageDims = outMeta.shape?.slice(1) ?? [];
  const outputSize = perImageDims.every((d) => typeof d === 'number') ? perImageDims.reduce<number>((a, d) => a * (d as number), 1) : undefined;

  return {
    model,
    outputSize,
    prequantized: session.prequantized,
    async classify(tensor, count) {
      const scores = await session.run({ input: PIXEL_INPUT, output: spec.output.name, data: tensor, count, imageDims: [height, width], fixedBatch });
      const classes = scores.length / count;
      if (needsLabels && labels.length !== classes) {
        throw new UserError(`model ${spec.name} outputs ${classes} classes but its labels file has ${labels.length}`);
      }
      const zs = model.zeroShot?.vectors[0]?.length;
      if (zs !== undefined && zs !== classes) {
        throw new UserError(`model ${spec.name} outputs ${classes}-dimensional embeddings but its zero-shot vectors have ${zs}`);
      }
      return Array.from({ length: count }, (_, i) => postprocess(scores.subarray(i * classes, (i + 1) * classes), model));
    },
    batchBuffer: (count) => session.buffer(count * width * height * 3),
    release: () => session.release(),
  };
}
