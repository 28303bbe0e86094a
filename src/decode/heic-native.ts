import { loadAddon } from '../native/load.js';
import { settings } from '../settings.js';
import type { DecodeTarget } from './types.js';
import { nativeTargets } from './native-targets.js';

/**
 * The native addon (native/heic_decode.c), built at install over the system's libheif: each target's
 * centre crop, upright, as the JPEG fast path gives them; pixWidth x pixHeight is what was decoded
 * (the thumbnail or the primary image). Over the limit: `decodes` says what decoding would have
 * taken when that, not the declared size, is over it (a grid canvas, an SPS larger than the ispe).
 */
export type NativeHeic =
  | { width: number; height: number; overLimit: true; decodes?: string }
  | { width: number; height: number; overLimit?: undefined; pixels: Buffer[]; pixWidth: number; pixHeight: number; fromThumbnail: boolean };

interface HeicAddon {
  decode(bytes: Buffer, targets: Int32Array, minShortSide: number, maxPixels: number): Promise<NativeHeic>;
  /** HEVC through FFmpeg's decoder from now on: its libavcodec version; undefined when built without it. */
  useFfmpeg(): string | undefined;
}

let loaded: { addon?: HeicAddon; problem?: string; hevc?: string } | undefined;
function load(): { addon?: HeicAddon; problem?: string; hevc?: string } {
  if (loaded) return loaded;
  loaded = loadAddon<HeicAddon>('imgtag_heic', settings().heic === 'wasm' ? 'IMGTAG_HEIC=wasm' : undefined, "install Debian's libheif-dev and a C compiler, then npm rebuild");
  const ffmpeg = settings().hevcDecoder === 'ffmpeg' ? loaded.addon?.useFfmpeg() : undefined;
  loaded.hevc = loaded.addon ? (ffmpeg ? `FFmpeg (${ffmpeg})` : 'libde265') : undefined;
  return loaded;
}

/** Which HEVC decoder the native path uses ("FFmpeg (Lavc59.37.100)", "libde265"); undefined without the native path. */
export const hevcDecoderName = () => load().hevc;

/** Why HEIC goes through libheif's WebAssembly build instead, said once at the start of a run; undefined when the native path is in use. */
export const heicFastPathProblem = () => load().problem;


/**
 * Decoded natively and cropped for every target: the least that serves them all, the file's
 * thumbnail when its short side is at least nativeTargets' floor, else the primary image; upright,
 * as HEIF defines it. Undefined when the addon is not built (the caller uses WebAssembly).
 */
export async function decodeHeicNative(bytes: Buffer, targets: DecodeTarget[], maxPixels: number, useThumbnail = true): Promise<NativeHeic | undefined> {
  const { addon } = load();
  const { sizes, thumbnailFloor } = nativeTargets(targets);
  return addon?.decode(bytes, sizes, useThumbnail ? thumbnailFloor : 0, maxPixels);
}
