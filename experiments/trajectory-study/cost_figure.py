"""The early-decision study's cost view as one SVG: per data set and requested sparsity, test
accuracy (mean over seeds) against training FLOPs ÷ the same seed's dense run, one line per method
through its ramp ends (epoch 1, 2, 4, 8: left to right, the later the ramp ends the more FLOPs),
SNIP at initialisation as a single point, dense accuracy as a dashed line.

  python3 experiments/trajectory-study/cost_figure.py OUT.svg runs/ts-early-lenet300 runs/ts-early-lenet300-snip
"""
import statistics
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from tables import load  # noqa: E402

COLORS = {"magnitude": "#000000", "linear": "#0072B2", "lrtime": "#D55E00", "plateau": "#009E73",
          "movement": "#CC79A7", "snip/init": "#E69F00"}
W, H, PAD = 330, 250, 48


def panel(rows, dense, x0, y0, title):
    pts = {}
    for m in COLORS:
        by_end = {}
        for r in rows:
            if r["method"] != m or (r["model"], r["data"], r["seed"]) not in dense:
                continue
            d = dense[(r["model"], r["data"], r["seed"])]
            by_end.setdefault(r["end"], []).append((r["flops"] / d["flops"], r["acc"] * 100))
        pts[m] = sorted((statistics.mean(a for a, _ in v), statistics.mean(b for _, b in v)) for v in by_end.values())
    dacc = statistics.mean(d["acc"] * 100 for k, d in dense.items() if k[1] == rows[0]["data"])
    xs = [x for v in pts.values() for x, _ in v]
    ys = [y for v in pts.values() for _, y in v] + [dacc]
    xlo, xhi = 0, max(xs) * 1.1
    ylo, yhi = min(ys) - 0.1 * (max(ys) - min(ys)), max(ys) + 0.1 * (max(ys) - min(ys))
    sx = lambda x: x0 + PAD + (x - xlo) / (xhi - xlo) * (W - PAD - 10)
    sy = lambda y: y0 + H - PAD + 10 - (y - ylo) / (yhi - ylo) * (H - PAD - 20)
    out = [f'<text x="{x0 + W / 2}" y="{y0 + 14}" text-anchor="middle" font-size="12">{title}</text>',
           f'<rect x="{x0 + PAD}" y="{y0 + 20}" width="{W - PAD - 10}" height="{H - PAD - 10}" fill="none" stroke="#888"/>']
    for k in range(5):
        x = xlo + (xhi - xlo) * k / 4
        y = ylo + (yhi - ylo) * k / 4
        out.append(f'<text x="{sx(x)}" y="{y0 + H - PAD + 24}" text-anchor="middle" font-size="10">{x:.2f}</text>')
        out.append(f'<text x="{x0 + PAD - 4}" y="{sy(y) + 3}" text-anchor="end" font-size="10">{y:.2f}</text>')
    out.append(f'<text x="{x0 + PAD + (W - PAD) / 2}" y="{y0 + H - 8}" text-anchor="middle" font-size="10">training FLOPs ÷ dense run</text>')
    out.append(f'<text x="{x0 + 10}" y="{y0 + H / 2}" font-size="10" transform="rotate(-90 {x0 + 10} {y0 + H / 2})" '
               f'text-anchor="middle">test accuracy (%)</text>')
    out.append(f'<line x1="{sx(xlo)}" x2="{sx(xhi)}" y1="{sy(dacc)}" y2="{sy(dacc)}" stroke="#999" stroke-dasharray="4 3"/>')
    for m, p in pts.items():
        if not p:
            continue
        c = COLORS[m]
        if len(p) > 1:
            out.append('<polyline fill="none" stroke="%s" stroke-width="1.6" points="%s"/>' % (c, " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in p)))
        for x, y in p:
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{c}"/>')
    return out


def main(out, folders):
    rows = [r for f in folders for r in load(f)]
    dense = {(r["model"], r["data"], r["seed"]): r for r in rows if r["method"] == "dense"}
    cells = [(d, t) for d in ("mnist", "fashion") for t in (0.9, 0.98)]
    body = []
    for i, (d, t) in enumerate(cells):
        sel = [r for r in rows if r["data"] == d and r["target"] == t and r["method"] != "dense"]
        body += panel(sel, dense, (i % 2) * W, (i // 2) * H, f"LeNet-300-100, {'MNIST' if d == 'mnist' else 'Fashion-MNIST'}, sparsity {t}")
    ly = 2 * H + 10
    for k, (m, c) in enumerate(list(COLORS.items()) + [("dense", "#999")]):
        body.append(f'<rect x="{10 + k * 92}" y="{ly}" width="14" height="3" fill="{c}"/><text x="{28 + k * 92}" y="{ly + 5}" font-size="11">{m}</text>')
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{2 * H + 30}" font-family="DejaVu Sans, sans-serif">'
           f'<rect width="100%" height="100%" fill="white"/>' + "".join(body) + "</svg>")
    open(out, "w").write(svg)
    print(out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
