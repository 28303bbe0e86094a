// imgtag's HEIC path: the system's libheif decodes on libuv's thread pool (its HEVC decoder FFmpeg's
// where built with it, see hevc_ffmpeg.c, else libde265), and only as much as the model needs: the
// file's thumbnail when its short side is at least `minShortSide`, else the primary image. libheif
// applies the item's transformations (irot, imir, clap), which is how HEIF defines the image's
// orientation; EXIF orientation does not apply. libheif's RGB is averaged down by a whole factor
// when it is that much larger than the model needs, and resize_crop.c makes each target's crop, as
// the JPEG fast path does (no full-size copy, no sharp).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <node_api.h>
#include "async_job.h"
#include <libheif/heif.h>
#include "heif_extent.h"
#include "resize_crop.h"
#ifdef IMGTAG_FFMPEG_HEVC
#include "hevc_ffmpeg.h"
#endif

typedef struct {
  async_job_t async;
  const uint8_t *bytes;
  size_t size;
  int n_targets;
  target_t targets[MAX_TARGETS];
  int min_short_side;
  double max_pixels;
  // results
  char error[256];
  int over_limit;
  char decodes[160];  // over the limit by what it would decode: "a 30000x20000 grid canvas"
  int width, height;          // the primary image, upright
  int pix_width, pix_height;  // what was decoded (the thumbnail's or the primary's size)
  int from_thumbnail;
  uint8_t *pixels[MAX_TARGETS];
} job_t;

static _Thread_local scratch_t scratch_rgb;

static int short_side(const struct heif_image_handle *h) {
  int w = heif_image_handle_get_width(h), hh = heif_image_handle_get_height(h);
  return w < hh ? w : hh;
}

/** The smallest thumbnail whose short side is at least `min` (its item in *id); NULL when none is (or none is asked for). */
static struct heif_image_handle *usable_thumbnail(const struct heif_image_handle *primary, int min, heif_item_id *id) {
  int n = heif_image_handle_get_number_of_thumbnails(primary);
  if (n <= 0 || min <= 0) return NULL;
  heif_item_id *ids = calloc((size_t)n, sizeof *ids);
  if (!ids) return NULL;
  n = heif_image_handle_get_list_of_thumbnail_IDs(primary, ids, n);
  struct heif_image_handle *best = NULL;
  for (int i = 0; i < n; i++) {
    struct heif_image_handle *t = NULL;
    if (heif_image_handle_get_thumbnail(primary, ids[i], &t).code != heif_error_Ok || !t) continue;
    if (short_side(t) >= min && (!best || short_side(t) < short_side(best))) {
      if (best) heif_image_handle_release(best);
      best = t;
      *id = ids[i];
    } else {
      heif_image_handle_release(t);
    }
  }
  free(ids);
  return best;
}

static void fail(job_t *job, const char *what, struct heif_error err) {
  snprintf(job->error, sizeof job->error, "%s: %s", what, err.message ? err.message : "libheif error");
  // libheif ends some messages with a newline: an error row's reason is one line.
  for (size_t n = strlen(job->error); n > 0 && (job->error[n - 1] == '\n' || job->error[n - 1] == ' '); n--) job->error[n - 1] = 0;
}

static void execute(napi_env env, void *data) {
  (void)env;
  job_t *job = data;
  struct heif_context *ctx = heif_context_alloc();
  struct heif_image_handle *primary = NULL, *thumb = NULL;
  struct heif_image *img = NULL;
  struct heif_decoding_options *opts = NULL;
  if (!ctx) {
    snprintf(job->error, sizeof job->error, "out of memory");
    return;
  }
  // A grid's tiles on this thread, one after another: at 1 or more libheif starts a short-lived
  // thread per tile (std::async), whatever the decoder keeps per thread dies with it, and the
  // pipeline already decodes as many images at once as there are cores.
  heif_context_set_max_decoding_threads(ctx, 0);
  struct heif_error err = heif_context_read_from_memory_without_copy(ctx, job->bytes, job->size, NULL);
  if (err.code != heif_error_Ok) {
    fail(job, "not a readable HEIF file", err);
    goto done;
  }
  err = heif_context_get_primary_image_handle(ctx, &primary);
  if (err.code != heif_error_Ok) {
    fail(job, "HEIF file without a readable image", err);
    goto done;
  }
  job->width = heif_image_handle_get_width(primary);
  job->height = heif_image_handle_get_height(primary);
  if ((double)job->width * job->height > job->max_pixels) {
    job->over_limit = 1;
    goto done;
  }
  heif_item_id chosen_id = 0;
  thumb = usable_thumbnail(primary, job->min_short_side, &chosen_id);
  job->from_thumbnail = thumb != NULL;
  const struct heif_image_handle *chosen = thumb ? thumb : primary;
  if (!thumb) heif_context_get_primary_image_ID(ctx, &chosen_id);
  // The limit against what libheif would decode (canvas, tiles, alpha, each at its coded size), not
  // what the file says: a grid or an ispe can declare a small image over a huge decode.
  char why[128];
  int extent = heif_extent_check(job->bytes, job->size, chosen_id, job->max_pixels, why, sizeof why);
  if (extent == HEIF_EXTENT_OVER) {
    job->over_limit = 1;
    snprintf(job->decodes, sizeof job->decodes, "%s%s", thumb ? "its thumbnail, " : "", why);
    goto done;
  }
  if (extent == HEIF_EXTENT_UNREADABLE) {
    snprintf(job->error, sizeof job->error, "HEIF file whose size could not be checked before decoding: %s", why);
    goto done;
  }
  opts = heif_decoding_options_alloc();
  if (opts) opts->convert_hdr_to_8bit = 1;
  err = heif_decode_image(chosen, &img, heif_colorspace_RGB, heif_chroma_interleaved_RGB, opts);
  if (err.code != heif_error_Ok) {
    fail(job, "HEVC data could not be decoded", err);
    goto done;
  }
  int stride = 0;
  const uint8_t *plane = heif_image_get_plane_readonly(img, heif_channel_interleaved, &stride);
  int w = heif_image_get_width(img, heif_channel_interleaved), h = heif_image_get_height(img, heif_channel_interleaved);
  if (!plane || w <= 0 || h <= 0) {
    snprintf(job->error, sizeof job->error, "libheif decoded no pixels");
    goto done;
  }
  job->pix_width = w;
  job->pix_height = h;
  // The primary's size as decoded, not as declared: a row says what the pixels were.
  if (!thumb) job->width = w, job->height = h;
  // Average down by the largest factor that still leaves every target's resize a downscale: a
  // phone photo's 12 MP become ~0.2 MP before the resize, which then reads far less.
  int need_w = 0, need_h = 0;
  for (int t = 0; t < job->n_targets; t++) {
    int tw, th;
    resized_size(&job->targets[t], w, h, &tw, &th);
    if (tw > need_w) need_w = tw;
    if (th > need_h) need_h = th;
  }
  int k = 1;
  while (w / (k + 1) >= need_w && h / (k + 1) >= need_h) k++;
  int rw = w / k, rh = h / k;
  const uint8_t *rgb = plane;
  int rgb_stride = stride;
  if (k > 1) {
    uint8_t *buf = scratch(&scratch_rgb, (size_t)rw * rh * 3);
    if (!buf) {
      snprintf(job->error, sizeof job->error, "out of memory for %dx%d pixels", rw, rh);
      goto done;
    }
    box_shrink_rgb(plane, stride, w, h, k, buf);
    rgb = buf;
    rgb_stride = rw * 3;
  }
  if (!crop_targets(rgb, rgb_stride, rw, rh, 1, rw, rh, job->targets, job->n_targets, job->pixels)) snprintf(job->error, sizeof job->error, "out of memory for the model's crops");
done:
  if (opts) heif_decoding_options_free(opts);
  if (img) heif_image_release(img);
  if (thumb) heif_image_handle_release(thumb);
  if (primary) heif_image_handle_release(primary);
  heif_context_free(ctx);
}

static void free_rgb(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static void set_int(napi_env env, napi_value obj, const char *name, int v) {
  napi_value x;
  napi_create_int32(env, v, &x);
  napi_set_named_property(env, obj, name, x);
}

static void complete(napi_env env, napi_status status, void *data) {
  job_t *job = data;
  if (status != napi_ok || job->error[0]) {
    napi_value msg, error;
    napi_create_string_utf8(env, job->error[0] ? job->error : "the HEIC decode was cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &error);
    napi_reject_deferred(env, job->async.deferred, error);
    for (int t = 0; t < job->n_targets; t++) free(job->pixels[t]);
  } else {
    napi_value result;
    napi_create_object(env, &result);
    set_int(env, result, "width", job->width);
    set_int(env, result, "height", job->height);
    if (job->over_limit) {
      napi_value yes;
      napi_get_boolean(env, true, &yes);
      napi_set_named_property(env, result, "overLimit", yes);
      if (job->decodes[0]) {
        napi_value decodes;
        napi_create_string_utf8(env, job->decodes, NAPI_AUTO_LENGTH, &decodes);
        napi_set_named_property(env, result, "decodes", decodes);
      }
    } else {
      napi_value pixels, v;
      napi_create_array_with_length(env, job->n_targets, &pixels);
      for (int t = 0; t < job->n_targets; t++) {
        napi_create_external_buffer(env, (size_t)job->targets[t].width * job->targets[t].height * 3, job->pixels[t], free_rgb, NULL, &v);
        job->pixels[t] = NULL;
        napi_set_element(env, pixels, t, v);
      }
      napi_set_named_property(env, result, "pixels", pixels);
      set_int(env, result, "pixWidth", job->pix_width);
      set_int(env, result, "pixHeight", job->pix_height);
      napi_value thumb;
      napi_get_boolean(env, job->from_thumbnail, &thumb);
      napi_set_named_property(env, result, "fromThumbnail", thumb);
    }
    napi_resolve_deferred(env, job->async.deferred, result);
  }
  finish_job(env, &job->async);
  free(job);
}

/**
 * decode(heic: Buffer, targets: Int32Array [width, height, shortSide]*, minShortSide, maxPixels):
 * Promise<{width, height, overLimit, decodes?} | {width, height, pixels: Buffer[], pixWidth, pixHeight, fromThumbnail}>
 */
static napi_value decode(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) {
    napi_throw_type_error(env, NULL, "decode(heic, targets, minShortSide, maxPixels)");
    return NULL;
  }
  job_t *job = calloc(1, sizeof(job_t));
  if (!job) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  void *bytes, *tdata;
  size_t len, count;
  napi_typedarray_type type;
  int32_t min_short;
  if (napi_get_buffer_info(env, argv[0], &bytes, &len) != napi_ok || napi_get_typedarray_info(env, argv[1], &type, &count, &tdata, NULL, NULL) != napi_ok || type != napi_int32_array ||
      count == 0 || count % 3 || count / 3 > MAX_TARGETS || napi_get_value_int32(env, argv[2], &min_short) != napi_ok || napi_get_value_double(env, argv[3], &job->max_pixels) != napi_ok) {
    free(job);
    napi_throw_type_error(env, NULL, "decode(heic: Buffer, targets: Int32Array of 1 to 8 [width, height, shortSide], minShortSide: number, maxPixels: number)");
    return NULL;
  }
  const int32_t *tv = tdata;
  job->n_targets = (int)(count / 3);
  for (int t = 0; t < job->n_targets; t++) {
    job->targets[t] = (target_t){tv[t * 3], tv[t * 3 + 1], tv[t * 3 + 2]};
    if (tv[t * 3] <= 0 || tv[t * 3 + 1] <= 0 || tv[t * 3 + 2] <= 0) {
      free(job);
      napi_throw_range_error(env, NULL, "target sizes must be positive");
      return NULL;
    }
  }
  job->bytes = bytes;
  job->size = len;
  job->min_short_side = min_short;
  return queue_job(env, "imgtag.heicDecode", argv[0], &job->async, execute, complete, job);
}

/**
 * useFfmpeg(): string | undefined. From now on HEVC goes through FFmpeg's decoder (its libavcodec
 * version is the answer); undefined when imgtag was built without libavcodec-dev (libde265 stays).
 */
static napi_value use_ffmpeg(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_get_undefined(env, &result);
#ifdef IMGTAG_FFMPEG_HEVC
  static int registered;
  const char *problem = registered ? NULL : imgtag_register_ffmpeg_hevc();
  if (problem) {
    napi_throw_error(env, NULL, problem);
    return NULL;
  }
  registered = 1;
  napi_create_string_utf8(env, imgtag_ffmpeg_version(), NAPI_AUTO_LENGTH, &result);
#endif
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  heif_init(NULL);
  napi_value fn;
  napi_create_function(env, "decode", NAPI_AUTO_LENGTH, decode, NULL, &fn);
  napi_set_named_property(env, exports, "decode", fn);
  napi_create_function(env, "useFfmpeg", NAPI_AUTO_LENGTH, use_ffmpeg, NULL, &fn);
  napi_set_named_property(env, exports, "useFfmpeg", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
