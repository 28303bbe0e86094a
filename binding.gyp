{
  "variables": {
    "imgtag_jpeg%": "<!(node -p \"process.env.IMGTAG_NATIVE_JPEG || '1'\")",
    "imgtag_heic%": "<!(node -p \"process.env.IMGTAG_NATIVE_HEIC || '1'\")",
    "imgtag_hevc_ffmpeg%": "<!(node -p \"process.env.IMGTAG_NATIVE_HEVC_FFMPEG || '1'\")"
  },
  "targets": [
    {
      "target_name": "imgtag_plan",
      "sources": ["native/plan_lines.c"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra"]
    },
    {
      "target_name": "imgtag_pixels",
      "sources": ["native/pixel_table.c"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra"]
    },
    {
      "target_name": "imgtag_heif_extent",
      "sources": ["native/heif_extent_addon.c", "native/heif_extent.c"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra"]
    }
  ],
  "conditions": [
    ["imgtag_jpeg == 1", {
      "targets": [
        {
          "target_name": "imgtag_jpeg",
          "sources": ["native/jpeg_fast.c", "native/resize_crop.c", "native/resize_simd.c"],
          "libraries": ["-lturbojpeg"],
          "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra"]
        }
      ]
    }],
    ["imgtag_heic == 1", {
      "targets": [
        {
          "target_name": "imgtag_heic",
          "sources": ["native/heic_decode.c", "native/heif_extent.c", "native/resize_crop.c", "native/resize_simd.c"],
          "libraries": ["-lheif"],
          "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra"],
          "conditions": [
            ["imgtag_hevc_ffmpeg == 1", {
              "sources": ["native/hevc_ffmpeg.c"],
              "defines": ["IMGTAG_FFMPEG_HEVC"],
              "libraries": ["-lavcodec", "-lavutil"]
            }]
          ]
        }
      ]
    }]
  ]
}
