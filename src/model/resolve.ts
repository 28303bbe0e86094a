import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { parseLabels } from './labels.js';
import { BUILTIN_MODEL_DIR, DEFAULT_MODEL, modelSearchDirs } from './paths.js';
import { validateSpec, type ModelSpec } from './spec.js';

/** A model ready to load: its spec, verified bytes, labels and the id every result row carries. */
export interface ResolvedModel {
  spec: ModelSpec;
  onnxPath: string;
  bytes: Uint8Array;
  sha256: string;
  /** name@first-12-hex-of-sha256: the model is data, and rows say which bytes made them. */
  id: string;
  labels: string[];
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function readSpec(file: string): Promise<ModelSpec> {
  let raw: unknown;
  try {
    raw = JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch (e) {
    throw new UserError(`cannot read model spec ${file}: ${(e as Error).message}`);
  }
  return validateSpec(raw, file);
}

export function builtinSpecFile(name: string): string {
  return path.join(BUILTIN_MODEL_DIR, `${name}.json`);
}

/** A built-in spec whose "file" is this .onnx file's name (so --model path/to/x.onnx needs no spec of its own). */
function builtinSpecFor(onnxName: string): string | undefined {
  for (const name of fs.readdirSync(BUILTIN_MODEL_DIR).filter((n) => n.endsWith('.json')).sort()) {
    const file = path.join(BUILTIN_MODEL_DIR, name);
    const spec = JSON.parse(fs.readFileSync(file, 'utf8')) as { file?: string };
    if (spec.file === onnxName) return file;
  }
  return undefined;
}

/** --model takes a spec (.json), an .onnx file with a spec beside it, or the name of a built-in spec. */
function findSpec(arg: string): { specFile: string; onnxPath?: string } {
  if (arg.endsWith('.json')) return { specFile: path.resolve(arg) };
  if (arg.endsWith('.onnx')) {
    const onnxPath = path.resolve(arg);
    const beside = [onnxPath.replace(/\.onnx$/, '.json'), `${onnxPath}.json`].find((f) => fs.existsSync(f));
    const specFile = beside ?? builtinSpecFor(path.basename(onnxPath));
    if (!specFile) throw new UserError(`no model spec for ${arg}: put ${path.basename(onnxPath, '.onnx')}.json beside it (see models/ for examples)`);
    return { specFile, onnxPath };
  }
  const specFile = builtinSpecFile(arg);
  if (!fs.existsSync(specFile)) {
    const known = fs.readdirSync(BUILTIN_MODEL_DIR).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5));
    throw new UserError(`unknown model "${arg}": give an .onnx file, a spec .json, or one of: ${known.join(', ')}`);
  }
  return { specFile };
}

function locate(file: string, specDir: string, what: string): string {
  if (path.isAbsolute(file)) return file;
  const dirs = modelSearchDirs(specDir);
  const found = dirs.map((d) => path.join(d, file)).find((f) => fs.existsSync(f));
  if (!found) {
    throw new UserError(`${what} ${file} not found in ${dirs.join(', ')}: run "npm run fetch-model" or set IMGTAG_MODEL_DIR`);
  }
  return found;
}

async function readVerified(file: string, expected: string | undefined): Promise<{ bytes: Buffer; sha256: string }> {
  const bytes = await fsp.readFile(file);
  const sha256 = sha256Hex(bytes);
  if (expected !== undefined && sha256 !== expected) {
    throw new UserError(`${file} has sha256 ${sha256}, but its spec expects ${expected}: refusing a model whose bytes changed`);
  }
  return { bytes, sha256 };
}

export async function resolveModel(arg: string = DEFAULT_MODEL): Promise<ResolvedModel> {
  const { specFile, onnxPath: given } = findSpec(arg);
  const spec = await readSpec(specFile);
  const specDir = path.dirname(specFile);
  const onnxPath = given ?? locate(spec.file, specDir, 'model file');
  const { bytes, sha256 } = await readVerified(onnxPath, spec.sha256);
  const labelsPath = locate(spec.labels.file, path.dirname(onnxPath), 'labels file');
  const labelBytes = await readVerified(labelsPath, spec.labels.sha256);
  const labels = parseLabels(labelBytes.bytes.toString('utf8'), spec.labels.format);
  return { spec, onnxPath, bytes, sha256, id: `${spec.name}@${sha256.slice(0, 12)}`, labels };
}
