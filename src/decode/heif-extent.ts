import { loadAddon } from '../native/load.js';
import { DecodeError } from './types.js';

/** native/heif_extent_addon.c: what libheif would decode for a HEIF file's primary image, from its boxes. */
interface ExtentAddon {
  check(bytes: Buffer, maxPixels: number): undefined | { over: true; decodes: string } | { unreadable: string };
}

let loaded: { addon?: ExtentAddon } | undefined;
const load = () => (loaded ??= loadAddon<ExtentAddon>('imgtag_heif_extent', undefined, 'install a C compiler (build-essential), then npm rebuild'));

/**
 * Refuse a HEIF (HEIC as WebAssembly, AVIF through sharp) whose primary image would decode more
 * than `maxPixels` (a grid canvas, a tile, a coded image larger than its ispe), before any decoder
 * sees it, as the native HEIC path does. Without the addon (no C compiler at install) the decoders'
 * own checks of the declared size are all there is.
 */
export function refuseHeifOverLimit(bytes: Buffer, maxPixels: number, declared?: { width: number; height: number }): void {
  const got = load().addon?.check(bytes, maxPixels);
  if (got === undefined) return;
  if ('unreadable' in got) throw new DecodeError(`HEIF file whose size could not be checked before decoding: ${got.unreadable}`, 'undecodable');
  const size = declared ? `image is ${declared.width}x${declared.height} but` : 'image';
  throw new DecodeError(`${size} would decode ${got.decodes}, over the ${maxPixels}-pixel limit`, 'too-many-pixels', declared, got.decodes);
}
