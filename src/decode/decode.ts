import sharp, { type Metadata } from 'sharp';
import { decodeJpegFast } from './jpeg-fast.js';
import { decodeHeicOffThread, isHeif, isHevcHeif } from './heic.js';
import { decodeHeicNative } from './heic-native.js';
import { refuseHeifOverLimit } from './heif-extent.js';
import { settings } from '../settings.js';
import { DecodeError, overPixelLimit, type DecodedImage, type DecodeTarget } from './types.js';

/** Formats whose decoders sharp ships; SVG and PDF are refused (they can reference other files). */
const ACCEPTED = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif', 'jp2', 'jxl']);

/** Size after the short side is scaled to `shortSide`, never smaller than the crop. */
function resizedSize(w: number, h: number, t: DecodeTarget): { w: number; h: number } {
  const s = t.shortSide / Math.min(w, h);
  return { w: Math.max(t.width, Math.round(w * s)), h: Math.max(t.height, Math.round(h * s)) };
}

const sameTarget = (a: DecodeTarget, b: DecodeTarget) => a.width === b.width && a.height === b.height && a.shortSide === b.shortSide;

/** Distinct decode targets of several models, and for each model the index of its target. */
export function distinctTargets(targets: DecodeTarget[]): { targets: DecodeTarget[]; index: number[] } {
  const out: DecodeTarget[] = [];
  const index = targets.map((t) => {
    const i = out.findIndex((o) => sameTarget(o, t));
    return i >= 0 ? i : out.push(t) - 1;
  });
  return { targets: out, index };
}

type Pipeline = ReturnType<typeof sharp>;

/** What the header says about the pixels: steps that would be no-ops are left out of the pipeline. */
interface Layout {
  hasAlpha: boolean;
  /** Already 8-bit 3-channel sRGB: no colour-space conversion needed. */
  plainRgb: boolean;
}

/** Flatten alpha onto white and convert grey, CMYK or 16-bit to 8-bit sRGB, only where the image needs it. */
function toRgb(img: Pipeline, layout: Layout): Pipeline {
  const flat = layout.hasAlpha ? img.flatten({ background: '#ffffff' }) : img;
  return (layout.plainRgb && !layout.hasAlpha ? flat : flat.toColourspace('srgb')).raw({ depth: 'uchar' });
}

/** Bilinear with antialiasing, as torchvision and PIL resize for ImageNet models; cheaper than lanczos3. */
const RESIZE = { fit: 'fill', kernel: 'linear' } as const;

/** Resize so the short side fits, centre-crop to the target, as 8-bit sRGB without alpha. */
async function cropped(img: Pipeline, w: number, h: number, t: DecodeTarget, layout: Layout): Promise<Buffer> {
  const r = resizedSize(w, h, t);
  const { data, info } = await toRgb(
    img.resize(r.w, r.h, RESIZE).extract({ left: (r.w - t.width) >> 1, top: (r.h - t.height) >> 1, width: t.width, height: t.height }),
    layout,
  ).toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== t.width || info.height !== t.height) {
    throw new DecodeError(`decoder produced ${info.width}x${info.height}x${info.channels}, expected ${t.width}x${t.height}x3`, 'undecodable');
  }
  return data;
}

/**
 * JPEGs through the native fast path when it is built (jpeg-fast.ts); everything else, and JPEGs it
 * declines, through sharp: EXIF auto-rotate, resize (libvips shrink-on-load picks the JPEG/WebP DCT scale), centre-crop,
 * flatten alpha onto white, and convert any colour space or bit depth to 8-bit sRGB. With several
 * targets the image is decoded once, to the largest size any target needs, and resized from that.
 * Embedded ICC profiles are ignored, as PIL (and so torchvision-trained models) ignores them: it
 * matches what the model saw in training, and building a colour transform per image costs more
 * than the decode itself.
 */
export async function decodeImage(bytes: Buffer, targets: DecodeTarget[]): Promise<DecodedImage> {
  const fast = await decodeJpegFast(bytes, targets);
  if (fast) return fast;
  return decodeWithSharp(bytes, targets);
}

/** Every format sharp reads (and JPEGs the fast path declines or cannot take); HEVC-coded HEIF through libheif. */
export async function decodeWithSharp(bytes: Buffer, targets: DecodeTarget[]): Promise<DecodedImage> {
  const maxPixels = Math.min(...targets.map((t) => t.maxPixels));
  // An iPhone photo says HEVC in its first 12 bytes: libheif reads it, sharp's libvips cannot.
  if (isHevcHeif(bytes)) return decodeHeic(bytes, targets, maxPixels);
  const options = { failOn: 'truncated' as const, limitInputPixels: maxPixels, sequentialRead: true, ignoreIcc: true };
  let meta: Metadata;
  try {
    meta = await sharp(bytes, options).metadata();
  } catch (e) {
    if (isHeif(bytes)) return decodeHeic(bytes, targets, maxPixels);
    // sharp says this one only in words: made a kind here, where sharp is called.
    if (/exceeds pixel limit/i.test(e instanceof Error ? e.message : '')) throw new DecodeError(`over the ${maxPixels}-pixel limit`, 'too-many-pixels');
    throw e;
  }
  if (!meta.format || !ACCEPTED.has(meta.format)) throw new DecodeError(`unsupported image format ${meta.format ?? 'unknown'}`, 'unsupported');
  // sharp's prebuilt libvips has no HEVC decoder (patents): iPhone photos go to libheif.
  if (meta.format === 'heif' && meta.compression === 'hevc') return decodeHeic(bytes, targets, maxPixels);
  const { width, height } = meta.autoOrient ?? meta;
  if (!width || !height) throw new DecodeError('image has no size', 'undecodable');
  if (width * height > maxPixels) throw overPixelLimit(width, height, maxPixels);
  // AVIF (and HEIF of other codecs) through sharp's libheif: its grid canvas and tiles, not just the declared size.
  if (meta.format === 'heif') refuseHeifOverLimit(bytes, maxPixels, { width, height });
  const layout: Layout = { hasAlpha: meta.hasAlpha === true, plainRgb: meta.space === 'srgb' && meta.channels === 3 && meta.depth === 'uchar' };
  return { pixels: await resizeAll(() => sharp(bytes, options).autoOrient(), width, height, targets, layout), width, height };
}

/**
 * HEIC, upright: natively (libheif on the thread pool, resized and cropped there as the JPEG fast
 * path does), from the file's thumbnail when it is large enough for every target; else libheif as
 * WebAssembly on a pool thread, then the same resize and crop as every image.
 */
async function decodeHeic(bytes: Buffer, targets: DecodeTarget[], maxPixels: number): Promise<DecodedImage> {
  const how = settings().heic;
  if (how === 'wasm') return decodeHeicWasm(bytes, targets, maxPixels);
  const native = await decodeHeicNative(bytes, targets, maxPixels, how === 'thumbnail').catch((e: unknown) => {
    throw new DecodeError(e instanceof Error ? e.message : String(e), 'undecodable');
  });
  if (native?.overLimit) throw overPixelLimit(native.width, native.height, maxPixels, native.decodes);
  if (native) return { pixels: native.pixels, width: native.width, height: native.height };
  return decodeHeicWasm(bytes, targets, maxPixels);
}

/** HEIC by libheif's WebAssembly build on a pool thread: the fallback where the addon is not built. */
export async function decodeHeicWasm(bytes: Buffer, targets: DecodeTarget[], maxPixels: number): Promise<DecodedImage> {
  refuseHeifOverLimit(bytes, maxPixels);
  const got = await decodeHeicOffThread(bytes, maxPixels);
  if (got.overLimit) throw overPixelLimit(got.width, got.height, maxPixels);
  const { width, height, rgba } = got;
  const open = () => sharp(rgba, { raw: { width, height, channels: 4 } });
  return { pixels: await resizeAll(open, width, height, targets, { hasAlpha: true, plainRgb: true }), width, height };
}

/** Each target from one decode: directly for one target; for several, one resize to the largest size they need, then each from that. */
async function resizeAll(open: () => Pipeline, width: number, height: number, targets: DecodeTarget[], layout: Layout): Promise<Buffer[]> {
  if (targets.length === 1) return [await cropped(open(), width, height, targets[0]!, layout)];
  const sizes = targets.map((t) => resizedSize(width, height, t));
  const big = sizes.reduce((a, b) => (a.w * a.h >= b.w * b.h ? a : b));
  const { data, info } = await toRgb(open().resize(big.w, big.h, RESIZE), layout).toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels as 3 } };
  const rgb: Layout = { hasAlpha: false, plainRgb: true };
  return Promise.all(targets.map((t) => cropped(sharp(data, raw), info.width, info.height, t, rgb)));
}
