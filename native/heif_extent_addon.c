// heif_extent.c for the HEIF paths that do not go through heic_decode.c: libheif as WebAssembly
// (where the HEIC addon is not built) and sharp's libheif (AVIF, HEIF of other codecs). No library
// needed, so it is built wherever planning is. Synchronous: it reads boxes and NAL headers only.
#include <node_api.h>
#include "heif_extent.h"

/** check(bytes: Buffer, maxPixels: number): undefined within the limit; else {over: true, decodes} or {unreadable: why}. */
static napi_value check(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  void *bytes;
  size_t len;
  double max_pixels;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 || napi_get_buffer_info(env, argv[0], &bytes, &len) != napi_ok ||
      napi_get_value_double(env, argv[1], &max_pixels) != napi_ok) {
    napi_throw_type_error(env, NULL, "check(bytes: Buffer, maxPixels: number)");
    return NULL;
  }
  char why[160];
  int res = heif_extent_check(bytes, len, 0, max_pixels, why, sizeof why);
  if (res == HEIF_EXTENT_OK) {
    napi_get_undefined(env, &result);
    return result;
  }
  napi_value text;
  napi_create_object(env, &result);
  napi_create_string_utf8(env, why, NAPI_AUTO_LENGTH, &text);
  if (res == HEIF_EXTENT_OVER) {
    napi_value yes;
    napi_get_boolean(env, 1, &yes);
    napi_set_named_property(env, result, "over", yes);
    napi_set_named_property(env, result, "decodes", text);
  } else {
    napi_set_named_property(env, result, "unreadable", text);
  }
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "check", NAPI_AUTO_LENGTH, check, NULL, &fn);
  napi_set_named_property(env, exports, "check", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
