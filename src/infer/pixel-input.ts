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

const BN_EPSILON = 1e-5;

const floatTensor = (name: string, values: number[]): Onnx.ITensorProto => ({ name, dims: [values.length], dataType: DataType.FLOAT, floatData: values });

function node(opType: string, inputs: string[], output: string, attribute: Onnx.IAttributeProto[] = []): Onnx.INodeProto {
  return { opType, input: inputs, output: [output], name: output, attribute };
}

const constant = (t: Onnx.ITensorProto): Onnx.INodeProto => node('Constant', [], t.name!, [{ name: 'value', type: AttributeType.TENSOR, t }]);
const intAttr = (name: string, i: number): Onnx.IAttributeProto => ({ name, type: AttributeType.INT, i });

export function dimOf(d: Onnx.TensorShapeProto.IDimension): number | string {
  const v = d.dimValue;
  if (v !== null && v !== undefined && Number(v) > 0) return Number(v);
  return d.dimParam || '?';
}

export function modelInput(graph: Onnx.IGraphProto, name: string): Onnx.IValueInfoProto {
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const inputs = (graph.input ?? []).filter((i) => !initializers.has(i.name));
  const input = inputs.find((i) => i.name === name);
  if (!input?.type?.tensorType) throw new UserError(`has no tensor input "${name}" (it has: ${inputs.map((i) => i.name).join(', ')})`);
  return input;
}

/** A float16 output is cast to float32 inside the model, under its own name: post-processing reads float32 only. */
export function floatOutput(graph: Onnx.IGraphProto, name: string): void {
  const out = (graph.output ?? []).find((o) => o.name === name);
  const tensorType = out?.type?.tensorType;
  if (!tensorType || tensorType.elemType !== DataType.FLOAT16) return;
  const half = `${name}/imgtag_half`;
  for (const n of graph.node ?? []) {
    n.output = (n.output ?? []).map((o) => (o === name ? half : o));
    n.input = (n.input ?? []).map((i) => (i === name ? half : i));
  }
  graph.node = [...(graph.node ?? []), node('Cast', [half], name, [intAttr('to', DataType.FLOAT)])];
  tensorType.elemType = DataType.FLOAT;
}

/**
 * Prepend a small pre-processing graph to the model: it takes uint8 HWC pixels and does the cast,
 * channel order, (pixel * scale - mean) / std, float16 cast and NCHW transpose that the spec asks
 * for (and casts a float16 `output` to float32), so a batch crosses to the model (and to a GPU)
 * as one byte per value instead of four, and normalisation runs inside onnxruntime, not in JS.
 */
export function withPixelInput(bytes: Uint8Array, input: ModelSpec['input'], output?: string): { bytes: Uint8Array; original: ModelInput } {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph!;
  if (output !== undefined) floatOutput(graph, output);
  const found = modelInput(graph, input.name);
  const tensorType = found.type!.tensorType!;
  const elemType = tensorType.elemType === DataType.FLOAT ? 'float32' : tensorType.elemType === DataType.FLOAT16 ? 'float16' : undefined;
  if (!elemType) throw new UserError(`input type ${DataType[tensorType.elemType ?? 0] ?? tensorType.elemType} is not supported (float32 and float16 are)`);
  const dims = (tensorType.shape?.dim ?? []).map(dimOf);
  const batchDim = dims[0];
  const original: ModelInput = { fixedBatch: typeof batchDim === 'number' ? batchDim : undefined, dims: dims.slice(1), elemType };

  const nchw = input.layout === 'NCHW';
  const bytes8 = byteSteps(input);
  const nodes: Onnx.INodeProto[] = [...bytes8.nodes];
  let x = bytes8.out;
  const step = (opType: string, out: string, inputs: string[] = [], attribute: Onnx.IAttributeProto[] = []) => {
    nodes.push(node(opType, [x, ...inputs], out, attribute));
    x = out;
  };
  step('Cast', 'imgtag/float', [], [intAttr('to', DataType.FLOAT)]);
  // value = pixel * (scale / std) - mean / std, per channel: a BatchNormalization with mean 0 and
  // variance 1 does it over whole channel planes (elementwise Mul/Add would broadcast 3 values at a time).
  const { std, mean, scale } = input;
  nodes.push(
    constant(floatTensor('imgtag/a', std.map((s) => scale / s))),
    constant(floatTensor('imgtag/b', std.map((s, c) => -mean[c]! / s))),
    constant(floatTensor('imgtag/zero', [0, 0, 0])),
    // Variance + epsilon = 1: cuDNN refuses an epsilon below 1e-5.
    constant(floatTensor('imgtag/one', [1 - BN_EPSILON, 1 - BN_EPSILON, 1 - BN_EPSILON])),
  );
  const out = elemType === 'float16' ? 'imgtag/normalised' : input.name;
  if (nchw) step('BatchNormalization', out, ['imgtag/a', 'imgtag/b', 'imgtag/zero', 'imgtag/one'], [{ name: 'epsilon', type: AttributeType.FLOAT, f: BN_EPSILON }]);
  else {
    step('Mul', 'imgtag/scaled', ['imgtag/a']);
    step('Add', out, ['imgtag/b']);
  }
  if (elemType === 'float16') step('Cast', input.name, [], [intAttr('to', DataType.FLOAT16)]);

  graph.input = [pixelInput(input, batchDim), ...(graph.input ?? []).filter((i) => i !== found)];
  graph.node = [...nodes, ...(graph.node ?? [])];
  return { bytes: onnx.ModelProto.encode(model).finish(), original };
}

/** The uint8 [batch, height, width, 3] input that replaces the model's own. */
export function pixelInput(input: ModelSpec['input'], batchDim: number | string | undefined): Onnx.IValueInfoProto {
  const batch: Onnx.TensorShapeProto.IDimension = typeof batchDim === 'number' ? { dimValue: batchDim } : { dimParam: 'batch' };
  return {
    name: PIXEL_INPUT,
    type: { tensorType: { elemType: DataType.UINT8, shape: { dim: [batch, { dimValue: input.height }, { dimValue: input.width }, { dimValue: 3 }] } } },
  };
}

/**
 * Transpose and channel order, done on bytes before any cast (a quarter of the memory traffic):
 * the nodes from PIXEL_INPUT and the name of their result (PIXEL_INPUT itself when there are none).
 */
export function byteSteps(input: ModelSpec['input']): { nodes: Onnx.INodeProto[]; out: string } {
  const nchw = input.layout === 'NCHW';
  const nodes: Onnx.INodeProto[] = [];
  let out = PIXEL_INPUT;
  if (nchw) {
    nodes.push(node('Transpose', [out], 'imgtag/nchw', [{ name: 'perm', type: AttributeType.INTS, ints: [0, 3, 1, 2] }]));
    out = 'imgtag/nchw';
  }
  if (input.channels !== 'RGB') {
    nodes.push(constant({ name: 'imgtag/order', dims: [3], dataType: DataType.INT64, int64Data: [2, 1, 0] }));
    nodes.push(node('Gather', [out, 'imgtag/order'], 'imgtag/ordered', [intAttr('axis', nchw ? 1 : 3)]));
    out = 'imgtag/ordered';
  }
  return { nodes, out };
}
