import { loadAddon } from '../native/load.js';
import type { DecodedImage, DecodeTarget } from './types.js';
import { nativeTargets } from './native-targets.js';
import { settings } from '../settings.js';

/** The native addon (native/jpeg_fast.c), built at install over the system's libjpeg-turbo. */
interface JpegAddon {
  decode(jpeg: Buffer, targets: Int32Array, maxPixels: number): Promise<{ width: number; height: number; pixels: Buffer[] } | null>;
  /** The SIMD level of the native resize and crop in this process (native/resize_simd.c). */
  simdLevel(): 'scalar' | 'avx2' | 'avx512' | 'neon';
}

let loaded: { addon?: JpegAddon; problem?: string } | undefined;
const load = () => (loaded ??= loadAddon<JpegAddon>('imgtag_jpeg', settings().jpeg === 'sharp' ? 'IMGTAG_JPEG=sharp' : undefined, "install Debian's libturbojpeg0-dev and a C compiler, then npm rebuild"));

/** Why JPEGs go through sharp instead, said once at the start of a run; undefined when the fast path is in use. */
export const jpegFastPathProblem = () => load().problem;

/** The native resize's SIMD level ("avx512", "avx2", "neon", "scalar"); undefined when the fast path is not built. */
export const resizeSimdLevel = () => load().addon?.simdLevel();

const isJpeg = (b: Buffer) => b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;

/**
 * A JPEG decoded, resized and centre-cropped for every target from one DCT-scaled decode, off the
 * main thread; undefined when the fast path is not built or declines the image (CMYK, 12-bit, a
 * warning such as truncation, over the pixel limit): then sharp decodes it, with its own errors.
 */
export async function decodeJpegFast(bytes: Buffer, targets: DecodeTarget[]): Promise<DecodedImage | undefined> {
  const { addon } = load();
  if (!addon || !isJpeg(bytes)) return undefined;
  const { sizes, maxPixels } = nativeTargets(targets);
  const got = await addon.decode(bytes, sizes, maxPixels);
  return got ?? undefined;
}
