import { loadAddon } from '../native/load.js';

/** The native pass (native/pixel_table.c): each HWC pixel's bytes through their channel's 256 entries, in place. */
interface TableAddon {
  applyTable(pixels: Uint8Array, table: Uint8Array): void;
}

let loaded: { addon?: TableAddon; problem?: string } | undefined;
/** Undefined when the addon is not built: then the model keeps its normalising graph (a pass in JavaScript costs what the table saves). */
export const tableAddon = (): TableAddon | undefined => (loaded ??= loadAddon<TableAddon>('imgtag_pixels', undefined, 'install a C compiler, then npm rebuild')).addon;

/** Probe pixels [1, height, width, 3]: byte i is i mod 256, so each channel (stride 3, coprime to 256) holds every value. */
export function probePixels(height: number, width: number): Uint8Array {
  return Uint8Array.from({ length: height * width * 3 }, (_, i) => i & 255);
}

/**
 * The table [channel * 256 + value] read back from the probe's output (the quantized bytes in the
 * model's layout and channel order). Undefined when one value of one channel gave two different
 * bytes (onnxruntime's answer would depend on where the pixel is): then no table is exact.
 */
export function readTable(pixels: Uint8Array, out: Uint8Array, nchw: boolean, bgr: boolean): Uint8Array | undefined {
  const plane = pixels.length / 3;
  if (out.length !== pixels.length) return undefined;
  const table = new Uint8Array(768);
  const seen = new Uint8Array(768);
  for (let p = 0; p < plane; p++) {
    for (let m = 0; m < 3; m++) {
      const c = bgr ? 2 - m : m;
      const at = c * 256 + pixels[p * 3 + c]!;
      const q = out[nchw ? m * plane + p : p * 3 + m]!;
      if (seen[at] && table[at] !== q) return undefined;
      table[at] = q;
      seen[at] = 1;
    }
  }
  return seen.every((s) => s === 1) ? table : undefined;
}
