import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { exists, readBytes, readText } from '../storage/storage.js';
import { dirnameUri, isS3Uri, joinUri, parseUri, s3Uri } from '../storage/uri.js';
import { parseLabels } from './labels.js';
import { unit } from './vectors.js';
import { BUILTIN_MODEL_DIR, modelCacheDir, modelSearchDirs } from './paths.js';
import { validateSpec, type ModelSpec } from './spec.js';
import { DEFAULTS } from '../defaults.js';

/** Label vectors for zero-shot tagging: tags are the labels most cosine-similar to the image's embedding. */
export interface ZeroShot {
  labels: string[];
  /** One unit-length vector per label. */
  vectors: Float32Array[];
}

/** A model ready to load: its spec, verified bytes, labels and the id every result row carries. */
export interface ResolvedModel {
  spec: ModelSpec;
  /** Where the bytes came from: a local path or an s3:// URI. */
  source: string;
  bytes: Uint8Array;
  sha256: string;
  /** name@first-12-hex-of-sha256: the model is data, and rows say which bytes made them. */
  id: string;
  labels: string[];
  zeroShot?: ZeroShot;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function parseSpec(text: string, where: string): ModelSpec {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UserError(`cannot read model spec ${where}: ${(e as Error).message}`);
  }
  return validateSpec(raw, where);
}

export async function readSpec(file: string): Promise<ModelSpec> {
  return parseSpec(await fsp.readFile(file, 'utf8').catch((e: Error) => Promise.reject(new UserError(`cannot read model spec ${file}: ${e.message}`))), file);
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

/** --model takes a spec (.json), an .onnx file with a spec beside it, or a built-in name; locally or on S3. */
async function findSpec(arg: string): Promise<{ spec: ModelSpec; specDir: string; onnx?: string }> {
  if (arg.endsWith('.json')) {
    if (!isS3Uri(arg)) return { spec: await readSpec(path.resolve(arg)), specDir: path.dirname(path.resolve(arg)) };
    const text = await readText(arg).catch(() => Promise.reject(new UserError(`model spec ${arg} not found`)));
    return { spec: parseSpec(text, arg), specDir: dirnameUri(arg) };
  }
  if (arg.endsWith('.onnx')) {
    const onnx = isS3Uri(arg) ? arg : path.resolve(arg);
    const candidates = [onnx.replace(/\.onnx$/, '.json'), `${onnx}.json`];
    for (const c of candidates) {
      if (isS3Uri(c) ? await exists(c) : fs.existsSync(c)) return { ...(await findSpec(c)), onnx };
    }
    const builtin = builtinSpecFor(path.posix.basename(onnx));
    if (!builtin) throw new UserError(`no model spec for ${arg}: put ${path.posix.basename(onnx, '.onnx')}.json beside it (see models/ for examples)`);
    return { spec: await readSpec(builtin), specDir: dirnameUri(onnx), onnx };
  }
  const specFile = builtinSpecFile(arg);
  if (!fs.existsSync(specFile)) {
    const known = fs.readdirSync(BUILTIN_MODEL_DIR).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5));
    throw new UserError(`unknown model "${arg}": give an .onnx file, a spec .json (local or s3://), or one of: ${known.join(', ')}`);
  }
  return { spec: await readSpec(specFile), specDir: BUILTIN_MODEL_DIR };
}

/** A file a spec names: beside an S3 spec on S3; else beside the spec, in IMGTAG_MODEL_DIR, or in the download cache. */
function locate(file: string, specDir: string, what: string): string {
  if (isS3Uri(file) || path.isAbsolute(file)) return file;
  // A relative name is resolved here, as a path beside the spec ("../v1/model.onnx"): the key
  // fetched is the one meant, never one with ".." for an HTTP layer to reinterpret.
  if (isS3Uri(specDir)) {
    const { bucket, key } = parseUri(joinUri(specDir, 'x')) as { bucket: string; key: string };
    return s3Uri(bucket, path.posix.join(path.posix.dirname(key), file));
  }
  const dirs = modelSearchDirs(specDir);
  const found = dirs.map((d) => path.join(d, file)).find((f) => fs.existsSync(f));
  if (!found) throw new UserError(`${what} ${file} not found in ${dirs.join(', ')}: run "npm run fetch-model" or set IMGTAG_MODEL_DIR`);
  return found;
}

function verify(where: string, bytes: Uint8Array, expected: string | undefined): string {
  const sha256 = sha256Hex(bytes);
  if (expected !== undefined && sha256 !== expected) {
    throw new UserError(`${where} has sha256 ${sha256}, but its spec expects ${expected}: refusing a model whose bytes changed`);
  }
  return sha256;
}

/**
 * The bytes of a model file, verified. From S3 they are fetched once and kept in the local cache
 * under their sha256, so every later worker on the machine reads them from disk.
 */
async function readVerified(where: string, expected: string | undefined): Promise<{ bytes: Uint8Array; sha256: string }> {
  if (!isS3Uri(where)) {
    const bytes = await fsp.readFile(where);
    return { bytes, sha256: verify(where, bytes, expected) };
  }
  const cached = expected && path.join(modelCacheDir(), 'sha256', expected);
  if (cached && fs.existsSync(cached)) {
    const bytes = await fsp.readFile(cached);
    if (sha256Hex(bytes) === expected) return { bytes, sha256: expected };
  }
  const bytes = await readBytes(where).catch((e: Error) => Promise.reject(new UserError(`cannot fetch ${where}: ${e.message}`)));
  const sha256 = verify(where, bytes, expected);
  const dest = path.join(modelCacheDir(), 'sha256', sha256);
  await fsp.mkdir(path.dirname(dest), { recursive: true });
  await fsp.writeFile(`${dest}.${process.pid}.part`, bytes);
  await fsp.rename(`${dest}.${process.pid}.part`, dest);
  return { bytes, sha256 };
}

async function readZeroShot(where: string, expected: string | undefined): Promise<ZeroShot> {
  const { bytes } = await readVerified(where, expected);
  let doc: { labels?: unknown; vectors?: unknown };
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof doc;
  } catch {
    throw new UserError(`${where}: the zero-shot file is not JSON (it needs "labels" and as many "vectors")`);
  }
  if (!Array.isArray(doc.labels) || !Array.isArray(doc.vectors) || doc.labels.length !== doc.vectors.length || doc.labels.length === 0) {
    throw new UserError(`${where}: zero-shot file needs "labels" and as many "vectors"`);
  }
  const vectors = (doc.vectors as number[][]).map((v) => unit(Float32Array.from(v)));
  return { labels: doc.labels.map(String), vectors };
}


export async function resolveModel(arg: string = DEFAULTS.model): Promise<ResolvedModel> {
  const { spec, specDir, onnx } = await findSpec(arg);
  const source = onnx ?? locate(spec.file, specDir, 'model file');
  const { bytes, sha256 } = await readVerified(source, spec.sha256);
  const besideModel = isS3Uri(source) ? dirnameUri(source) : path.dirname(source);
  let labels: string[] = [];
  if (spec.labels) {
    const labelFile = await readVerified(locate(spec.labels.file, isS3Uri(specDir) ? specDir : besideModel, 'labels file'), spec.labels.sha256);
    labels = parseLabels(Buffer.from(labelFile.bytes).toString('utf8'), spec.labels.format);
  }
  const zs = spec.output.zeroShot;
  const zeroShot = zs ? await readZeroShot(locate(zs.file, specDir, 'zero-shot file'), zs.sha256) : undefined;
  return { spec, source, bytes, sha256, id: `${spec.name}@${sha256.slice(0, 12)}`, labels, zeroShot };
}
