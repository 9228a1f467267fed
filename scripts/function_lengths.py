#!/usr/bin/env python3
"""Lists functions and initializers in Swift sources longer than a limit (default 60 lines),
counting from the declaration to its closing brace. The rule for Sources/Experiments: none longer than the limit.

    python3 scripts/function_lengths.py [--limit N] [--top K] DIR...
"""
import argparse, glob, re, sys

DECL = re.compile(r'^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|private|fileprivate|internal|static|class|mutating|override|final|nonisolated)\s+)*(?:func\s|init[(<?])')

def functions(path):
    lines = open(path).read().split("\n")
    for i, line in enumerate(lines):
        if not DECL.match(line):
            continue
        depth, opened = 0, False
        for j in range(i, len(lines)):
            code = re.sub(r'"(?:\\.|[^"\\])*"', '""', lines[j].split("//")[0])
            depth += code.count("{") - code.count("}")
            opened = opened or "{" in code
            if opened and depth <= 0:
                yield i + 1, j - i + 1, line.strip()
                break

ap = argparse.ArgumentParser()
ap.add_argument("--limit", type=int, default=60)
ap.add_argument("--top", type=int, default=0)
ap.add_argument("dirs", nargs="+")
a = ap.parse_args()
found = []
for d in a.dirs:
    for f in glob.glob(f"{d}/**/*.swift", recursive=True):
        found += [(n, f, line, decl) for line, n, decl in functions(f)]
found.sort(reverse=True)
for n, f, line, decl in found[: a.top] if a.top else [x for x in found if x[0] > a.limit]:
    print(f"{n:4d}  {f}:{line}  {decl[:70]}")
sys.exit(1 if any(x[0] > a.limit for x in found) else 0)
