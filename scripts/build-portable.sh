#!/usr/bin/env bash
# A release binary for machines without the Swift toolchain (cluster nodes): the Swift standard
# library and Foundation linked in statically (`--static-swift-stdlib`), so the node needs only
# the C libraries PruneLab builds against: libopenblas.so.0, libhdf5_serial.so.103 (with its own
# dependencies), libz.so.1, libjpeg.so.62, libpng16.so.16 (Debian: libopenblas0, libhdf5-103-1,
# zlib1g, libjpeg62-turbo, libpng16-16), besides libc, libm, libstdc++ and libgcc_s.
# Checks that `ldd` lists no Swift runtime library and that the binary, copied to a folder outside
# the checkout, trains one epoch.
#   bash scripts/build-portable.sh      # → .build-static/release/prunelab
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
swift build -c release --product prunelab --static-swift-stdlib --scratch-path .build-static
bin=.build-static/release/prunelab
if ldd "$bin" | grep -E 'libswift|libFoundation|libdispatch|libBlocksRuntime|/opt/swift'; then
  echo "build-portable: $bin still links a Swift runtime library (above)" >&2
  exit 1
fi
repo=$PWD
tmp=$(mktemp -d /tmp/prunelab-portable.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cp "$bin" "$tmp/prunelab"
(cd "$tmp" && env -u LD_LIBRARY_PATH ./prunelab run "$repo/configs/mnist-lenet300-compare.json" --out run \
  --set training.epochs=1 --set pruning.method=dense --no-progress)
test -s "$tmp/run/summary.csv"
echo "build-portable: OK: $bin links no Swift runtime and trains from $tmp"
