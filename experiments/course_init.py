"""Writes the cat-vs-non-cat course's exact initial weights as a PruneLab model file.

The course's L-layer exercise initializes with numpy's legacy generator:
    np.random.seed(1)
    W[l] = np.random.randn(n[l], n[l-1]) / np.sqrt(n[l-1]);  b[l] = 0
and reports 0.80 test accuracy for [12288, 20, 7, 5, 1] after 2500 full-batch steps at 0.0075.
The course flattens images in (H, W, C) order; PruneLab flattens channels first (C, H, W), so the
input columns of the first layer are permuted to match. Starting PruneLab from these weights
reproduces the course run with an independent implementation.

    python3 experiments/course_init.py --layers 12288,20,7,5,1 --out data/init/catvnoncat-course-init.h5
"""
import argparse
import h5py
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--layers", default="12288,20,7,5,1")
ap.add_argument("--image", default="64,64,3", help="H,W,C of the input images")
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--out", default="data/init/catvnoncat-course-init.h5")
a = ap.parse_args()
dims = [int(x) for x in a.layers.split(",")]
H, W, C = (int(x) for x in a.image.split(","))
assert H * W * C == dims[0], "image size must match the first layer"
np.random.seed(a.seed)
with h5py.File(a.out, "w") as f:
    f.attrs["format"] = "prunelab-dense-1"
    f.attrs["source"] = f"np.random.seed({a.seed}); randn(n_l, n_l-1) / sqrt(n_l-1)"
    for l in range(1, len(dims)):
        w = (np.random.randn(dims[l], dims[l - 1]) / np.sqrt(dims[l - 1])).astype(np.float32)
        if l == 1:  # HWC columns -> CHW columns
            w = w.reshape(dims[1], H, W, C).transpose(0, 3, 1, 2).reshape(dims[1], -1)
        f[f"fc{l}/weight"] = w
        f[f"fc{l}/bias"] = np.zeros(dims[l], dtype=np.float32)
print("wrote", a.out)
