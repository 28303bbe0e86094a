// The pre-quantized input's one pass over a batch: every HWC RGB pixel's bytes replaced, in place,
// by their channel's entry of a 768-byte table (channel * 256 + value), the bytes the model's
// QuantizeLinear would have made from the normalised floats. In C it costs about a memcpy; the
// same loop in JavaScript costs as much as the normalisation it replaces.
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static int bytes_of(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type type;
  napi_value buf;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, len, (void **)data, &buf, &offset) != napi_ok) return 0;
  return type == napi_uint8_array;
}

// applyTable(pixels: Uint8Array, table: Uint8Array(768)): pixels.length a multiple of 3.
static napi_value apply_table(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *px, *table;
  size_t n, tn;
  if (argc < 2 || !bytes_of(env, argv[0], &px, &n) || !bytes_of(env, argv[1], &table, &tn)) return fail(env, "applyTable(pixels, table): two Uint8Arrays");
  if (tn != 768 || n % 3 != 0) return fail(env, "applyTable: a 768-byte table and whole RGB pixels");
  const uint8_t *r = table, *g = table + 256, *b = table + 512;
  for (size_t i = 0; i < n; i += 3) {
    px[i] = r[px[i]];
    px[i + 1] = g[px[i + 1]];
    px[i + 2] = b[px[i + 2]];
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {{"applyTable", NULL, apply_table, NULL, NULL, NULL, napi_enumerable, NULL}};
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
