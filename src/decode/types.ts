/** The decode stage's answer: the model-sized RGB pixels and the image's own size, upright. */
export interface DecodedImage {
  /** height x width x 3 bytes, 8-bit sRGB, row-major (HWC), one buffer per target asked for. */
  pixels: Buffer[];
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

/**
 * Why an image could not be decoded, as a kind: too-many-pixels (over --max-pixels, its size when
 * known), unsupported (a format not decoded), undecodable (the data itself). Describing it for a
 * person (decode-error.ts) reads the kind, not the words.
 */
export type DecodeErrorKind = 'too-many-pixels' | 'unsupported' | 'undecodable';

export class DecodeError extends Error {
  override name = 'DecodeError';
  /** `decodes`: over the limit by what decoding it would take, not by its declared size ("a 30000x20000 grid canvas"). */
  constructor(message: string, readonly kind: DecodeErrorKind, readonly size?: { width: number; height: number }, readonly decodes?: string) {
    super(message);
  }
}

export const overPixelLimit = (width: number, height: number, maxPixels: number, decodes?: string) =>
  new DecodeError(decodes ? `image is ${width}x${height} but would decode ${decodes}, over the ${maxPixels}-pixel limit` : `image is ${width}x${height}, over the ${maxPixels}-pixel limit`, 'too-many-pixels', { width, height }, decodes);
