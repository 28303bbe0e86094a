import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import onnxProto, { type onnx as Onnx } from 'onnx-proto';
import pLimit from 'p-limit';
import { xdgCacheRoot } from '../src/model/paths.js';
import { downloadPinned, mirroredUrl } from '../src/storage/pinned-download.js';

/**
 * The tests' models and photos (what IMGTAG_MODEL_DIR and IMGTAG_IMAGE_DIR name), for a checkout
 * without ../shared beside it: each file pinned in data/test-data.json to a commit of a public
 * repository and its sha256, downloaded once into a cache. What is not downloaded is made here:
 * the HEIC samples (heif-enc, from the JPEG samples) and SqueezeNet's float32 twin (from its float16
 * file, every float16 tensor cast to float32).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Pinned {
  path: string;
  url: string;
  sha256: string;
  bytes: number;
}
interface TestData {
  files: Pinned[];
  heic: { from: string; every: number; to: string; quality: number };
}

export const testData = (): TestData => JSON.parse(fs.readFileSync(path.join(ROOT, 'data/test-data.json'), 'utf8')) as TestData;

/** Where downloads go: IMGTAG_TEST_DATA_DIR, else the imgtag cache ($IMGTAG_CACHE_DIR or the XDG cache). */
export function testDataCache(env: NodeJS.ProcessEnv = process.env): string {
  if (env.IMGTAG_TEST_DATA_DIR) return path.resolve(env.IMGTAG_TEST_DATA_DIR);
  return path.join(env.IMGTAG_CACHE_DIR ?? xdgCacheRoot(env), 'test-data');
}

/**
 * The models and images folders the tests use: the env variables, else ../shared beside the
 * checkout, else the download cache. Undefined when none has them (run npm run fetch-test-data).
 */
export function testDataDirs(env: NodeJS.ProcessEnv = process.env, root = ROOT): { models: string; images: string; from: string } | undefined {
  const shared = path.resolve(root, '..', 'shared');
  const cache = testDataCache(env);
  const candidates = [
    { models: env.IMGTAG_MODEL_DIR, images: env.IMGTAG_IMAGE_DIR, from: 'IMGTAG_MODEL_DIR and IMGTAG_IMAGE_DIR' },
    { models: path.join(shared, 'models'), images: path.join(shared, 'images'), from: shared },
    { models: path.join(cache, 'models'), images: path.join(cache, 'images'), from: cache },
  ];
  return candidates
    .filter((c): c is { models: string; images: string; from: string } => c.models !== undefined && c.images !== undefined)
    .find((c) => fs.existsSync(path.join(c.models, 'mobilenetv2-12-int8.onnx')) && fs.existsSync(path.join(c.images, 'imagenet-samples')));
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** IEEE half to single precision. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

// onnx-proto is CommonJS: its namespace comes through the default export.
const { onnx } = onnxProto;
const FLOAT = 1;
const FLOAT16 = 10;

function upcastTensor(t: Onnx.ITensorProto): void {
  if (t.dataType !== FLOAT16) return;
  const raw = t.rawData && t.rawData.length > 0 ? Buffer.from(t.rawData) : undefined;
  const halves = raw ? Array.from({ length: raw.length / 2 }, (_, i) => raw.readUInt16LE(2 * i)) : (t.int32Data ?? []).map(Number);
  const out = Buffer.alloc(halves.length * 4);
  halves.forEach((h, i) => out.writeFloatLE(halfToFloat(h), 4 * i));
  t.rawData = out;
  t.int32Data = [];
  t.dataType = FLOAT;
}

/** A float16 ONNX model with every float16 initializer, input, output, constant and cast made float32. */
export function upcastModel(bytes: Uint8Array): Uint8Array {
  const m = onnx.ModelProto.decode(bytes);
  const g = m.graph!;
  for (const t of g.initializer ?? []) upcastTensor(t);
  for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])]) if (v.type?.tensorType?.elemType === FLOAT16) v.type.tensorType.elemType = FLOAT;
  for (const n of g.node ?? [])
    for (const a of n.attribute ?? []) {
      if (a.t) upcastTensor(a.t);
      if (n.opType === 'Cast' && a.name === 'to' && Number(a.i) === FLOAT16) a.i = FLOAT;
    }
  return onnx.ModelProto.encode(m).finish();
}

export interface FetchOptions {
  dest: string;
  /** Instead of https://raw.githubusercontent.com: a mirror with the same /owner/repo/commit/path layout. */
  mirror?: string;
  log?: (line: string) => void;
}

/** Download what is missing (sha256-checked), then make the HEIC samples and the float32 twin. */
export async function fetchTestData({ dest, mirror, log = () => undefined }: FetchOptions): Promise<{ present: number; downloaded: number; bytes: number; made: number }> {
  const data = testData();
  const limit = pLimit(8);
  let present = 0;
  let downloaded = 0;
  let bytes = 0;
  await Promise.all(
    data.files.map((f) =>
      limit(async () => {
        const file = path.join(dest, f.path);
        if (fs.existsSync(file) && sha256(await fsp.readFile(file)) === f.sha256) return void present++;
        const around = 'point IMGTAG_MODEL_DIR and IMGTAG_IMAGE_DIR at folders that have the files, or download them through a mirror (npm run fetch-test-data -- --mirror <url>)';
        try {
          bytes += await downloadPinned(mirroredUrl(f.url, mirror), f.sha256, file, around);
        } catch (e) {
          // Offline, every one of the 500 files would fail in turn: the first failure ends the download.
          limit.clearQueue();
          throw e;
        }
        downloaded++;
      }),
    ),
  );
  log(`${present} present, ${downloaded} downloaded (${(bytes / 1e6).toFixed(1)} MB)`);
  let made = 0;
  // SqueezeNet's float32 twin, for the float16 test.
  const twin = path.join(dest, 'models/SqueezeNet_fp16_upcast_fp32.onnx');
  if (!fs.existsSync(twin)) {
    await fsp.writeFile(twin, upcastModel(await fsp.readFile(path.join(dest, 'models/SqueezeNet_fp16.onnx'))));
    made++;
  }
  // Every tenth JPEG sample as HEIC, as Debian's heif-enc writes it (x265's veryfast preset: the same HEVC, faster).
  const { from, every, to, quality } = data.heic;
  const jpegs = fs.readdirSync(path.join(dest, from)).filter((f) => f.endsWith('.JPEG')).sort().filter((_, i) => i % every === 0);
  await fsp.mkdir(path.join(dest, to), { recursive: true });
  const encode = pLimit(Math.max(1, os.availableParallelism()));
  await Promise.all(
    jpegs.map((j) =>
      encode(async () => {
        const out = path.join(dest, to, j.replace(/\.JPEG$/, '.heic'));
        if (fs.existsSync(out)) return;
        await promisify(execFile)('heif-enc', ['-q', String(quality), '-p', 'preset=veryfast', '-o', `${out}.part.heic`, path.join(dest, from, j)]);
        await fsp.rename(`${out}.part.heic`, out);
        made++;
      }),
    ),
  );
  if (made > 0) log(`${made} made (HEIC samples with heif-enc, SqueezeNet's float32 twin)`);
  return { present, downloaded, bytes, made };
}
