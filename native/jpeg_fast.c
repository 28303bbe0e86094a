// imgtag's JPEG fast path: libjpeg-turbo decode at a power-of-two DCT scale, a Pillow-style
// antialiased bilinear resize computed only for the centre crop, EXIF orientation applied to the
// small result. Runs on libuv's thread pool. Anything unusual (CMYK, 12-bit, a warning such as a
// truncated file, over the pixel limit) is declined: the caller decodes that image with sharp.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <node_api.h>
#include "async_job.h"
#include <turbojpeg.h>

#define MAX_TARGETS 8

// Decode at a DCT scale whose result is at least the resized size (as Pillow's draft() and libvips's
// shrink-on-load do): 2 would match Pillow's full decode more closely on large photos, at 0.77x the speed.
#define MARGIN 1
#define PRECISION_BITS (32 - 8 - 2)

typedef struct { int width, height, short_side; } target_t;

typedef struct {
  async_job_t async;
  const uint8_t *jpeg;
  size_t jpeg_size;
  int n_targets;
  target_t targets[MAX_TARGETS];
  double max_pixels;
  // results
  int declined;  // 1: not for this path, use sharp
  int width, height;  // upright size of the original image
  uint8_t *pixels[MAX_TARGETS];
} job_t;

/** EXIF orientation (1..8) from the first APP1 Exif segment; 1 when absent or unreadable. */
static int exif_orientation(const uint8_t *p, size_t n) {
  size_t i = 2;
  while (i + 4 <= n && p[i] == 0xFF) {
    uint8_t marker = p[i + 1];
    if (marker == 0xDA || marker == 0xD9) break;  // start of scan, end of image
    size_t len = ((size_t)p[i + 2] << 8) | p[i + 3];
    if (len < 2 || i + 2 + len > n) break;
    const uint8_t *seg = p + i + 4;
    size_t seg_len = len - 2;
    if (marker == 0xE1 && seg_len >= 14 && memcmp(seg, "Exif\0\0", 6) == 0) {
      const uint8_t *t = seg + 6;
      size_t tn = seg_len - 6;
      int le = t[0] == 'I' && t[1] == 'I';
      if (!le && !(t[0] == 'M' && t[1] == 'M')) return 1;
#define U16(q) (le ? (uint32_t)((q)[0] | ((q)[1] << 8)) : (uint32_t)(((q)[0] << 8) | (q)[1]))
#define U32(q) (le ? ((uint32_t)(q)[0] | ((uint32_t)(q)[1] << 8) | ((uint32_t)(q)[2] << 16) | ((uint32_t)(q)[3] << 24)) \
                   : (((uint32_t)(q)[0] << 24) | ((uint32_t)(q)[1] << 16) | ((uint32_t)(q)[2] << 8) | (uint32_t)(q)[3]))
      uint32_t ifd = U32(t + 4);
      if ((size_t)ifd + 2 > tn) return 1;
      uint32_t count = U16(t + ifd);
      for (uint32_t e = 0; e < count; e++) {
        size_t at = (size_t)ifd + 2 + 12 * (size_t)e;
        if (at + 12 > tn) return 1;
        if (U16(t + at) == 0x0112) {
          uint32_t v = U16(t + at + 8);
          return v >= 1 && v <= 8 ? (int)v : 1;
        }
      }
      return 1;
#undef U16
#undef U32
    }
    i += 2 + len;
  }
  return 1;
}

/** Pillow's resampling coefficients (bilinear, antialiased when shrinking), fixed point, for output pixels [from, from+count). */
typedef struct { int *bounds; int32_t *coeffs; int ksize; } kernel_t;

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
typedef struct { void *p; size_t cap; } scratch_t;
static _Thread_local scratch_t scratch_decoded, scratch_rows, scratch_acc, scratch_crop;

static void *scratch(scratch_t *s, size_t n) {
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

/**
 * Resize src (sw x sh RGB) to rw x rh and keep only the window [cx, cx+cw) x [cy, cy+ch), into dst
 * (cw x ch RGB). Horizontal pass first, over only the source rows the window's rows need.
 */
static int resize_crop(const uint8_t *src, int sw, int sh, int rw, int rh, int cx, int cy, int cw, int ch, uint8_t *dst) {
  kernel_t kx, ky;
  if (!make_kernel(&kx, sw, rw, cx, cw) || !make_kernel(&ky, sh, rh, cy, ch)) return 0;
  int y0 = ky.bounds[0], y1 = y0;
  for (int o = 0; o < ch; o++) {
    int end = ky.bounds[o * 2] + ky.bounds[o * 2 + 1];
    if (ky.bounds[o * 2] < y0) y0 = ky.bounds[o * 2];
    if (end > y1) y1 = end;
  }
  int rows = y1 - y0;
  uint8_t *tmp = scratch(&scratch_rows, (size_t)rows * cw * 3);
  int32_t *acc = scratch(&scratch_acc, sizeof(int32_t) * cw * 3);
  if (!tmp || !acc) { free_kernel(&kx); free_kernel(&ky); return 0; }
  for (int y = 0; y < rows; y++) {
    const uint8_t *line = src + (size_t)(y0 + y) * sw * 3;
    uint8_t *out = tmp + (size_t)y * cw * 3;
    for (int o = 0; o < cw; o++) {
      int xmin = kx.bounds[o * 2], xn = kx.bounds[o * 2 + 1];
      const int32_t *c = kx.coeffs + o * kx.ksize;
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
  // Vertical pass a row at a time (contiguous, so the compiler vectorises it).
  const int n = cw * 3;
  for (int o = 0; o < ch; o++) {
    int ymin = ky.bounds[o * 2] - y0, yn = ky.bounds[o * 2 + 1];
    const int32_t *c = ky.coeffs + o * ky.ksize;
    for (int x = 0; x < n; x++) acc[x] = 1 << (PRECISION_BITS - 1);
    for (int y = 0; y < yn; y++) {
      const uint8_t *row = tmp + (size_t)(ymin + y) * n;
      const int32_t k = c[y];
      for (int x = 0; x < n; x++) acc[x] += row[x] * k;
    }
    uint8_t *out = dst + (size_t)o * n;
    for (int x = 0; x < n; x++) out[x] = clip8(acc[x]);
  }
  free_kernel(&kx);
  free_kernel(&ky);
  return 1;
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

static void execute(napi_env env, void *data) {
  (void)env;
  job_t *job = data;
  job->declined = 1;
  // One decompressor per thread, reused: creating one allocates libjpeg's state every time.
  static _Thread_local tjhandle tj;
  if (!tj) tj = tjInitDecompress();
  if (!tj) return;
  int w, h, subsamp, colorspace;
  uint8_t *decoded = NULL;
  if (tjDecompressHeader3(tj, job->jpeg, (unsigned long)job->jpeg_size, &w, &h, &subsamp, &colorspace) != 0) goto done;
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK || w <= 0 || h <= 0) goto done;
  if ((double)w * h > job->max_pixels) goto done;
  int orient = exif_orientation(job->jpeg, job->jpeg_size);
  int transposed = orient >= 5;
  int uw = transposed ? h : w, uh = transposed ? w : h;  // upright size
  job->width = uw;
  job->height = uh;
  // Resized (upright) sizes per target, as the sharp path computes them; the largest sets the DCT scale.
  int rw[MAX_TARGETS], rh[MAX_TARGETS], need_w = 0, need_h = 0;
  for (int t = 0; t < job->n_targets; t++) {
    target_t *tg = &job->targets[t];
    double s = (double)tg->short_side / (uw < uh ? uw : uh);
    rw[t] = (int)floor(uw * s + 0.5);
    rh[t] = (int)floor(uh * s + 0.5);
    if (rw[t] < tg->width) rw[t] = tg->width;
    if (rh[t] < tg->height) rh[t] = tg->height;
    int sw_need = transposed ? rh[t] : rw[t], sh_need = transposed ? rw[t] : rh[t];
    if (sw_need > need_w) need_w = sw_need;
    if (sh_need > need_h) need_h = sh_need;
  }
  // The smallest SIMD-accelerated scale (1/8, 1/4, 1/2, 1) still at least the resized size.
  int denom = 8;
  while (denom > 1 && (TJSCALED(w, ((tjscalingfactor){1, denom})) < MARGIN * need_w || TJSCALED(h, ((tjscalingfactor){1, denom})) < MARGIN * need_h)) denom /= 2;
  tjscalingfactor sf = {1, denom};
  int dw = TJSCALED(w, sf), dh = TJSCALED(h, sf);
  decoded = scratch(&scratch_decoded, (size_t)dw * dh * 3);
  if (!decoded) goto done;
  if (tjDecompress2(tj, job->jpeg, (unsigned long)job->jpeg_size, decoded, dw, 0, dh, TJPF_RGB, TJFLAG_STOPONWARNING) != 0) goto done;
  for (int t = 0; t < job->n_targets; t++) {
    target_t *tg = &job->targets[t];
    // The centre crop, upright, then the same rectangle in the stored orientation.
    int left = (rw[t] - tg->width) >> 1, top = (rh[t] - tg->height) >> 1;
    int srw = transposed ? rh[t] : rw[t], srh = transposed ? rw[t] : rh[t];
    int ax, ay, bx, by;
    stored_xy(orient, left, top, srw, srh, &ax, &ay);
    stored_xy(orient, left + tg->width - 1, top + tg->height - 1, srw, srh, &bx, &by);
    int cx = ax < bx ? ax : bx, cy = ay < by ? ay : by;
    int cw = transposed ? tg->height : tg->width, ch = transposed ? tg->width : tg->height;
    uint8_t *crop = scratch(&scratch_crop, (size_t)cw * ch * 3);
    uint8_t *out = malloc((size_t)tg->width * tg->height * 3);
    if (!crop || !out || !resize_crop(decoded, dw, dh, srw, srh, cx, cy, cw, ch, crop)) {
      free(out);
      goto done;
    }
    if (orient == 1) {
      memcpy(out, crop, (size_t)cw * ch * 3);
    } else {
      for (int y = 0; y < tg->height; y++)
        for (int x = 0; x < tg->width; x++) {
          int sx, sy;
          stored_xy(orient, left + x, top + y, srw, srh, &sx, &sy);
          memcpy(out + ((size_t)y * tg->width + x) * 3, crop + ((size_t)(sy - cy) * cw + (sx - cx)) * 3, 3);
        }
    }
    job->pixels[t] = out;
  }
  job->declined = 0;
done:
  if (job->declined)
    for (int t = 0; t < job->n_targets; t++) { free(job->pixels[t]); job->pixels[t] = NULL; }
}

static void free_pixels(napi_env env, void *data, void *hint) { (void)env; (void)hint; free(data); }

static void complete(napi_env env, napi_status status, void *data) {
  job_t *job = data;
  napi_value result;
  if (status != napi_ok || job->declined) {
    napi_get_null(env, &result);
  } else {
    napi_value pixels, v;
    napi_create_object(env, &result);
    napi_create_int32(env, job->width, &v);
    napi_set_named_property(env, result, "width", v);
    napi_create_int32(env, job->height, &v);
    napi_set_named_property(env, result, "height", v);
    napi_create_array_with_length(env, job->n_targets, &pixels);
    for (int t = 0; t < job->n_targets; t++) {
      size_t n = (size_t)job->targets[t].width * job->targets[t].height * 3;
      napi_create_external_buffer(env, n, job->pixels[t], free_pixels, NULL, &v);
      job->pixels[t] = NULL;
      napi_set_element(env, pixels, t, v);
    }
    napi_set_named_property(env, result, "pixels", pixels);
  }
  napi_resolve_deferred(env, job->async.deferred, result);
  finish_job(env, &job->async);
  free(job);
}

#define CHECK(call, msg) if ((call) != napi_ok) { napi_throw_type_error(env, NULL, msg); return NULL; }

/** decode(jpeg: Buffer, targets: Int32Array [width, height, shortSide]*, maxPixels): Promise<{width, height, pixels: Buffer[]} | null> */
static napi_value decode(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL), "bad arguments");
  if (argc < 3) { napi_throw_type_error(env, NULL, "decode(jpeg, targets, maxPixels)"); return NULL; }
  job_t *job = calloc(1, sizeof(job_t));
  if (!job) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  void *bytes;
  size_t len;
  if (napi_get_buffer_info(env, argv[0], &bytes, &len) != napi_ok) { free(job); napi_throw_type_error(env, NULL, "jpeg must be a Buffer"); return NULL; }
  napi_typedarray_type type;
  size_t count;
  void *tdata;
  if (napi_get_typedarray_info(env, argv[1], &type, &count, &tdata, NULL, NULL) != napi_ok || type != napi_int32_array || count == 0 || count % 3 || count / 3 > MAX_TARGETS) {
    free(job);
    napi_throw_type_error(env, NULL, "targets must be an Int32Array of [width, height, shortSide] triples (1 to 8)");
    return NULL;
  }
  const int32_t *tv = tdata;
  job->n_targets = (int)(count / 3);
  for (int t = 0; t < job->n_targets; t++) {
    job->targets[t] = (target_t){tv[t * 3], tv[t * 3 + 1], tv[t * 3 + 2]};
    if (tv[t * 3] <= 0 || tv[t * 3 + 1] <= 0 || tv[t * 3 + 2] <= 0) { free(job); napi_throw_range_error(env, NULL, "target sizes must be positive"); return NULL; }
  }
  if (napi_get_value_double(env, argv[2], &job->max_pixels) != napi_ok) { free(job); napi_throw_type_error(env, NULL, "maxPixels must be a number"); return NULL; }
  job->jpeg = bytes;
  job->jpeg_size = len;
  return queue_job(env, "imgtag.jpegDecode", argv[0], &job->async, execute, complete, job);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "decode", NAPI_AUTO_LENGTH, decode, NULL, &fn);
  napi_set_named_property(env, exports, "decode", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
