#!/usr/bin/env bash
# Installs the Debian packages PruneLab builds against, if any is missing (needs root or sudo).
set -euo pipefail
# chromium: the report tests render prunelab report's pages to PNG in a real browser.
pkgs=(libopenblas-dev libhdf5-dev zlib1g-dev pkg-config chromium)
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
# Pillow decodes the report tests' browser screenshots (PyPI).
if command -v python3 >/dev/null && ! python3 -c "import PIL" 2>/dev/null; then
  python3 -m pip install -q pillow || echo "warning: could not install Pillow; the report screenshot checks will be skipped" >&2
fi
