// FFmpeg's HEVC decoder as a libheif plugin (native/hevc_ffmpeg.c), built with libavcodec-dev.
#ifndef IMGTAG_HEVC_FFMPEG_H
#define IMGTAG_HEVC_FFMPEG_H

/** Registers the plugin above libheif's libde265 one; NULL when done, else libheif's reason. */
const char *imgtag_register_ffmpeg_hevc(void);

/** "Lavc59.37.100": the libavcodec imgtag was built against. */
const char *imgtag_ffmpeg_version(void);

#endif
