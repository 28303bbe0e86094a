// Internal to resize_crop.c and resize_simd.c: the resize's fixed-point kernel, and its two passes
// and box_shrink_rgb's sums for each SIMD level, chosen once per process (see resize_simd.c). Every
// level does the same integer arithmetic as the scalar code, so its output is byte-identical.
#ifndef IMGTAG_RESIZE_SIMD_H
#define IMGTAG_RESIZE_SIMD_H
#include <stdint.h>

#define PRECISION_BITS (32 - 8 - 2)

/** Pillow's resampling coefficients (bilinear, antialiased when shrinking), fixed point, for output pixels [from, from+count). */
typedef struct { int *bounds; int32_t *coeffs; int ksize; } kernel_t;

/** Ordered: a level the CPU lacks falls back to the best below it. */
enum { SIMD_SCALAR, SIMD_NEON, SIMD_AVX2, SIMD_AVX512 };

/** The level in use: the best this CPU has, or the one IMGTAG_SIMD asks for (read once) if it has it. */
int simd_level(void);

/*
 * Horizontal pass: `rows` source rows from `src` (`stride` bytes apart) through kx's cw output
 * pixels into tmp (rows `tstride` bytes apart, tstride a multiple of 64 at least cw * 3). 0 on out of memory.
 * Vertical pass: tmp's rows (the first is source row y0) through ky's ch output rows into dst
 * (ch rows of n = cw * 3 bytes, n at least 16).
 * Box sums: box_shrink_rgb for k at most 257 (its column sums fit 16 bits); 0 on out of memory.
 */
#define RESIZE_SIMD_LEVEL(isa)                                                                                     \
  int hpass_##isa(const uint8_t *src, int stride, int rows, const kernel_t *kx, int cw, uint8_t *tmp, int tstride); \
  void vpass_##isa(const uint8_t *tmp, int tstride, const kernel_t *ky, int y0, int ch, int n, uint8_t *dst);       \
  int box_shrink_##isa(const uint8_t *rgb, int stride, int w, int h, int k, uint8_t *out);

#if defined(__x86_64__) && defined(__GNUC__)
#define RESIZE_SIMD_X86 1
RESIZE_SIMD_LEVEL(avx2)
RESIZE_SIMD_LEVEL(avx512)
#elif defined(__aarch64__) && defined(__ARM_NEON)
#define RESIZE_SIMD_NEON 1
RESIZE_SIMD_LEVEL(neon)
#endif

#endif
