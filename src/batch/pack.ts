import { Field, FixedSizeList, RecordBatch, Schema, Struct, Uint8, Utf8, makeData, vectorFromArray } from 'apache-arrow';

/** The batch stage's answer: the pixel column's one buffer of an Arrow RecordBatch (key, pixels), ready for the model. */
export interface PackedBatch {
  /** The values buffer of the pixel column itself, uint8 [count, height, width, 3]: handed to onnxruntime without a copy. */
  tensor: Uint8Array;
  count: number;
}

/**
 * `pixels`: one model-sized HWC RGB buffer per image (the decode stage's output for this model's
 * size). They are copied once, side by side, into the batch; the model's own pre-processing graph
 * (see infer/pixel-input.ts) does channel order, normalisation and layout.
 */
export function packBatch(keys: string[], pixels: Uint8Array[], perImage: number, into?: Uint8Array): PackedBatch {
  // `into`: a reused batch buffer of exactly this many images (Classifier.batchBuffer).
  const tensor = into ?? new Uint8Array(pixels.length * perImage);
  if (tensor.length !== pixels.length * perImage) throw new Error(`a batch buffer of ${tensor.length} bytes for ${pixels.length} images of ${perImage}`);
  pixels.forEach((img, i) => {
    if (img.length !== perImage) throw new Error(`image ${keys[i]} has ${img.length} bytes of pixels, expected ${perImage}`);
    tensor.set(img, i * perImage);
  });
  const listType = new FixedSizeList(perImage, new Field('value', new Uint8(), false));
  const values = makeData({ type: new Uint8(), length: tensor.length, data: tensor });
  const tensorData = makeData({ type: listType, length: pixels.length, nullCount: 0, child: values });
  const keyData = vectorFromArray(keys, new Utf8()).data[0]!;
  const schema = new Schema([new Field('key', new Utf8(), false), new Field('pixels', listType, false)]);
  const batch = new RecordBatch(
    schema,
    makeData({ type: new Struct(schema.fields), length: pixels.length, nullCount: 0, children: [keyData, tensorData] }),
  );
  // The column's buffer is the same memory as `tensor`: this is what the model reads.
  const column = batch.getChild('pixels')!.data[0]!.children[0]!.values as Uint8Array;
  return { tensor: column, count: pixels.length };
}
