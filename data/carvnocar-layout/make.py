"""Writes catvnoncat-carvnocar-layout.h5: the cat-vs-non-cat set in the layout of carvnocar.h5.

carvnocar.h5 (the car vs no-car set of the carvnocar course pipeline) is private. Its layout is one file with
X_train (N, H, W, 3) uint8, y_train (N,), X_test, y_test. This script re-packs the public
cat-vs-non-cat set (data/catvnoncat, 209 train / 50 test, 64x64x3) into that layout so the
carvnocar course pipeline (configs/carvnocar-course-han.json) runs out of the box. Labels become int64 (N,).

    python3 data/carvnocar-layout/make.py
"""
import os
import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
src = os.path.join(here, "..", "catvnoncat")
with h5py.File(os.path.join(src, "train_catvnoncat.h5"), "r") as f:
    x_train, y_train = np.array(f["train_set_x"]), np.array(f["train_set_y"]).reshape(-1)
with h5py.File(os.path.join(src, "test_catvnoncat.h5"), "r") as f:
    x_test, y_test = np.array(f["test_set_x"]), np.array(f["test_set_y"]).reshape(-1)
with h5py.File(os.path.join(here, "catvnoncat-carvnocar-layout.h5"), "w") as f:
    f["X_train"] = x_train.astype(np.uint8)
    f["y_train"] = y_train.astype(np.int64)
    f["X_test"] = x_test.astype(np.uint8)
    f["y_test"] = y_test.astype(np.int64)
print({k: v.shape for k, v in [("X_train", x_train), ("y_train", y_train), ("X_test", x_test), ("y_test", y_test)]})
