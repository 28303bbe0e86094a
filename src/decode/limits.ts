/** Images larger than this many pixels are refused before they are decoded (a decompression bomb guard). */
export const DEFAULT_MAX_PIXELS = 100_000_000;
