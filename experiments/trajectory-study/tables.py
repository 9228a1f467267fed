"""Markdown tables of the early-decision study from its sweep folders (see README in results/trajectory-study.md).

  python3 experiments/trajectory-study/tables.py runs/ts-early-lenet300 runs/ts-early-lenet300-snip [runs/ts-early-lenet5]

For every data set, requested sparsity and ramp end: each method's mean test accuracy over
seeds, its paired difference from GMP (`magnitude`, same seed, data, sparsity and ramp end) with
a 95% t-interval, a verdict (better / worse when the interval excludes 0, else tie), and its
training FLOPs and wall seconds against the same seed's dense run (from the snip sweep, which
holds the dense runs).
"""
import csv
import glob
import json
import os
import statistics
import sys

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def load(folder):
    out = []
    for s in glob.glob(os.path.join(folder, "*", "summary.csv")):
        d = os.path.dirname(s)
        row = next(csv.DictReader(open(s)))
        cfg = json.load(open(os.path.join(d, "config.json")))
        data = "fashion" if "fashion" in cfg["data"]["dir"] else "mnist"
        model = cfg["model"].get("preset", "?")
        target = cfg["pruning"].get("target_sparsity", 0.0)
        end = cfg["pruning"].get("dynamic", {}).get("cubic", {}).get("end", "-")
        label = row.get("label") or row["method"]
        if label.startswith("snip"):
            end = "init"
        out.append(dict(model=model, data=data, target=target, end=end, method=label, seed=int(row["seed"]),
                        acc=float(row["test_accuracy"]), flops=float(row["train_flops"]), wall=float(row["wall_seconds"]),
                        sparsity=float(row["sparsity"])))
    return out


def interval(d):
    m = statistics.mean(d)
    if len(d) < 2:
        return m, None
    h = T975[len(d) - 1] * statistics.stdev(d) / len(d) ** 0.5
    return m, (m - h, m + h)


def main(folders):
    rows = [r for f in folders for r in load(f)]
    dense = {(r["model"], r["data"], r["seed"]): r for r in rows if r["method"] == "dense"}
    keys = sorted({(r["model"], r["data"], r["target"]) for r in rows if r["method"] != "dense"})
    order = ["magnitude", "linear", "lrtime", "plateau", "movement", "snip/init"]
    for model, data, target in keys:
        sel = [r for r in rows if (r["model"], r["data"], r["target"]) == (model, data, target)]
        ends = sorted({r["end"] for r in sel if r["end"] not in ("init", "-")}, key=lambda e: int(e.rstrip("ep")))
        print(f"### {model}, {data}, requested sparsity {target}\n")
        print("| method | ramp ends | n | test accuracy | Δ vs GMP [95% CI] | verdict | FLOPs ÷ dense | seconds ÷ dense |")
        print("| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |")
        for end in ends + ["init"]:
            for m in order:
                rs = [r for r in sel if r["method"] == m and (r["end"] == end)]
                if not rs:
                    continue
                acc = statistics.mean(r["acc"] for r in rs)
                gmp = {r["seed"]: r for r in sel if r["method"] == "magnitude" and r["end"] == end}
                if end == "init":
                    gmp = {}
                d = [r["acc"] - gmp[r["seed"]]["acc"] for r in rs if r["seed"] in gmp]
                if m == "magnitude":
                    delta, verdict = "baseline", ""
                elif d:
                    mu, ci = interval(d)
                    delta = f"{mu * 100:+.2f} pt" + (f" [{ci[0] * 100:+.2f}, {ci[1] * 100:+.2f}]" if ci else "")
                    verdict = "better" if ci and ci[0] > 0 else "worse" if ci and ci[1] < 0 else "tie"
                else:
                    delta, verdict = "—", ""
                fl = [r["flops"] / dense[(model, data, r["seed"])]["flops"] for r in rs if (model, data, r["seed"]) in dense]
                ws = [r["wall"] / dense[(model, data, r["seed"])]["wall"] for r in rs if (model, data, r["seed"]) in dense]
                fls = f"{statistics.mean(fl):.3f}x" if fl else "—"
                wss = f"{statistics.mean(ws):.2f}x" if ws else "—"
                endtxt = "at init" if end == "init" else f"epoch {end.rstrip('ep')}"
                print(f"| {m} | {endtxt} | {len(rs)} | {acc * 100:.2f}% | {delta} | {verdict} | {fls} | {wss} |")
        dn = [dense[k]["acc"] for k in dense if k[0] == model and k[1] == data]
        if dn:
            print(f"\nDense ({len(dn)} seeds): {statistics.mean(dn) * 100:.2f}%.\n")
        else:
            print()


if __name__ == "__main__":
    main(sys.argv[1:])
