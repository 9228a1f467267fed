"""Dumps every TensorBoard run under a logdir as JSON, read with TensorBoard's own reader.

Usage: python3 tb_dump.py LOGDIR. Runs are found as TensorBoard finds them
(io_wrapper.GetLogdirSubdirectories: every folder holding an event file), each read with
event_accumulator.EventAccumulator (orphaned events of a resumed run purged, as TensorBoard does).
The HParams summaries of each run are parsed with the HParams plugin's own parsers
(tensorboard.plugins.hparams.metadata), and the session groups its dashboard lists are asked of
the plugin itself (HParamsPlugin's /experiment and /session_groups routes over a multiplexer of
the logdir, as `tensorboard --logdir LOGDIR` serves them).
Output: {"runs": {relative run path: {"scalars": {tag: [[step, value], ...]},
                                      "histograms": {tag: [[step, num, min, max, bucket_sum], ...]},
                                      "hparams": {"start": {name: value}, "end_status": int,
                                                  "experiment": {"hparams": [name, ...],
                                                                 "metrics": [tag, ...]}}}},
         "dashboard": {"hparams": [name, ...], "metrics": [tag, ...],
                       "sessions": [{"name": ..., "status": ..., "hparams": {...},
                                     "metrics": {tag: value}}]}}
"""
import json
import os
import sys

from tensorboard.backend.event_processing import data_provider
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.backend.event_processing import io_wrapper
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.plugins import base_plugin
from tensorboard.plugins.hparams import hparams_plugin
from tensorboard.plugins.hparams import metadata
from tensorboard.plugins.scalar import scalars_plugin
from werkzeug.test import EnvironBuilder


def value(v):
    kind = v.WhichOneof("kind")
    return {"number_value": v.number_value, "string_value": v.string_value, "bool_value": v.bool_value}.get(kind)


def hparams_of(acc):
    try:
        content = acc.PluginTagToContent(metadata.PLUGIN_NAME)
    except KeyError:  # no summary of the plugin in this run
        content = {}
    out = {}
    if metadata.SESSION_START_INFO_TAG in content:
        start = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
        out["start"] = {k: value(v) for k, v in start.hparams.items()}
    if metadata.SESSION_END_INFO_TAG in content:
        out["end_status"] = metadata.parse_session_end_info_plugin_data(content[metadata.SESSION_END_INFO_TAG]).status
    if metadata.EXPERIMENT_TAG in content:
        e = metadata.parse_experiment_plugin_data(content[metadata.EXPERIMENT_TAG])
        out["experiment"] = {"hparams": [h.name for h in e.hparam_infos], "metrics": [m.name.tag for m in e.metric_infos]}
    return out


def dashboard(logdir):
    mux = plugin_event_multiplexer.EventMultiplexer()
    mux.AddRunsFromDirectory(logdir)
    mux.Reload()
    context = base_plugin.TBContext(
        logdir=logdir, multiplexer=mux, data_provider=data_provider.MultiplexerDataProvider(mux, logdir)
    )
    context.plugin_name_to_instance = {"scalars": scalars_plugin.ScalarsPlugin(context)}
    apps = hparams_plugin.HParamsPlugin(context).get_plugin_apps()

    def post(route, body):
        environ = EnvironBuilder(method="POST", data=json.dumps(body), content_type="application/json").get_environ()
        status = []
        text = b"".join(apps[route](environ, lambda s, h: status.append(s)))
        assert status[0].startswith("200"), (route, status, text)
        return json.loads(text)

    experiment = post("/experiment", {"experimentName": ""})
    statuses = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]
    groups = post("/session_groups", {"experimentName": "", "allowedStatuses": statuses, "startIndex": 0, "sliceSize": 1000})
    sessions = []
    for g in groups.get("sessionGroups", []):
        for s in g["sessions"]:
            metrics = {m["name"]["tag"]: m["value"] for m in s.get("metricValues", [])}
            sessions.append({"name": s["name"], "status": s["status"], "hparams": g["hparams"], "metrics": metrics})
    return {
        "hparams": [h["name"] for h in experiment.get("hparamInfos", [])],
        "metrics": [m["name"]["tag"] for m in experiment.get("metricInfos", [])],
        "sessions": sessions,
    }


logdir = sys.argv[1]
runs = {}
for sub in sorted(io_wrapper.GetLogdirSubdirectories(logdir)):
    acc = ea.EventAccumulator(sub, size_guidance={ea.SCALARS: 0, ea.HISTOGRAMS: 0, ea.TENSORS: 0})
    acc.Reload()
    tags = acc.Tags()
    scalars = {t: [[e.step, e.value] for e in acc.Scalars(t)] for t in tags["scalars"]}
    histograms = {}
    for t in tags["histograms"]:
        histograms[t] = [
            [e.step, e.histogram_value.num, e.histogram_value.min, e.histogram_value.max, sum(e.histogram_value.bucket)]
            for e in acc.Histograms(t)
        ]
    runs[os.path.relpath(sub, logdir)] = {"scalars": scalars, "histograms": histograms, "hparams": hparams_of(acc)}
print(json.dumps({"runs": runs, "dashboard": dashboard(logdir)}))
