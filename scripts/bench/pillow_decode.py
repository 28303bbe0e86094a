"""The baseline users run today: Pillow as a Spark pandas_udf would, to a 224x224 float array.
Usage: python3 pillow_decode.py full|draft FILE... ; prints the seconds spent decoding."""
import io
import sys
import time

import numpy as np
from PIL import Image


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


mode, files = sys.argv[1], sys.argv[2:]
blobs = [open(f, "rb").read() for f in files]
for b in blobs[:5]:
    preprocess(b, mode == "draft")
start = time.perf_counter()
for b in blobs:
    preprocess(b, mode == "draft")
print(time.perf_counter() - start)
