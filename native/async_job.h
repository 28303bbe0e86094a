// The shared tail of an addon call that runs on libuv's thread pool: the input Buffer stays alive
// (referenced) until the work is done with it, and the call answers a promise that `complete`
// settles. Included by the decoders (jpeg_fast.c, heic_decode.c).
#ifndef IMGTAG_ASYNC_JOB_H
#define IMGTAG_ASYNC_JOB_H
#include <node_api.h>

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref input_ref;
} async_job_t;

static napi_value queue_job(napi_env env, const char *name, napi_value input, async_job_t *async, napi_async_execute_callback execute, napi_async_complete_callback complete, void *job) {
  napi_value label, promise;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &label);
  napi_create_reference(env, input, 1, &async->input_ref);
  napi_create_promise(env, &async->deferred, &promise);
  napi_create_async_work(env, NULL, label, execute, complete, job, &async->work);
  napi_queue_async_work(env, async->work);
  return promise;
}

/** After `complete` has settled the promise: let go of the input and the work. */
static void finish_job(napi_env env, async_job_t *async) {
  napi_delete_reference(env, async->input_ref);
  napi_delete_async_work(env, async->work);
}
#endif
