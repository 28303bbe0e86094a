// An HEVC decoder for libheif over FFmpeg's libavcodec, registered above libheif's own libde265
// plugin when imgtag is built with libavcodec-dev. Why: on the same bitstreams libavcodec decodes
// 1.4-1.6x faster than libde265 (its CABAC and transforms are hand-written x86 assembly), and the
// output is the same, bit for bit (HEVC decoding is exact). libheif asks for a decoder per coded
// image (each 512x512 tile of a phone photo's grid: 48 for an iPhone's 12 MP) and frees it after:
// each gets a context of its own, freed with it. Nothing is kept for the next one: a context kept
// per thread leaked with every short-lived thread, and kept the parameter sets (SPS, PPS) of the
// image before, so a file without its own decoded with another's (a row that depends on which
// image came first). A fresh context costs ~1% of a 512x512 tile's decode (18.5 against 18.3 CPU ms).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <libavcodec/avcodec.h>
#include <libavutil/pixdesc.h>
#include <libheif/heif.h>
#include <libheif/heif_plugin.h>
#include "hevc_ffmpeg.h"

typedef struct {
  AVCodecContext *ctx;
  uint8_t *stream;  // Annex B: each NAL after a start code, as libavcodec reads a raw stream
  size_t len, cap;
} decoder_t;

static const struct heif_error OK = {heif_error_Ok, heif_suberror_Unspecified, "Success"};

static struct heif_error plugin_error(const char *message) {
  struct heif_error e = {heif_error_Decoder_plugin_error, heif_suberror_Unspecified, message};
  return e;
}

static const char *plugin_name(void) { return "imgtag: FFmpeg libavcodec HEVC decoder"; }

static int supports(enum heif_compression_format format) {
  // libheif's own libde265 plugin says 100.
  return format == heif_compression_HEVC ? 200 : 0;
}

static struct heif_error new_decoder(void **out) {
  decoder_t *d = calloc(1, sizeof *d);
  if (!d) return plugin_error("out of memory");
  const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_HEVC);
  d->ctx = codec ? avcodec_alloc_context3(codec) : NULL;
  if (!d->ctx) {
    free(d);
    return plugin_error("libavcodec has no HEVC decoder");
  }
  // One thread per image: the pipeline already decodes as many images at once as there are cores.
  d->ctx->thread_count = 1;
  if (avcodec_open2(d->ctx, codec, NULL) < 0) {
    avcodec_free_context(&d->ctx);
    free(d);
    return plugin_error("libavcodec could not open its HEVC decoder");
  }
  *out = d;
  return OK;
}

static void free_decoder(void *raw) {
  decoder_t *d = raw;
  avcodec_free_context(&d->ctx);
  free(d->stream);
  free(d);
}

/** libheif pushes NAL units each behind a 4-byte big-endian length (hvcC headers, then the image's data). */
static struct heif_error push_data(void *raw, const void *data, size_t size) {
  decoder_t *d = raw;
  const uint8_t *in = data;
  // Each NAL's 4-byte length becomes a 4-byte start code: the Annex B stream is exactly `size` longer.
  size_t need = d->len + size + AV_INPUT_BUFFER_PADDING_SIZE;
  if (need > d->cap) {
    uint8_t *grown = realloc(d->stream, need);
    if (!grown) return plugin_error("out of memory");
    d->stream = grown;
    d->cap = need;
  }
  static const uint8_t start_code[4] = {0, 0, 0, 1};
  for (size_t i = 0; i < size;) {
    if (size - i < 4) return plugin_error("HEVC data ends inside a NAL length");
    uint32_t n = (uint32_t)in[i] << 24 | (uint32_t)in[i + 1] << 16 | (uint32_t)in[i + 2] << 8 | in[i + 3];
    i += 4;
    if (n > size - i) return plugin_error("HEVC data ends inside a NAL unit");
    memcpy(d->stream + d->len, start_code, 4);
    memcpy(d->stream + d->len + 4, in + i, n);
    d->len += 4 + n;
    i += n;
  }
  return OK;
}

/** The decoded frame as libheif's YCbCr (or monochrome) image, plane by plane. */
static struct heif_error to_heif_image(const AVFrame *f, struct heif_image **out) {
  const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(f->format);
  // HEVC gives planar YUV (4:2:0, 4:2:2, 4:4:4) or gray, 8 to 16 bits little-endian.
  int yuv = desc && desc->nb_components == 3 && (desc->flags & AV_PIX_FMT_FLAG_PLANAR);
  if (!desc || (desc->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_BE | AV_PIX_FMT_FLAG_PAL)) || !(yuv || desc->nb_components == 1))
    return plugin_error("libavcodec returned a pixel format imgtag does not take");
  int mono = desc->nb_components == 1;
  int depth = desc->comp[0].depth;
  enum heif_chroma chroma = mono ? heif_chroma_monochrome
                            : desc->log2_chroma_w == 1 && desc->log2_chroma_h == 1 ? heif_chroma_420
                            : desc->log2_chroma_w == 1 ? heif_chroma_422
                                                       : heif_chroma_444;
  struct heif_error err = heif_image_create(f->width, f->height, mono ? heif_colorspace_monochrome : heif_colorspace_YCbCr, chroma, out);
  if (err.code != heif_error_Ok) return err;
  static const enum heif_channel channels[3] = {heif_channel_Y, heif_channel_Cb, heif_channel_Cr};
  size_t sample = depth > 8 ? 2 : 1;
  for (int c = 0; c < (mono ? 1 : 3); c++) {
    int w = c == 0 ? f->width : AV_CEIL_RSHIFT(f->width, desc->log2_chroma_w);
    int h = c == 0 ? f->height : AV_CEIL_RSHIFT(f->height, desc->log2_chroma_h);
    err = heif_image_add_plane(*out, channels[c], w, h, depth);
    if (err.code != heif_error_Ok) {
      heif_image_release(*out);
      return err;
    }
    int stride = 0;
    uint8_t *dst = heif_image_get_plane(*out, channels[c], &stride);
    for (int y = 0; y < h; y++) memcpy(dst + (size_t)y * stride, f->data[c] + (size_t)y * f->linesize[c], (size_t)w * sample);
  }
  // The bitstream's colour description (VUI), as libheif's libde265 plugin attaches it: without the
  // full-range flag a full-range photo would be stretched as if limited (every pixel ~10 levels off).
  // FFmpeg numbers primaries, transfer and matrix as H.273 does, which is what nclx takes; a value
  // libheif does not know is left unspecified, as libde265's plugin does outside strict decoding.
  struct heif_color_profile_nclx *nclx = heif_nclx_color_profile_alloc();
  if (nclx) {
    heif_nclx_color_profile_set_color_primaries(nclx, (uint16_t)f->color_primaries);
    heif_nclx_color_profile_set_transfer_characteristics(nclx, (uint16_t)f->color_trc);
    heif_nclx_color_profile_set_matrix_coefficients(nclx, (uint16_t)f->colorspace);
    nclx->full_range_flag = f->color_range == AVCOL_RANGE_JPEG;
    heif_image_set_nclx_color_profile(*out, nclx);
    heif_nclx_color_profile_free(nclx);
  }
  return OK;
}

static struct heif_error decode_image(void *raw, struct heif_image **out) {
  decoder_t *d = raw;
  if (d->len == 0) return plugin_error("no HEVC data");
  memset(d->stream + d->len, 0, AV_INPUT_BUFFER_PADDING_SIZE);
  AVPacket *pkt = av_packet_alloc();
  AVFrame *frame = av_frame_alloc();
  struct heif_error err = plugin_error("out of memory");
  if (pkt && frame) {
    pkt->data = d->stream;
    pkt->size = (int)d->len;
    // The whole item is one packet; the empty one after it drains the decoder.
    if (avcodec_send_packet(d->ctx, pkt) < 0 || avcodec_send_packet(d->ctx, NULL) < 0 || avcodec_receive_frame(d->ctx, frame) < 0)
      err = plugin_error("libavcodec could not decode the HEVC data");
    else
      err = to_heif_image(frame, out);
  }
  av_frame_free(&frame);
  av_packet_free(&pkt);
  return err;
}

static void set_strict_decoding(void *raw, int flag) {
  (void)raw;
  (void)flag;
}

static const struct heif_decoder_plugin plugin = {
    .plugin_api_version = 3,
    .get_plugin_name = plugin_name,
    .does_support_format = supports,
    .new_decoder = new_decoder,
    .free_decoder = free_decoder,
    .push_data = push_data,
    .decode_image = decode_image,
    .set_strict_decoding = set_strict_decoding,
    .id_name = "imgtag-ffmpeg",
};

const char *imgtag_register_ffmpeg_hevc(void) {
  av_log_set_level(AV_LOG_QUIET);
  struct heif_error err = heif_register_decoder_plugin(&plugin);
  return err.code == heif_error_Ok ? NULL : err.message;
}

const char *imgtag_ffmpeg_version(void) { return LIBAVCODEC_IDENT; }
