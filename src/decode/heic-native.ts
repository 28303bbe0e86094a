import { loadAddon } from '../native/load.js';
import { settings } from '../settings.js';
import type { DecodeTarget } from './types.js';
import { packedTargets } from './jpeg-fast.js';

/**
 * The native addon (native/heic_decode.c), built at install over the system's libheif: each target's
 * centre crop, upright, as the JPEG fast path gives them; pixWidth x pixHeight is what was decoded
 * (the thumbnail or the primary image), averaged down by `shrink` before the resize.
 */
export type NativeHeic =
  | { width: number; height: number; overLimit: true }
  | { width: number; height: number; overLimit?: undefined; pixels: Buffer[]; pixWidth: number; pixHeight: number; shrink: number; fromThumbnail: boolean };

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
 * The least that serves every target: a thumbnail stored in the file when its short side is at
 * least the largest crop's (so the model's resize enlarges it by at most short side / crop, 256/224
 * for the built-in models), else the primary image. Either way upright, as HEIF defines it.
 */
export const thumbnailFloor = (targets: DecodeTarget[]) => Math.max(...targets.map((t) => Math.min(t.width, t.height)));

/** Decoded natively and cropped for every target; undefined when the addon is not built (the caller uses WebAssembly). */
export async function decodeHeicNative(bytes: Buffer, targets: DecodeTarget[], maxPixels: number, useThumbnail = true): Promise<NativeHeic | undefined> {
  const { addon } = load();
  return addon?.decode(bytes, packedTargets(targets), useThumbnail ? thumbnailFloor(targets) : 0, maxPixels);
}
