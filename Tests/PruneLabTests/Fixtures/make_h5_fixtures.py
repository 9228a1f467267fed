#!/usr/bin/env python3
"""Writes the small HDF5 fixtures read by HDF5Tests.swift (h5py as an independent writer).

Run from anywhere: python3 Tests/PruneLabTests/Fixtures/make_h5_fixtures.py
Needs python3, h5py and numpy. Every value is a closed-form formula or a literal list that the
Swift tests recompute, so no random numbers are involved and reruns write the same data.

Pixel formula (uint8 images, channels last):
    pixel[n, h, w, c] = (n*37 + h*11 + w*5 + c*3 + offset) % 256
"""
import os

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


def pixels(n, h, w, c, offset):
    """uint8 images of shape (n, h, w, c) following the formula in the module docstring."""
    i, y, x, ch = np.indices((n, h, w, c), dtype=np.int64)
    return ((i * 37 + y * 11 + x * 5 + ch * 3 + offset) % 256).astype(np.uint8)


# carvnocar layout: one file, X_train / y_train / X_test / y_test.
CAR_TRAIN_LABELS = [0, 1, 1, 0, 1, 0]
CAR_TEST_LABELS = [1, 0, 0, 1]
CAR_TRAIN_OFFSET, CAR_TEST_OFFSET = 1, 101
CAR_H, CAR_W, CAR_C = 5, 8, 3


def car_layout(f, train_labels=CAR_TRAIN_LABELS, n_train_images=6, with_y_test=True):
    f.create_dataset("X_train", data=pixels(n_train_images, CAR_H, CAR_W, CAR_C, CAR_TRAIN_OFFSET))
    f.create_dataset("y_train", data=np.array(train_labels, dtype=np.int64))
    f.create_dataset("X_test", data=pixels(4, CAR_H, CAR_W, CAR_C, CAR_TEST_OFFSET))
    if with_y_test:
        f.create_dataset("y_test", data=np.array(CAR_TEST_LABELS, dtype=np.int64))


def main():
    with h5py.File(path("carvnocar_small.h5"), "w") as f:
        car_layout(f)

    # Same data, chunked (the test chunk does not divide 4 evenly) with shuffle + gzip, and
    # float64 labels of shape (N, 1), stored contiguously.
    with h5py.File(path("carvnocar_gzip.h5"), "w") as f:
        f.create_dataset("X_train", data=pixels(6, CAR_H, CAR_W, CAR_C, CAR_TRAIN_OFFSET),
                         chunks=(2, CAR_H, CAR_W, CAR_C), compression="gzip", compression_opts=6,
                         shuffle=True)
        f.create_dataset("y_train", data=np.array(CAR_TRAIN_LABELS, dtype=np.float64).reshape(-1, 1))
        f.create_dataset("X_test", data=pixels(4, CAR_H, CAR_W, CAR_C, CAR_TEST_OFFSET),
                         chunks=(3, CAR_H, 4, CAR_C), compression="gzip", compression_opts=9)
        f.create_dataset("y_test", data=np.array(CAR_TEST_LABELS, dtype=np.float64).reshape(-1, 1))

    # Label 2 at train sample 2: fine when the class count is inferred (3), an error with 2.
    with h5py.File(path("bad_label_range.h5"), "w") as f:
        car_layout(f, train_labels=[0, 1, 2, 1, 0, 1])

    # 6 train images, 5 train labels.
    with h5py.File(path("mismatched_counts.h5"), "w") as f:
        car_layout(f, train_labels=[0, 1, 1, 0, 1])

    # Float labels no Int can hold (fuzz-hdf5 found the error message trapping on these):
    # -1e300 at train sample 3, and 1e300 at test sample 1 (outside 0..<2).
    with h5py.File(path("huge_labels.h5"), "w") as f:
        car_layout(f)
        del f["y_train"], f["y_test"]
        f.create_dataset("y_train", data=np.array([0, 1, 1, -1e300, 1, 0], dtype=np.float64))
        f.create_dataset("y_test", data=np.array([1, 1e300, 0, 1], dtype=np.float64))

    with h5py.File(path("missing_y_test.h5"), "w") as f:
        car_layout(f, with_y_test=False)

    # cat-vs-non-cat layout: two files; train labels (N,), test labels (1, N) as in the course code.
    classes = np.array([b"non-cat", b"cat"], dtype="S7")
    with h5py.File(path("catvnoncat_train_small.h5"), "w") as f:
        f.create_dataset("train_set_x", data=pixels(5, 4, 6, 3, 7))
        f.create_dataset("train_set_y", data=np.array([1, 0, 1, 1, 0], dtype=np.int64))
        f.create_dataset("list_classes", data=classes)
    with h5py.File(path("catvnoncat_test_small.h5"), "w") as f:
        f.create_dataset("test_set_x", data=pixels(3, 4, 6, 3, 50))
        f.create_dataset("test_set_y", data=np.array([[0, 1, 1]], dtype=np.int64))
        f.create_dataset("list_classes", data=classes)

    # Grayscale (N, H, W) float images, both taken as they are: train in [0, 1], test in [0, 255].
    # k = n*20 + h*5 + w; train pixel = k/64 (exact in float32), test pixel = 3k.
    # Labels: int32 train, uint8 test.
    i, y, x = np.indices((3, 4, 5))
    with h5py.File(path("gray_float.h5"), "w") as f:
        f.create_dataset("X_train", data=((i * 20 + y * 5 + x) / 64.0).astype(np.float32))
        f.create_dataset("y_train", data=np.array([0, 1, 0], dtype=np.int32))
        i, y, x = np.indices((2, 4, 5))
        f.create_dataset("X_test", data=((i * 20 + y * 5 + x) * 3.0).astype(np.float64))
        f.create_dataset("y_test", data=np.array([1, 0], dtype=np.uint8))

    # Assorted element types and attributes, for the low-level reader.
    with h5py.File(path("mixed_types.h5"), "w") as f:
        f.attrs["title"] = "PruneLab fixture"                  # variable-length UTF-8 string
        f.attrs["fixed"] = np.bytes_("fixed-len")              # fixed-length ASCII string
        f.attrs["lr"] = 0.125                                  # float64
        f.attrs["epochs"] = np.int32(12)                       # int32
        f.attrs["ratio"] = np.float32(2.0)                     # float32 holding a whole number
        f.attrs["pair"] = np.array([1, 2], dtype=np.int64)     # two values: not a scalar
        g = f.create_group("fc1")
        g.attrs["layer"] = "dense"
        w = g.create_dataset("weight", data=np.arange(6, dtype=np.float32).reshape(2, 3) / 4)
        w.attrs["units"] = np.int64(3)
        f.create_dataset("int8", data=np.array([-128, -1, 0, 1, 127], dtype=np.int8))
        f.create_dataset("uint16", data=np.array([[0, 1000], [65535, 7]], dtype=np.uint16))
        f.create_dataset("scalar", data=np.int16(7))
        f.create_dataset("names", data=classes)

    with open(path("not_hdf5.h5"), "w") as f:
        f.write("This is a plain text file with an .h5 extension, not HDF5.\n")


if __name__ == "__main__":
    main()
