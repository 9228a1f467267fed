"""Dumps every TensorBoard run under a logdir as JSON, read with TensorBoard's own reader.

Usage: python3 tb_dump.py LOGDIR. Runs are found as TensorBoard finds them
(io_wrapper.GetLogdirSubdirectories: every folder holding an event file), each read with
event_accumulator.EventAccumulator (orphaned events of a resumed run purged, as TensorBoard does).
Output: {"runs": {relative run path: {"scalars": {tag: [[step, value], ...]},
                                      "histograms": {tag: [[step, num, min, max, bucket_sum], ...]}}}}
"""
import json
import os
import sys

from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.backend.event_processing import io_wrapper

logdir = sys.argv[1]
runs = {}
for sub in sorted(io_wrapper.GetLogdirSubdirectories(logdir)):
    acc = ea.EventAccumulator(sub, size_guidance={ea.SCALARS: 0, ea.HISTOGRAMS: 0})
    acc.Reload()
    tags = acc.Tags()
    scalars = {t: [[e.step, e.value] for e in acc.Scalars(t)] for t in tags["scalars"]}
    histograms = {}
    for t in tags["histograms"]:
        histograms[t] = [
            [e.step, e.histogram_value.num, e.histogram_value.min, e.histogram_value.max, sum(e.histogram_value.bucket)]
            for e in acc.Histograms(t)
        ]
    runs[os.path.relpath(sub, logdir)] = {"scalars": scalars, "histograms": histograms}
print(json.dumps({"runs": runs}))
