{
  "targets": [
    {
      "target_name": "imgtag_jpeg",
      "sources": ["native/jpeg_fast.c"],
      "libraries": ["-lturbojpeg"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra"]
    }
  ]
}
