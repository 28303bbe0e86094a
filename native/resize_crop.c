// See resize_crop.h.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "resize_crop.h"
#include "resize_simd.h"

static int make_kernel(kernel_t *k, int in_size, int out_size, int from, int count) {
  double scale = (double)in_size / out_size;
  double filterscale = scale < 1.0 ? 1.0 : scale;
  double support = 1.0 * filterscale;
  int ksize = (int)ceil(support) * 2 + 1;
  k->ksize = ksize;
  k->bounds = malloc(sizeof(int) * 2 * count);
  k->coeffs = malloc(sizeof(int32_t) * ksize * count);
  double *w = malloc(sizeof(double) * ksize);
  if (!k->bounds || !k->coeffs || !w) { free(w); return 0; }
  for (int o = 0; o < count; o++) {
    double center = (from + o + 0.5) * scale;
    double ss = 1.0 / filterscale;
    int xmin = (int)(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = (int)(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double total = 0;
    for (int x = 0; x < xmax; x++) {
      double d = fabs((x + xmin - center + 0.5) * ss);
      double v = d < 1.0 ? 1.0 - d : 0.0;
      w[x] = v;
      total += v;
    }
    for (int x = 0; x < ksize; x++) {
      double v = x < xmax && total != 0 ? w[x] / total : 0;
      k->coeffs[o * ksize + x] = (int32_t)(v < 0 ? v * (1 << PRECISION_BITS) - 0.5 : v * (1 << PRECISION_BITS) + 0.5);
    }
    k->bounds[o * 2] = xmin;
    k->bounds[o * 2 + 1] = xmax;
  }
  free(w);
  return 1;
}

static void free_kernel(kernel_t *k) { free(k->bounds); free(k->coeffs); }

/**
 * Scratch memory per thread-pool thread, kept between images: a fresh malloc of a decoded photo (over
 * glibc's mmap threshold, which imgtag's workers set low) would cost an mmap, page faults and munmap
 * per image.
 */
static _Thread_local scratch_t scratch_rows, scratch_acc, scratch_crop;

void *scratch(scratch_t *s, size_t n) {
  if (n > s->cap) {
    free(s->p);
    s->p = malloc(n);
    s->cap = s->p ? n : 0;
  }
  return s->p;
}

static inline uint8_t clip8(int32_t v) {
  v >>= PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/** The horizontal pass as Pillow computes it, a row and an output pixel at a time (the reference for the SIMD levels). */
static void hpass_scalar(const uint8_t *src, int stride, int rows, const kernel_t *kx, int cw, uint8_t *tmp, int tstride) {
  for (int y = 0; y < rows; y++) {
    const uint8_t *line = src + (size_t)y * stride;
    uint8_t *out = tmp + (size_t)y * tstride;
    for (int o = 0; o < cw; o++) {
      int xmin = kx->bounds[o * 2], xn = kx->bounds[o * 2 + 1];
      const int32_t *c = kx->coeffs + o * kx->ksize;
      int32_t r = 1 << (PRECISION_BITS - 1), g = r, b = r;
      const uint8_t *px = line + xmin * 3;
      for (int x = 0; x < xn; x++, px += 3) {
        r += px[0] * c[x];
        g += px[1] * c[x];
        b += px[2] * c[x];
      }
      out[o * 3] = clip8(r);
      out[o * 3 + 1] = clip8(g);
      out[o * 3 + 2] = clip8(b);
    }
  }
}

/** The vertical pass a row at a time (contiguous, so the compiler vectorises it for the baseline ISA). */
static int vpass_scalar(const uint8_t *tmp, int tstride, const kernel_t *ky, int y0, int ch, int n, uint8_t *dst) {
  int32_t *acc = scratch(&scratch_acc, sizeof(int32_t) * n);
  if (!acc) return 0;
  for (int o = 0; o < ch; o++) {
    int ymin = ky->bounds[o * 2] - y0, yn = ky->bounds[o * 2 + 1];
    const int32_t *c = ky->coeffs + o * ky->ksize;
    for (int x = 0; x < n; x++) acc[x] = 1 << (PRECISION_BITS - 1);
    for (int y = 0; y < yn; y++) {
      const uint8_t *row = tmp + (size_t)(ymin + y) * tstride;
      const int32_t k = c[y];
      for (int x = 0; x < n; x++) acc[x] += row[x] * k;
    }
    uint8_t *out = dst + (size_t)o * n;
    for (int x = 0; x < n; x++) out[x] = clip8(acc[x]);
  }
  return 1;
}

static int hpass(const uint8_t *src, int stride, int rows, const kernel_t *kx, int cw, uint8_t *tmp, int tstride) {
  switch (simd_level()) {
#if defined(RESIZE_SIMD_X86)
    case SIMD_AVX512: return hpass_avx512(src, stride, rows, kx, cw, tmp, tstride);
    case SIMD_AVX2: return hpass_avx2(src, stride, rows, kx, cw, tmp, tstride);
#elif defined(RESIZE_SIMD_NEON)
    case SIMD_NEON: return hpass_neon(src, stride, rows, kx, cw, tmp, tstride);
#endif
    default: hpass_scalar(src, stride, rows, kx, cw, tmp, tstride); return 1;
  }
}

static int vpass(const uint8_t *tmp, int tstride, const kernel_t *ky, int y0, int ch, int n, uint8_t *dst) {
  // The SIMD passes work 16 bytes at a time, the last 16 overlapping: narrower crops stay scalar.
  switch (n < 16 ? SIMD_SCALAR : simd_level()) {
#if defined(RESIZE_SIMD_X86)
    case SIMD_AVX512: vpass_avx512(tmp, tstride, ky, y0, ch, n, dst); return 1;
    case SIMD_AVX2: vpass_avx2(tmp, tstride, ky, y0, ch, n, dst); return 1;
#elif defined(RESIZE_SIMD_NEON)
    case SIMD_NEON: vpass_neon(tmp, tstride, ky, y0, ch, n, dst); return 1;
#endif
    default: return vpass_scalar(tmp, tstride, ky, y0, ch, n, dst);
  }
}

/**
 * Resize src (sw x sh RGB) to rw x rh and keep only the window [cx, cx+cw) x [cy, cy+ch), into dst
 * (cw x ch RGB). Horizontal pass first, over only the source rows the window's rows need, into
 * rows 64-byte aligned in length (the SIMD passes store whole vectors).
 */
static int resize_crop(const uint8_t *src, int stride, int sw, int sh, int rw, int rh, int cx, int cy, int cw, int ch, uint8_t *dst) {
  kernel_t kx, ky;
  if (!make_kernel(&kx, sw, rw, cx, cw) || !make_kernel(&ky, sh, rh, cy, ch)) return 0;
  int y0 = ky.bounds[0], y1 = y0;
  for (int o = 0; o < ch; o++) {
    int end = ky.bounds[o * 2] + ky.bounds[o * 2 + 1];
    if (ky.bounds[o * 2] < y0) y0 = ky.bounds[o * 2];
    if (end > y1) y1 = end;
  }
  int rows = y1 - y0, n = cw * 3, tstride = (n + 63) / 64 * 64;
  uint8_t *tmp = scratch(&scratch_rows, (size_t)rows * tstride);
  int ok = tmp && hpass(src + (size_t)y0 * stride, stride, rows, &kx, cw, tmp, tstride) && vpass(tmp, tstride, &ky, y0, ch, n, dst);
  free_kernel(&kx);
  free_kernel(&ky);
  return ok;
}

/** Where upright pixel (x, y) of an image shown W x H comes from in the stored image (sw x sh). */
static inline void stored_xy(int orient, int x, int y, int sw, int sh, int *sx, int *sy) {
  switch (orient) {
    case 2: *sx = sw - 1 - x; *sy = y; break;
    case 3: *sx = sw - 1 - x; *sy = sh - 1 - y; break;
    case 4: *sx = x; *sy = sh - 1 - y; break;
    case 5: *sx = y; *sy = x; break;
    case 6: *sx = y; *sy = sh - 1 - x; break;
    case 7: *sx = sw - 1 - y; *sy = sh - 1 - x; break;
    case 8: *sx = sw - 1 - y; *sy = x; break;
    default: *sx = x; *sy = y;
  }
}


void resized_size(const target_t *t, int uw, int uh, int *rw, int *rh) {
  double s = (double)t->short_side / (uw < uh ? uw : uh);
  *rw = (int)floor(uw * s + 0.5);
  *rh = (int)floor(uh * s + 0.5);
  if (*rw < t->width) *rw = t->width;
  if (*rh < t->height) *rh = t->height;
}

int crop_targets(const uint8_t *rgb, int stride, int sw, int sh, int orient, int uw, int uh, const target_t *targets, int n, uint8_t **out) {
  int transposed = orient >= 5;
  for (int t = 0; t < n; t++) out[t] = NULL;
  for (int t = 0; t < n; t++) {
    const target_t *tg = &targets[t];
    int rw, rh;
    resized_size(tg, uw, uh, &rw, &rh);
    // The centre crop, upright, then the same rectangle in the stored orientation.
    int left = (rw - tg->width) >> 1, top = (rh - tg->height) >> 1;
    int srw = transposed ? rh : rw, srh = transposed ? rw : rh;
    int ax, ay, bx, by;
    stored_xy(orient, left, top, srw, srh, &ax, &ay);
    stored_xy(orient, left + tg->width - 1, top + tg->height - 1, srw, srh, &bx, &by);
    int cx = ax < bx ? ax : bx, cy = ay < by ? ay : by;
    int cw = transposed ? tg->height : tg->width, ch = transposed ? tg->width : tg->height;
    out[t] = malloc((size_t)tg->width * tg->height * 3);
    // Upright already: resized straight into the result.
    uint8_t *crop = orient == 1 ? out[t] : scratch(&scratch_crop, (size_t)cw * ch * 3);
    if (!crop || !out[t] || !resize_crop(rgb, stride, sw, sh, srw, srh, cx, cy, cw, ch, crop)) {
      for (int i = 0; i <= t; i++) { free(out[i]); out[i] = NULL; }
      return 0;
    }
    if (orient != 1) {
      // stored_xy is affine: upright pixel (x, y) is crop byte at + x * dx + y * dy.
      int sx, sy, sx1, sy1, sx2, sy2;
      stored_xy(orient, left, top, srw, srh, &sx, &sy);
      stored_xy(orient, left + 1, top, srw, srh, &sx1, &sy1);
      stored_xy(orient, left, top + 1, srw, srh, &sx2, &sy2);
      ptrdiff_t at = ((ptrdiff_t)(sy - cy) * cw + (sx - cx)) * 3;
      ptrdiff_t dx = ((ptrdiff_t)(sy1 - sy) * cw + (sx1 - sx)) * 3, dy = ((ptrdiff_t)(sy2 - sy) * cw + (sx2 - sx)) * 3;
      uint8_t *q = out[t];
      for (int y = 0; y < tg->height; y++) {
        const uint8_t *p = crop + at + y * dy;
        for (int x = 0; x < tg->width; x++, p += dx, q += 3) {
          q[0] = p[0];
          q[1] = p[1];
          q[2] = p[2];
        }
      }
    }
  }
  return 1;
}

/** box_shrink_rgb as first written (the reference for the SIMD levels). */
static void box_shrink_scalar(const uint8_t *rgb, int stride, int w, int h, int k, uint8_t *out) {
  int ow = w / k, oh = h / k, n = k * k;
  uint32_t *sums = scratch(&scratch_acc, sizeof(uint32_t) * (size_t)ow * 3);
  if (!sums) return;
  for (int oy = 0; oy < oh; oy++) {
    memset(sums, 0, sizeof(uint32_t) * (size_t)ow * 3);
    for (int r = 0; r < k; r++) {
      const uint8_t *line = rgb + (size_t)(oy * k + r) * stride;
      for (int ox = 0; ox < ow; ox++) {
        const uint8_t *px = line + (size_t)ox * k * 3;
        uint32_t sr = 0, sg = 0, sb = 0;
        for (int c = 0; c < k; c++, px += 3) {
          sr += px[0];
          sg += px[1];
          sb += px[2];
        }
        sums[ox * 3] += sr;
        sums[ox * 3 + 1] += sg;
        sums[ox * 3 + 2] += sb;
      }
    }
    uint8_t *o = out + (size_t)oy * ow * 3;
    for (int i = 0; i < ow * 3; i++) o[i] = (uint8_t)((sums[i] + n / 2) / n);
  }
}

void box_shrink_rgb(const uint8_t *rgb, int stride, int w, int h, int k, uint8_t *out) {
  // The SIMD levels' column sums are 16 bits: k rows of 255 fit for k up to 257.
  switch (k > 257 ? SIMD_SCALAR : simd_level()) {
#if defined(RESIZE_SIMD_X86)
    case SIMD_AVX512: if (box_shrink_avx512(rgb, stride, w, h, k, out)) return; break;
    case SIMD_AVX2: if (box_shrink_avx2(rgb, stride, w, h, k, out)) return; break;
#elif defined(RESIZE_SIMD_NEON)
    case SIMD_NEON: if (box_shrink_neon(rgb, stride, w, h, k, out)) return; break;
#endif
    default: break;
  }
  box_shrink_scalar(rgb, stride, w, h, k, out);
}
