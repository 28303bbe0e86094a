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
