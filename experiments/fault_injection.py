#!/usr/bin/env python3
"""Kills prunelab runs with SIGKILL at random moments, resumes them, and checks that the final
run folders are bit-identical to uninterrupted runs of the same configs (summary.csv but its
timing columns, every other CSV byte for byte, every model array), using the comparison of
experiments/refactor_compare.py.

    python3 experiments/fault_injection.py [--kills 20] [--seed 1] [--prunelab .build/release/prunelab] [--out DIR]
                                           [--runs dense,dynamic,fpgm-compact,han,units,units-trajectory]
                                           [--no-phase-kills]

Six runs share the kills (--runs picks some of them; default all): dense, han (with the prune
curve) and dynamic (linear, with trajectory recording) on LeNet-300-100, and three that compact
the network during training: fpgm-compact (LeNet-5, configs/mnist-lenet5-fpgm-compact.json, 6
epochs, soft FPGM selections every epoch, the filters selected at the end of epoch 2 removed
from the network then, about a third into the run, 1 fine-tuning epoch), units (LeNet-300-100,
method `units` with its l1 score and cubic schedule, 8 epochs, checks every 40 steps from epoch
1: a tenth of fc1's and fc2's neurons leave at each of the five checks from epoch 1.5 to 3.5,
half of them in all) and units-trajectory (the same with the `trajectory` score, whose per-weight
statistics shrink with the network); each on a 10,000-image MNIST subset (79 steps per epoch).
Each kill happens at a moment drawn uniformly from 5-60% of that run's uninterrupted duration,
measured from the start of the process it hits; after a kill the run is resumed with `prunelab
run --resume` (started again with its config if it was killed before it made its folder), and
the resumed process may itself be killed. A kill that comes after the process ended does not
count: kills go on (in a new episode, a fresh run, once a run completes) until the requested
number landed.
Runs that record trajectories also get one episode of phase kills (unless --no-phase-kills):
the process kills itself with SIGKILL (`--kill-at trajectories-finished`) just after the
trajectory files are finished and before the model files are written, a window of a few
milliseconds that random kills rarely hit; a fresh process and then a resumed one are killed
there, and a last resume completes the run. Prints one line per kill and a verdict; exits 1 on
any difference.

For the runs that compact during training there is no phase kill at the compaction; each kill
line says instead at which step the run's checkpoint stood when the process died (the step a
resume continues from) against the steps where the uninterrupted run compacted (its events.csv),
and the verdict counts the kills that left a checkpoint from before the first compaction, from
between compactions and from after the last one. Checkpoints are taken at every epoch end, so a
checkpoint from before the first compaction also means the killed process had not reached the
end of that compaction's epoch (or died while writing its checkpoint); one from after a compaction
means the killed process ran the compacted network and the resume rebuilds it.
"""
import argparse
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refactor_compare import compare_run  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = ["--set", "data.train_limit=10000", "--set", "data.test_limit=2000", "--set", "training.threads=2"]
RUNS = {
    "dense": ("configs/mnist-lenet300-dense.json", ["--set", "training.epochs=6"]),
    "han": ("configs/mnist-lenet300-han.json",
            ["--set", "training.epochs=4", "--set", "pruning.han.rounds=2", "--set", "pruning.han.retrain=\"1ep\"",
             "--set", "pruning.han.curve.from=0.5", "--set", "pruning.han.curve.step=0.1"]),
    "dynamic": ("configs/mnist-lenet300-compare.json",
                ["--set", "training.epochs=6", "--set", "pruning.method=dynamic", "--set", "pruning.dynamic.cubic.end=\"4ep\"",
                 "--set", "recording.enabled=true", "--set", "recording.every=\"20it\""]),
    "fpgm-compact": ("configs/mnist-lenet5-fpgm-compact.json",
                     ["--set", "training.epochs=6", "--set", "pruning.structured.compact_during_training={\"at\":\"2ep\"}",
                      "--set", "pruning.structured.finetune=\"1ep\""]),
    "units": ("configs/mnist-lenet300-dense.json",
              ["--set", "training.epochs=8", "--set", "pruning.method=units", "--set", "pruning.units.cubic.start=\"1ep\"",
               "--set", "pruning.units.cubic.end=\"3ep\"", "--set", "pruning.units.cubic.every=\"40it\""]),
}
RUNS["units-trajectory"] = (RUNS["units"][0], RUNS["units"][1] + ["--set", "pruning.units.score=trajectory"])

# runs that compact the network during training: where their kills land against the compaction
COMPACTING = {"fpgm-compact", "units", "units-trajectory"}

# the phase kills of each run: `prunelab run --kill-at PHASE` (a hidden fault-injection option)
PHASE_KILLS = {"dynamic": "trajectories-finished"}


def start(binary, args):
    return subprocess.Popen([binary] + args + ["--no-progress"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def checkpoint_step(folder):
    """The training step of the run folder's checkpoint (0 without one: a resume starts over)."""
    path = os.path.join(folder, "checkpoint.h5")
    if not os.path.exists(path):
        return 0
    import h5py
    try:
        with h5py.File(path, "r") as f:
            return int(f["i/trainer/position"][0])
    except (OSError, KeyError) as e:
        sys.exit(f"{path}: cannot read the checkpoint's trainer position ({e})")


def compaction_steps(name, folder):
    """The steps where the finished run in `folder` changed its network's shape, from its
    events.csv: every check of `units`; the last selection (the hard one that compacts; none
    follow it) of `structured` with `compact_during_training.at`."""
    with open(os.path.join(folder, "events.csv"), newline="") as f:
        steps = sorted({int(r["step"]) for r in csv.DictReader(f)})
    if not steps:
        sys.exit(f"{folder}/events.csv: no events, so no compaction to kill around")
    return steps if name.startswith("units") else steps[-1:]


LANDING = {"before": "before the first compaction", "between": "between compactions",
           "after": "at or after the last compaction"}


def where(step, compactions):
    """A checkpoint step against the compaction steps: before, between or after them."""
    if step < compactions[0]:
        return "before"
    return "after" if step >= compactions[-1] else "between"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--prunelab", default=os.path.join(ROOT, ".build/release/prunelab"))
    ap.add_argument("--out", default=None, help="work folder (default: a temporary one, removed)")
    ap.add_argument("--no-phase-kills", action="store_true", help="only the random kills")
    ap.add_argument("--runs", default=",".join(sorted(RUNS)),
                    help=f"comma-separated runs to exercise (default all: {','.join(sorted(RUNS))})")
    a = ap.parse_args()
    names = sorted(set(n.strip() for n in a.runs.split(",") if n.strip()))
    unknown = [n for n in names if n not in RUNS]
    if unknown or not names:
        ap.error(f"--runs: unknown run {', '.join(unknown) or '(none given)'}; known: {', '.join(sorted(RUNS))}")
    if a.kills < len(names):
        ap.error(f"--kills must be at least the number of runs ({len(names)})")
    rng = random.Random(a.seed)
    work = a.out or tempfile.mkdtemp(prefix="prunelab-faults-")
    os.makedirs(work, exist_ok=True)
    targets = {n: a.kills // len(names) + (1 if i < a.kills % len(names) else 0) for i, n in enumerate(names)}
    problems, lines = [], []
    phase_kills = 0
    landing = {}  # compacting run -> {"before"/"between"/"after": kills}
    for name in names:
        config, extra = RUNS[name]
        ref = os.path.join(work, f"{name}-whole")
        shutil.rmtree(ref, ignore_errors=True)
        t0 = time.time()
        if start(a.prunelab, ["run", config, "--out", ref] + SMALL + extra).wait() != 0:
            sys.exit(f"{name}: the uninterrupted run failed")
        duration = time.time() - t0
        compactions = compaction_steps(name, ref) if name in COMPACTING else None
        if compactions:
            landing[name] = {"before": 0, "between": 0, "after": 0}
            lines.append(f"{name}: uninterrupted run {duration:.1f} s; compacts at step"
                         f"{'s' if len(compactions) > 1 else ''} {', '.join(map(str, compactions))}")
        landed, episode = 0, 0
        while landed < targets[name]:
            # one episode: a fresh run, killed until its share of kills has landed, then resumed
            # to completion and compared with the uninterrupted run
            episode += 1
            victim = os.path.join(work, f"{name}-killed-{episode}")
            shutil.rmtree(victim, ignore_errors=True)
            fresh = ["run", config, "--out", victim] + SMALL + extra

            def next_args():
                # a run killed before it made its folder starts again; a finished one is done
                info = os.path.join(victim, "run.json")
                if not os.path.exists(info):
                    return fresh
                with open(info) as f:
                    return None if json.load(f)["status"] == "completed" else ["run", "--resume", victim]

            while landed < targets[name] and (args := next_args()) is not None:
                moment = rng.uniform(0.05, 0.6) * duration
                p = start(a.prunelab, args)
                time.sleep(moment)
                if p.poll() is None:
                    p.send_signal(signal.SIGKILL)
                    p.wait()
                    landed += 1
                    at = ""
                    if compactions:
                        step = checkpoint_step(victim)
                        landing[name][where(step, compactions)] += 1
                        at = f"; checkpoint at step {step}, {LANDING[where(step, compactions)]}"
                    lines.append(f"{name}: kill {landed} (episode {episode}) at {moment:.2f} s into {'a resumed' if args[1] == '--resume' else 'a fresh'} process{at}")
            args = next_args()
            status = 0 if args is None else start(a.prunelab, args).wait()
            if status != 0:
                problems.append(f"{name}: the final resume of episode {episode} exited {status}")
                continue
            before = len(problems)
            checked = compare_run(ref, victim, problems)
            lines.append(f"{name}: episode {episode} resumed to completion; compared {', '.join(checked)}: "
                         + ("identical" if len(problems) == before else f"{len(problems) - before} differences"))
        if name in PHASE_KILLS and not a.no_phase_kills:
            phase = PHASE_KILLS[name]
            victim = os.path.join(work, f"{name}-killed-at-{phase}")
            shutil.rmtree(victim, ignore_errors=True)
            steps = [("a fresh", ["run", config, "--out", victim] + SMALL + extra + ["--kill-at", phase]),
                     ("a resumed", ["run", "--resume", victim, "--kill-at", phase])]
            ok = True
            for which, args in steps:
                status = start(a.prunelab, args).wait()
                if status != -signal.SIGKILL:
                    problems.append(f"{name}: {which} process with --kill-at {phase} exited {status}, not by SIGKILL")
                    ok = False
                    break
                phase_kills += 1
                lines.append(f"{name}: kill at {phase} of {which} process")
            status = start(a.prunelab, ["run", "--resume", victim]).wait() if ok else None
            if ok and status != 0:
                problems.append(f"{name}: the resume after the kills at {phase} exited {status}")
            elif ok:
                before = len(problems)
                checked = compare_run(ref, victim, problems)
                lines.append(f"{name}: killed at {phase} twice, resumed to completion; compared {', '.join(checked)}: "
                             + ("identical" if len(problems) == before else f"{len(problems) - before} differences"))
    for name, counts in landing.items():
        lines.append(f"{name}: kills whose checkpoint was before the first compaction {counts['before']}, "
                     + (f"between compactions {counts['between']}, " if name.startswith("units") else "")
                     + f"at or after the last compaction {counts['after']}"
                     + ("" if counts["before"] and counts["between"] + counts["after"]
                        else " (not on both sides of a compaction: use more --kills)"))
    print("\n".join(lines))
    if problems:
        print(f"\n{len(problems)} differences:\n" + "\n".join(problems))
    else:
        print(f"\n{a.kills} random kills and {phase_kills} phase kills across {', '.join(names)}: "
              "every resumed run is bit-identical to its uninterrupted run")
    if not a.out:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
