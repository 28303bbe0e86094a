import onnxProto, { type onnx as Onnx } from 'onnx-proto';
import type { ModelSpec } from '../model/spec.js';
import { byteSteps, dimOf, floatOutput, modelInput, pixelInput, withPixelInput, PIXEL_INPUT } from './pixel-input.js';

const { onnx } = onnxProto;
const { DataType } = onnx.TensorProto;

/**
 * A model whose input feeds one uint8 QuantizeLinear, fed its quantized bytes directly: `bytes` is
 * the model with the cast, normalisation and QuantizeLinear gone (uint8 pixels, transposed and
 * reordered as bytes, go straight to what the QuantizeLinear fed); `probe` is the normalising
 * pre-processing and that QuantizeLinear alone, which onnxruntime runs once over every pixel value
 * to give the per-channel table (so the table is onnxruntime's own arithmetic, bit for bit).
 */
export interface Prequantized {
  bytes: Uint8Array;
  probe: Uint8Array;
  /** What the probe's output holds, to read the table back: NCHW or NHWC, and BGR order. */
  nchw: boolean;
  bgr: boolean;
}

const isScalar = (t: Onnx.ITensorProto) => (t.dims ?? []).reduce<number>((a, d) => a * Number(d), 1) === 1;

/** The QuantizeLinear that is the input's only consumer, when it makes uint8 with one scale and zero point. */
function soleQuantize(graph: Onnx.IGraphProto, name: string): Onnx.INodeProto | undefined {
  const users = (graph.node ?? []).filter((n) => (n.input ?? []).includes(name));
  const q = users[0];
  if (users.length !== 1 || q?.opType !== 'QuantizeLinear' || (q.domain ?? '') !== '' || q.input?.[0] !== name) return undefined;
  if ((graph.output ?? []).some((o) => o.name === name)) return undefined;
  const init = (n: string | undefined) => (graph.initializer ?? []).find((t) => t.name === n);
  const scale = init(q.input[1]);
  const zero = q.input[2] ? init(q.input[2]) : undefined;
  // A zero point that is absent means uint8; one not in the initializers (computed) is not taken.
  if (!scale || !isScalar(scale) || (q.input[2] && (!zero || zero.dataType !== DataType.UINT8 || !isScalar(zero)))) return undefined;
  return q;
}

/** Prune the graph, in place, to the nodes `out` depends on (in their order) and the initializers they read. */
function ancestors(graph: Onnx.IGraphProto, out: string): void {
  const need = new Set([out]);
  const keep = [...(graph.node ?? [])].reverse().filter((n) => {
    if (!(n.output ?? []).some((o) => need.has(o))) return false;
    for (const i of n.input ?? []) need.add(i);
    return true;
  });
  graph.node = keep.reverse();
  graph.initializer = (graph.initializer ?? []).filter((t) => need.has(t.name ?? ''));
  graph.valueInfo = [];
}

/** Undefined unless the model's input feeds exactly one uint8 QuantizeLinear (mobilenetv2-12-int8's does). */
export function prequantized(bytes: Uint8Array, input: ModelSpec['input'], output?: string): Prequantized | undefined {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph!;
  const found = modelInput(graph, input.name);
  const q = soleQuantize(graph, input.name);
  if (!q) return undefined;
  const quantized = q.output![0]!;
  if (output !== undefined) floatOutput(graph, output);

  const steps = byteSteps(input);
  const last = steps.nodes.at(-1);
  // The bytes' last step writes the tensor the QuantizeLinear wrote; without steps, an Identity does.
  if (last) last.output = [quantized];
  else steps.nodes.push({ opType: 'Identity', input: [PIXEL_INPUT], output: [quantized], name: quantized });
  const batchDim = (found.type?.tensorType?.shape?.dim ?? []).map(dimOf)[0];
  graph.input = [pixelInput(input, batchDim), ...(graph.input ?? []).filter((i) => i !== found)];
  graph.node = [...steps.nodes, ...(graph.node ?? []).filter((n) => n !== q)];
  const direct = onnx.ModelProto.encode(model).finish();

  const probe = onnx.ModelProto.decode(withPixelInput(bytes, input).bytes);
  const pg = probe.graph!;
  ancestors(pg, quantized);
  pg.input = (pg.input ?? []).filter((i) => i.name === PIXEL_INPUT);
  pg.output = [{ name: quantized, type: { tensorType: { elemType: DataType.UINT8 } } }];
  return { bytes: direct, probe: onnx.ModelProto.encode(probe).finish(), nchw: input.layout === 'NCHW', bgr: input.channels !== 'RGB' };
}
