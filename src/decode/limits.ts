/** Images larger than this many pixels are refused before they are decoded (a decompression bomb guard). */
export const DEFAULT_MAX_PIXELS = 100_000_000;

/** Objects larger than this are refused before their bytes are read (from the manifest's size, else the response's length). */
export const DEFAULT_MAX_BYTES = 256 * 2 ** 20;
