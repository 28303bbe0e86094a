"""The baseline users run today: Pillow as a Spark pandas_udf would, to a 224x224 float array.
full: decode, resize, crop, /255; draft: the same with libjpeg's DCT scaling; model: full, then the
published model's normalisation (ImageNet mean and std) and NCHW layout, the tensor it is fed.
Usage: python3 pillow_decode.py full|draft|model FILE... ; prints the seconds spent decoding."""
import io
import os
import sys
import time

import numpy as np
from PIL import Image


MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def preprocess(data, draft):
    im = Image.open(io.BytesIO(data))
    if draft:
        im.draft("RGB", (256, 256))  # DCT scaling in libjpeg
    im = im.convert("RGB")
    w, h = im.size
    s = 256 / min(w, h)
    im = im.resize((max(224, round(w * s)), max(224, round(h * s))), Image.BILINEAR)
    w, h = im.size
    left, top = (w - 224) // 2, (h - 224) // 2
    return np.asarray(im.crop((left, top, left + 224, top + 224)), dtype=np.float32) / 255.0


def for_model(data):
    return np.ascontiguousarray(((preprocess(data, False) - MEAN) / STD).transpose(2, 0, 1))


mode, files = sys.argv[1], sys.argv[2:]
blobs = [open(f, "rb").read() for f in files]
one = for_model if mode == "model" else lambda b: preprocess(b, mode == "draft")
for b in blobs[:5]:
    one(b)
# BENCH_CLOCK=cpu: CPU seconds of this process, as the other parts are timed on a busy machine.
clock = time.process_time if os.environ.get("BENCH_CLOCK") == "cpu" else time.perf_counter
start = clock()
for b in blobs:
    one(b)
print(clock() - start)
