import sharp from 'sharp';

/** The decode stage's answer: the model-sized RGB pixels and the image's own size, upright. */
export interface DecodedImage {
  /** height x width x 3 bytes, 8-bit sRGB, row-major (HWC). */
  pixels: Buffer;
  width: number;
  height: number;
}

export interface DecodeTarget {
  width: number;
  height: number;
  /** Resize so the short side is this long, then centre-crop to width x height. */
  shortSide: number;
  /** Refuse images with more pixels than this before decoding them (decompression bombs). */
  maxPixels: number;
}

export class DecodeError extends Error {
  override name = 'DecodeError';
}

export const DEFAULT_MAX_PIXELS = 100_000_000;

/** Formats whose decoders sharp ships; SVG and PDF are refused (they can reference other files). */
const ACCEPTED = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif', 'jp2', 'jxl']);

/** Size after the short side is scaled to `shortSide`, never smaller than the crop. */
function resizedSize(w: number, h: number, t: DecodeTarget): { w: number; h: number } {
  const s = t.shortSide / Math.min(w, h);
  return { w: Math.max(t.width, Math.round(w * s)), h: Math.max(t.height, Math.round(h * s)) };
}

/**
 * EXIF auto-rotate, resize (libvips shrink-on-load picks the JPEG/WebP DCT scale), centre-crop,
 * flatten alpha onto white, and convert any colour space or bit depth to 8-bit sRGB.
 */
export async function decodeImage(bytes: Buffer, target: DecodeTarget): Promise<DecodedImage> {
  const options = { failOn: 'truncated' as const, limitInputPixels: target.maxPixels, sequentialRead: true };
  const meta = await sharp(bytes, options).metadata();
  if (!meta.format || !ACCEPTED.has(meta.format)) throw new DecodeError(`unsupported image format ${meta.format ?? 'unknown'}`);
  const { width, height } = meta.autoOrient ?? meta;
  if (!width || !height) throw new DecodeError('image has no size');
  if (width * height > target.maxPixels) throw new DecodeError(`image is ${width}x${height}, over the ${target.maxPixels}-pixel limit`);
  const r = resizedSize(width, height, target);
  const { data, info } = await sharp(bytes, options)
    .autoOrient()
    .resize(r.w, r.h, { fit: 'fill' })
    .extract({ left: (r.w - target.width) >> 1, top: (r.h - target.height) >> 1, width: target.width, height: target.height })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== target.width || info.height !== target.height) {
    throw new DecodeError(`decoder produced ${info.width}x${info.height}x${info.channels}, expected ${target.width}x${target.height}x3`);
  }
  return { pixels: data, width, height };
}
