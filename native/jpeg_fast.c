// imgtag's JPEG fast path: libjpeg-turbo decode at a power-of-two DCT scale, then resize_crop.c's
// resize and centre crop with EXIF orientation. Runs on libuv's thread pool. Anything unusual (CMYK, 12-bit, a warning such as a
// truncated file, over the pixel limit) is declined: the caller decodes that image with sharp.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <node_api.h>
#include "async_job.h"
#include <turbojpeg.h>
#include "resize_crop.h"

// Decode at a DCT scale whose result is at least the resized size (as Pillow's draft() and libvips's
// shrink-on-load do): 2 would match Pillow's full decode more closely on large photos, at 0.77x the speed.
#define MARGIN 1
// The decoded photo, kept per thread between images (resize_crop.c says why).
static _Thread_local scratch_t scratch_decoded;

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
  int need_w = 0, need_h = 0;
  for (int t = 0; t < job->n_targets; t++) {
    int rw, rh;
    resized_size(&job->targets[t], uw, uh, &rw, &rh);
    int sw_need = transposed ? rh : rw, sh_need = transposed ? rw : rh;
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
  if (!crop_targets(decoded, dw * 3, dw, dh, orient, uw, uh, job->targets, job->n_targets, job->pixels)) goto done;
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

/** simdLevel(): the SIMD level of the resize and crop in this process ("scalar", "avx2", "avx512", "neon"; IMGTAG_SIMD forces one). */
static napi_value simd_level_js(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  napi_create_string_utf8(env, resize_simd_level(), NAPI_AUTO_LENGTH, &v);
  return v;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "decode", NAPI_AUTO_LENGTH, decode, NULL, &fn);
  napi_set_named_property(env, exports, "decode", fn);
  napi_create_function(env, "simdLevel", NAPI_AUTO_LENGTH, simd_level_js, NULL, &fn);
  napi_set_named_property(env, exports, "simdLevel", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
