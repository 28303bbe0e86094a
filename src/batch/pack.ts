import { Field, FixedSizeList, Float32, RecordBatch, Schema, Struct, Utf8, makeData, vectorFromArray } from 'apache-arrow';
import type { ModelSpec } from '../model/spec.js';

/** The batch stage's answer: an Arrow RecordBatch (key, tensor) and the tensor's one buffer, ready for the model. */
export interface PackedBatch {
  batch: RecordBatch;
  /** The values buffer of the tensor column itself: handed to onnxruntime without a copy. */
  tensor: Float32Array;
  count: number;
}

/**
 * Normalise 8-bit HWC RGB pixels into the model's layout and channel order, straight into
 * the slot of a preallocated batch buffer: value = (pixel * scale - mean[c]) / std[c].
 */
export function writeImage(dst: Float32Array, offset: number, pixels: Uint8Array, input: ModelSpec['input']): void {
  const plane = input.width * input.height;
  const order = input.channels === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  for (let c = 0; c < 3; c++) {
    const src = order[c]!;
    const a = input.scale / input.std[c]!;
    const b = -input.mean[c]! / input.std[c]!;
    if (input.layout === 'NCHW') {
      const base = offset + c * plane;
      for (let p = 0; p < plane; p++) dst[base + p] = pixels[p * 3 + src]! * a + b;
    } else {
      for (let p = 0; p < plane; p++) dst[offset + p * 3 + c] = pixels[p * 3 + src]! * a + b;
    }
  }
}

/** `pixels`: one model-sized HWC RGB buffer per image (the decode stage's output for this model's size). */
export function packBatch(keys: string[], pixels: Uint8Array[], input: ModelSpec['input']): PackedBatch {
  const images = pixels;
  const perImage = 3 * input.width * input.height;
  const tensor = new Float32Array(images.length * perImage);
  images.forEach((img, i) => writeImage(tensor, i * perImage, img, input));
  const listType = new FixedSizeList(perImage, new Field('value', new Float32(), false));
  const values = makeData({ type: new Float32(), length: tensor.length, data: tensor });
  const tensorData = makeData({ type: listType, length: images.length, nullCount: 0, child: values });
  const keyData = vectorFromArray(keys, new Utf8()).data[0]!;
  const schema = new Schema([new Field('key', new Utf8(), false), new Field('tensor', listType, false)]);
  const batch = new RecordBatch(
    schema,
    makeData({ type: new Struct(schema.fields), length: images.length, nullCount: 0, children: [keyData, tensorData] }),
  );
  // The column's buffer is the same memory as `tensor`: this is what the model reads.
  const column = batch.getChild('tensor')!.data[0]!.children[0]!.values as Float32Array;
  return { batch, tensor: column, count: images.length };
}
