#!/usr/bin/env bash
# Rewrites the generated key tables of configs/README.md (between the keys:begin and keys:end
# markers) from `prunelab list keys`, the registries' own documentation.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product prunelab >/dev/null
tables=$(.build/release/prunelab list keys)
python3 - "$tables" <<'PY'
import re, sys
path = "configs/README.md"
text = open(path).read()
begin = text.index("<!-- keys:begin")
begin = text.index("-->", begin) + 3
end = text.index("<!-- keys:end -->")
open(path, "w").write(text[:begin] + "\n" + sys.argv[1] + "\n" + text[end:])
PY
echo "configs/README.md: key tables regenerated"
