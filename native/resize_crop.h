// Resize and centre-crop for the model, shared by the JPEG and HEIC fast paths: a Pillow-style
// antialiased bilinear resize computed only for the crop's pixels, and EXIF orientation applied to
// the small result.
#ifndef IMGTAG_RESIZE_CROP_H
#define IMGTAG_RESIZE_CROP_H
#include <stddef.h>
#include <stdint.h>

#define MAX_TARGETS 8

typedef struct { int width, height, short_side; } target_t;

/** Scratch memory kept per thread between images (see resize_crop.c). */
typedef struct { void *p; size_t cap; } scratch_t;
void *scratch(scratch_t *s, size_t n);

/** The size an upright uw x uh image is resized to for `t` (short side to t->short_side, at least the crop), as the sharp path computes it. */
void resized_size(const target_t *t, int uw, int uh, int *rw, int *rh);

/**
 * Each target's centre crop, malloc'd (width x height x 3 RGB, upright), from `rgb`: sw x sh pixels,
 * rows `stride` bytes apart, stored with EXIF orientation `orient` (1..8) of an image that is uw x uh upright at full size
 * (`rgb` may be a scaled-down decode of it). 0 on out of memory; then nothing is left allocated.
 */
int crop_targets(const uint8_t *rgb, int stride, int sw, int sh, int orient, int uw, int uh, const target_t *targets, int n, uint8_t **out);

/** (w / k) x (h / k) RGB into `out`, each pixel the rounded mean of a k x k block of `rgb` (rows `stride` bytes apart). */
void box_shrink_rgb(const uint8_t *rgb, int stride, int w, int h, int k, uint8_t *out);

/** The SIMD level the resize uses in this process: "scalar", "avx2", "avx512" or "neon" (IMGTAG_SIMD forces one the CPU has). */
const char *resize_simd_level(void);

#endif
