import type { DecodeTarget } from './types.js';

/** What the native decoders take about a run's targets, worked out once per target list (a run's is fixed), not per image. */
export interface NativeTargets {
  /** [width, height, shortSide] per target. */
  sizes: Int32Array;
  /** The smallest pixel limit of the targets. */
  maxPixels: number;
  /**
   * The smallest thumbnail short side that serves every target: the largest crop's short side, so
   * the model's resize enlarges a thumbnail by at most short side / crop (256/224 for the built-in models).
   * Not lower: a 16:9 phone photo's 320x180 thumbnail loses 2.0 points of top-5 against the whole
   * image (MobileNetV2, 500 samples; BENCHMARKS.md, "HEIC 16:9 thumbnails"), past the one point allowed.
   */
  thumbnailFloor: number;
}

const packed = new WeakMap<DecodeTarget[], NativeTargets>();

export function nativeTargets(targets: DecodeTarget[]): NativeTargets {
  let p = packed.get(targets);
  if (!p) {
    p = {
      sizes: Int32Array.from(targets.flatMap((t) => [t.width, t.height, t.shortSide])),
      maxPixels: Math.min(...targets.map((t) => t.maxPixels)),
      thumbnailFloor: Math.max(...targets.map((t) => Math.min(t.width, t.height))),
    };
    packed.set(targets, p);
  }
  return p;
}
