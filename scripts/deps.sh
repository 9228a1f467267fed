#!/usr/bin/env bash
# Installs the Debian packages PruneLab builds against and the Fashion-MNIST data set
# (dataset-fashion-mnist: IDX gzip files under /usr/share/datasets/fashion-mnist), if any is
# missing (needs root or sudo).
set -euo pipefail
# chromium: the report tests render prunelab report's pages to PNG in a real browser.
pkgs=(libopenblas-dev libhdf5-dev zlib1g-dev libjpeg62-turbo-dev libpng-dev pkg-config dataset-fashion-mnist chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# h5py lets the tests check our HDF5 files with an independent reader (PyPI).
if command -v python3 >/dev/null && ! python3 -c "import h5py, numpy" 2>/dev/null; then
  python3 -m pip install -q h5py numpy || echo "warning: could not install h5py; the h5py cross-checks will be skipped" >&2
fi
# TensorBoard's own reader checks the event files (tb/), pandas the Python helper (python/).
if command -v python3 >/dev/null && ! python3 -c "import tensorboard, pandas" 2>/dev/null; then
  python3 -m pip install -q tensorboard pandas || echo "warning: could not install tensorboard/pandas; their cross-checks will be skipped" >&2
fi
# Pillow writes and decodes the images that `prunelab predict`'s tests compare against, and
# decodes the report tests' browser screenshots (PyPI).
if command -v python3 >/dev/null && ! python3 -c "import PIL" 2>/dev/null; then
  python3 -m pip install -q pillow || echo "warning: could not install Pillow; the image tests will fail" >&2
fi
# torch checks python/prunelab_torch.py's round trip of a torch model through PruneLab; onnx
# (its checker) and onnxruntime run the files of `prunelab export --format onnx` (PyPI; torch
# as the CPU wheel, from PyTorch's own index when PyPI has no +cpu build).
if command -v python3 >/dev/null && ! python3 -c "import torch" 2>/dev/null; then
  python3 -m pip install -q torch==2.13.0+cpu 2>/dev/null \
    || python3 -m pip install -q torch --index-url https://download.pytorch.org/whl/cpu \
    || echo "warning: could not install torch; the torch round-trip tests will fail" >&2
fi
if command -v python3 >/dev/null && ! python3 -c "import onnx, onnxruntime" 2>/dev/null; then
  python3 -m pip install -q onnx onnxruntime || echo "warning: could not install onnx/onnxruntime; the ONNX export tests will fail" >&2
fi
