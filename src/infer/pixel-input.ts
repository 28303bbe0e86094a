import onnxProto, { type onnx as Onnx } from 'onnx-proto';
import { UserError } from '../errors.js';
import type { ModelSpec } from '../model/spec.js';

// onnx-proto is CommonJS: its namespace comes through the default export.
const { onnx } = onnxProto;

/** The name of the uint8 [batch, height, width, 3] input that imgtag feeds every model. */
export const PIXEL_INPUT = 'imgtag_pixels';

const { DataType } = onnx.TensorProto;
const { AttributeType } = onnx.AttributeProto;

/** What the model's own input looks like, read from its graph before it is wrapped. */
export interface ModelInput {
  /** A fixed batch size (SqueezeNet's is 1), or undefined when the batch dimension is free. */
  fixedBatch?: number;
  /** Per-image dims as the graph declares them (a string for a named free dim). */
  dims: (number | string)[];
  elemType: 'float32' | 'float16';
}

const floatTensor = (name: string, values: number[]): Onnx.ITensorProto => ({ name, dims: [values.length], dataType: DataType.FLOAT, floatData: values });

function node(opType: string, inputs: string[], output: string, attribute: Onnx.IAttributeProto[] = []): Onnx.INodeProto {
  return { opType, input: inputs, output: [output], name: output, attribute };
}

const constant = (t: Onnx.ITensorProto): Onnx.INodeProto => node('Constant', [], t.name!, [{ name: 'value', type: AttributeType.TENSOR, t }]);
const intAttr = (name: string, i: number): Onnx.IAttributeProto => ({ name, type: AttributeType.INT, i });

function dimOf(d: Onnx.TensorShapeProto.IDimension): number | string {
  const v = d.dimValue;
  if (v !== null && v !== undefined && Number(v) > 0) return Number(v);
  return d.dimParam || '?';
}

function modelInput(graph: Onnx.IGraphProto, name: string): Onnx.IValueInfoProto {
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const inputs = (graph.input ?? []).filter((i) => !initializers.has(i.name));
  const input = inputs.find((i) => i.name === name);
  if (!input?.type?.tensorType) throw new UserError(`has no tensor input "${name}" (it has: ${inputs.map((i) => i.name).join(', ')})`);
  return input;
}

/**
 * Prepend a small pre-processing graph to the model: it takes uint8 HWC pixels and does the cast,
 * channel order, (pixel * scale - mean) / std, float16 cast and NCHW transpose that the spec asks
 * for, so a batch crosses to the model (and to a GPU) as one byte per value instead of four, and
 * normalisation runs inside onnxruntime instead of in JavaScript.
 */
export function withPixelInput(bytes: Uint8Array, input: ModelSpec['input']): { bytes: Uint8Array; original: ModelInput } {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph!;
  const found = modelInput(graph, input.name);
  const tensorType = found.type!.tensorType!;
  const elemType = tensorType.elemType === DataType.FLOAT ? 'float32' : tensorType.elemType === DataType.FLOAT16 ? 'float16' : undefined;
  if (!elemType) throw new UserError(`input type ${DataType[tensorType.elemType ?? 0] ?? tensorType.elemType} is not supported (float32 and float16 are)`);
  const dims = (tensorType.shape?.dim ?? []).map(dimOf);
  const batchDim = dims[0];
  const original: ModelInput = { fixedBatch: typeof batchDim === 'number' ? batchDim : undefined, dims: dims.slice(1), elemType };

  const { std, mean, scale } = input;
  const order = input.channels === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  const nodes: Onnx.INodeProto[] = [node('Cast', [PIXEL_INPUT], 'imgtag/float', [intAttr('to', DataType.FLOAT)])];
  let x = 'imgtag/float';
  if (input.channels !== 'RGB') {
    const indices: Onnx.ITensorProto = { name: 'imgtag/order', dims: [3], dataType: DataType.INT64, int64Data: order };
    nodes.push(constant(indices), node('Gather', [x, 'imgtag/order'], 'imgtag/ordered', [intAttr('axis', 3)]));
    x = 'imgtag/ordered';
  }
  nodes.push(
    constant(floatTensor('imgtag/a', std.map((s) => scale / s))),
    constant(floatTensor('imgtag/b', std.map((s, c) => -mean[c]! / s))),
    node('Mul', [x, 'imgtag/a'], 'imgtag/scaled'),
    node('Add', ['imgtag/scaled', 'imgtag/b'], 'imgtag/normalised'),
  );
  x = 'imgtag/normalised';
  if (elemType === 'float16') {
    nodes.push(node('Cast', [x], 'imgtag/half', [intAttr('to', DataType.FLOAT16)]));
    x = 'imgtag/half';
  }
  nodes.push(input.layout === 'NCHW' ? node('Transpose', [x], input.name, [{ name: 'perm', type: AttributeType.INTS, ints: [0, 3, 1, 2] }]) : node('Identity', [x], input.name));

  const batch: Onnx.TensorShapeProto.IDimension = typeof batchDim === 'number' ? { dimValue: batchDim } : { dimParam: 'batch' };
  const pixels: Onnx.IValueInfoProto = {
    name: PIXEL_INPUT,
    type: { tensorType: { elemType: DataType.UINT8, shape: { dim: [batch, { dimValue: input.height }, { dimValue: input.width }, { dimValue: 3 }] } } },
  };
  graph.input = [pixels, ...(graph.input ?? []).filter((i) => i !== found)];
  graph.node = [...nodes, ...(graph.node ?? [])];
  return { bytes: onnx.ModelProto.encode(model).finish(), original };
}
