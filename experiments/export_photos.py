#!/usr/bin/env python3
"""Writes the images of an HDF5 image set as photo files, with Pillow, for `prunelab predict`.

    python3 experiments/export_photos.py data/catvnoncat/test_catvnoncat.h5 test_set_x test_set_y OUT_DIR [--format png|jpeg]

Each image (N, H, W, C) uint8 becomes OUT_DIR/NNN.png (lossless) or NNN.jpg (Pillow's JPEG
encoder, quality 95, 4:4:4); OUT_DIR-labels.csv, beside the folder, lists file,label.
"""
import argparse, csv, os
import h5py
from PIL import Image

p = argparse.ArgumentParser()
p.add_argument("file"); p.add_argument("x"); p.add_argument("y"); p.add_argument("out")
p.add_argument("--format", choices=["png", "jpeg"], default="png")
a = p.parse_args()
f = h5py.File(a.file, "r")
x, y = f[a.x][()], f[a.y][()].ravel()
os.makedirs(a.out, exist_ok=True)
ext = "png" if a.format == "png" else "jpg"
with open(a.out.rstrip("/") + "-labels.csv", "w", newline="") as out:
    w = csv.writer(out)
    w.writerow(["file", "label"])
    for i, (img, label) in enumerate(zip(x, y)):
        name = f"{i:03d}.{ext}"
        im = Image.fromarray(img.squeeze(-1) if img.ndim == 3 and img.shape[-1] == 1 else img)
        if a.format == "png":
            im.save(os.path.join(a.out, name))
        else:
            im.save(os.path.join(a.out, name), quality=95, subsampling=0)
        w.writerow([name, int(label)])
print(f"{len(y)} images in {a.out}")
