import { UserError } from '../errors.js';

/** The JSON beside an .onnx file: everything needed to feed the model and read its answer. */
export interface ModelSpec {
  name: string;
  /** The .onnx file name, resolved beside the spec, in IMGTAG_MODEL_DIR or in the download cache. */
  file: string;
  sha256?: string;
  /** Where `npm run fetch-model` downloads it from. */
  url?: string;
  input: {
    name: string;
    layout: 'NCHW' | 'NHWC';
    width: number;
    height: number;
    channels: 'RGB' | 'BGR';
    /** value = (pixel * scale - mean[c]) / std[c], c in the model's channel order. */
    scale: number;
    mean: [number, number, number];
    std: [number, number, number];
    /** Resize so the short side is this long, then centre-crop to width x height (default: no margin). */
    resizeShortSide?: number;
  };
  output: {
    name: string;
    /**
     * logits: softmax, then the top k; probabilities: the top k as they are; multilabel: sigmoid,
     * every label at or above `threshold`; embedding: the vector itself (tags only with zeroShot).
     */
    kind: 'logits' | 'probabilities' | 'multilabel' | 'embedding';
    topK: number;
    /** Leave out tags scoring below this (multilabel default 0.5). */
    threshold?: number;
    /** embedding: scale each vector to unit length. */
    normalize?: boolean;
    /** embedding: tag by cosine similarity against these label vectors (a JSON file of {labels, vectors}). */
    zeroShot?: { file: string; sha256?: string };
  };
  /** Class names in output order; not needed for a plain embedding model. */
  labels?: { file: string; format: 'synset' | 'lines'; sha256?: string; url?: string };
}

/** The model's column stem in results: its name in lower case, letters, digits and _ only. */
export function columnName(spec: ModelSpec): string {
  return spec.name.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
}

function fail(where: string, what: string): never {
  throw new UserError(`model spec ${where}: ${what}`);
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isTriple = (v: unknown): v is [number, number, number] => Array.isArray(v) && v.length === 3 && v.every(isNum);

/** Check a parsed spec field by field, so a typo gives a message naming the field, not a crash later. */
export function validateSpec(raw: unknown, where: string): ModelSpec {
  const s = raw as Partial<ModelSpec> | null;
  if (!s || typeof s !== 'object') fail(where, 'is not a JSON object');
  if (typeof s.name !== 'string' || s.name === '') fail(where, '"name" must be a non-empty string');
  if (typeof s.file !== 'string' || !s.file.endsWith('.onnx')) fail(where, '"file" must name an .onnx file');
  if (s.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(s.sha256)) fail(where, '"sha256" must be 64 lower-case hex digits');
  const i = s.input;
  if (!i || typeof i.name !== 'string') fail(where, '"input.name" is required');
  if (i.layout !== 'NCHW' && i.layout !== 'NHWC') fail(where, '"input.layout" must be NCHW or NHWC');
  if (i.channels !== 'RGB' && i.channels !== 'BGR') fail(where, '"input.channels" must be RGB or BGR');
  for (const k of ['width', 'height'] as const) {
    if (!Number.isInteger(i[k]) || i[k] < 1 || i[k] > 4096) fail(where, `"input.${k}" must be an integer 1..4096`);
  }
  if (!isNum(i.scale)) fail(where, '"input.scale" must be a number');
  if (!isTriple(i.mean) || !isTriple(i.std)) fail(where, '"input.mean" and "input.std" must be three numbers each');
  if (i.std.some((v) => v === 0)) fail(where, '"input.std" must not contain 0');
  if (i.resizeShortSide !== undefined && (!Number.isInteger(i.resizeShortSide) || i.resizeShortSide < Math.min(i.width, i.height))) {
    fail(where, '"input.resizeShortSide" must be an integer at least the crop size');
  }
  const o = s.output;
  if (!o || typeof o.name !== 'string') fail(where, '"output.name" is required');
  if (!['logits', 'probabilities', 'multilabel', 'embedding'].includes(o.kind)) {
    fail(where, '"output.kind" must be logits, probabilities, multilabel or embedding');
  }
  // Tags need a count; a plain embedding writes none, so it needs no topK.
  const tags = o.kind !== 'embedding' || o.zeroShot !== undefined;
  if ((tags || o.topK !== undefined) && (!Number.isInteger(o.topK) || o.topK < 1)) fail(where, '"output.topK" must be a positive integer');
  if (o.threshold !== undefined && !isNum(o.threshold)) fail(where, '"output.threshold" must be a number');
  if (o.zeroShot !== undefined && (o.kind !== 'embedding' || typeof o.zeroShot.file !== 'string')) {
    fail(where, '"output.zeroShot" needs kind embedding and a "file" of label vectors');
  }
  const l = s.labels;
  const needsLabels = o.kind !== 'embedding';
  if (needsLabels && (!l || typeof l.file !== 'string')) fail(where, '"labels.file" is required');
  if (l && l.format !== 'synset' && l.format !== 'lines') fail(where, '"labels.format" must be synset or lines');
  if (!/[a-z0-9]/i.test(s.name)) fail(where, '"name" needs a letter or digit');
  return s as ModelSpec;
}
