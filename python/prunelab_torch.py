"""PyTorch to PruneLab and back: bring a torch model in, take a pruned model out.

Export a ``torch.nn.Sequential`` as a PruneLab layer list and an initial-weights file, train and
prune it in PruneLab from exactly those weights, and load the run's model file back into torch::

    import sys; sys.path.insert(0, "python"); import prunelab_torch as pt
    model_section = pt.export_sequential(net, (1, 28, 28), "runs/net-init")
    # config["model"] = model_section   ->  prunelab run config.json --out runs/net
    trained = pt.load_model("runs/net/model.h5")      # or model-sparse.h5, model-compact.h5

``export_sequential`` takes ``Linear``, ``Conv2d``, ``BatchNorm2d``/``BatchNorm1d``, ``ReLU``,
``Tanh``, ``Sigmoid``, ``MaxPool2d``, ``Flatten`` and ``Dropout``; any other layer, or a setting
PruneLab's layer cannot reproduce (a non-square kernel, dilation, groups, ``ceil_mode``, a
``Linear`` applied to an image without ``Flatten``), is a ``ValueError`` naming the layer's index
and type. Weight layouts are the same in both: a dense weight is ``[out, in]``, a conv kernel
``[out, in, k, k]``, flattening is channels first (``[C, H, W]`` row-major), so tensors are copied
as they are. PruneLab attaches an activation to the layer before it; ``ReLU``/``Tanh``/``Sigmoid``
after a ``MaxPool2d`` or ``Flatten`` (``ReLU`` also after a ``Dropout``) move before them: max
pooling commutes with monotone activations, flattening with every element-wise one, dropout's
non-negative scaling with ``ReLU``. The last layer must be a ``Linear``: its
outputs are the logits of PruneLab's softmax cross-entropy (``sigmoid`` binary cross-entropy when
it has one output, where a final ``nn.Sigmoid`` may follow it). Layers without a bias get a zero
bias (PruneLab's conv and dense layers have one).

``load_model`` returns a module in evaluation mode whose output is PruneLab's forward output:
the logits, without the softmax or sigmoid of the loss.

The initial-weights file (``model.init_file``) is an HDF5 file with the root attribute
``format = "prunelab-dense-1"`` and one group per weighted layer, named as PruneLab names them
(``conv1``, ``conv2``, ... and ``fc1``, ``fc2``, ... in order; batch norms ``bn1``, ...):
``weight`` and ``bias`` float32 (optional ``mask`` uint8 of the weight's shape, 1 kept, 0 pruned),
batch norms ``gamma``, ``beta``, ``running_mean``, ``running_var`` float32 ``[C]``.
"""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import torch
from torch import nn

__all__ = ["export_sequential", "load_model", "layer_specs", "DENSE_FORMAT", "CSR_FORMAT"]

DENSE_FORMAT = "prunelab-dense-1"  # model.h5, model-compact.h5, initial-weights files
CSR_FORMAT = "prunelab-csr-1"  # model-sparse.h5

ACTIVATIONS = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid"}
ACTIVATION_MODULES = {name: kind for kind, name in ACTIVATIONS.items()}
WEIGHTED = ("conv", "dense", "batchnorm")  # the specs that carry an activation


def _square(value, what, where):
    """An int, or a pair of equal ints, as one int."""
    if isinstance(value, int):
        return value
    if isinstance(value, (tuple, list)) and len(value) == 2 and value[0] == value[1]:
        return int(value[0])
    raise ValueError(f"{where}: {what} {value!r}: PruneLab takes square (equal) values only")


class _Exporter:
    """Walks the layers, tracking the per-sample shape as PruneLab computes it."""

    def __init__(self, input_shape):
        self.shape = tuple(int(d) for d in input_shape)
        if len(self.shape) not in (1, 3) or min(self.shape) <= 0:
            raise ValueError(f"input_shape {input_shape!r}: give [C, H, W] for images or [F] for features")
        self.specs = []
        self.tensors = {}
        self.counts = {}

    def name(self, prefix):
        self.counts[prefix] = self.counts.get(prefix, 0) + 1
        return f"{prefix}{self.counts[prefix]}"

    def add(self, index, layer, is_last):
        where = f"layer {index} ({type(layer).__name__})"
        kind = type(layer)
        if kind is nn.Conv2d:
            self.conv(layer, where)
        elif kind is nn.Linear:
            self.linear(layer, where)
        elif kind in (nn.BatchNorm2d, nn.BatchNorm1d):
            self.batchnorm(layer, where)
        elif kind in ACTIVATIONS:
            self.activation(ACTIVATIONS[kind], where, is_last)
        elif kind is nn.MaxPool2d:
            self.pool(layer, where)
        elif kind is nn.Flatten:
            if (layer.start_dim, layer.end_dim) != (1, -1):
                raise ValueError(f"{where}: only Flatten(start_dim=1, end_dim=-1) is supported")
            if len(self.shape) == 3:
                self.specs.append({"type": "flatten"})
                self.shape = (int(np.prod(self.shape)),)
        elif kind is nn.Dropout:
            if not 0 <= layer.p < 1:
                raise ValueError(f"{where}: rate {layer.p} must be in [0, 1)")
            self.specs.append({"type": "dropout", "rate": float(layer.p)})
        elif kind in (nn.Softmax, nn.LogSoftmax):
            raise ValueError(f"{where}: not supported; PruneLab's loss applies the softmax: end with the Linear layer")
        else:
            raise ValueError(
                f"{where}: not supported; PruneLab takes Linear, Conv2d, BatchNorm2d, BatchNorm1d, "
                "ReLU, Tanh, Sigmoid, MaxPool2d, Flatten and Dropout")

    def conv(self, layer, where):
        if len(self.shape) != 3 or layer.in_channels != self.shape[0]:
            raise ValueError(f"{where}: takes {layer.in_channels} channels, its input is {list(self.shape)}")
        k = _square(layer.kernel_size, "kernel_size", where)
        s = _square(layer.stride, "stride", where)
        if isinstance(layer.padding, str):
            if layer.padding == "valid":
                p = 0
            elif s == 1 and k % 2 == 1:
                p = (k - 1) // 2
            else:
                raise ValueError(f"{where}: padding 'same' needs stride 1 and an odd kernel")
        else:
            p = _square(layer.padding, "padding", where)
        if _square(layer.dilation, "dilation", where) != 1 or layer.groups != 1 or layer.padding_mode != "zeros":
            raise ValueError(f"{where}: dilation, groups and padding modes other than zeros are not supported")
        c, h, w = self.shape
        if h + 2 * p < k or w + 2 * p < k:
            raise ValueError(f"{where}: kernel {k} is larger than its input {h}x{w} padded by {p}")
        name = self.name("conv")
        self.specs.append({"type": "conv", "filters": layer.out_channels, "kernel": k, "stride": s, "padding": p,
                           "activation": "none"})
        self.weights(name, layer)
        self.shape = (layer.out_channels, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)

    def linear(self, layer, where):
        if len(self.shape) != 1:
            raise ValueError(
                f"{where}: torch applies Linear to the last axis of its {list(self.shape)} input; "
                "put nn.Flatten() before it")
        features = int(np.prod(self.shape))
        if layer.in_features != features:
            raise ValueError(f"{where}: takes {layer.in_features} features, its input has {features}")
        name = self.name("fc")
        self.specs.append({"type": "dense", "units": layer.out_features, "activation": "none"})
        self.weights(name, layer)
        self.shape = (layer.out_features,)

    def weights(self, name, layer):
        w = layer.weight.detach().cpu().numpy().astype(np.float32)
        b = layer.bias.detach().cpu().numpy() if layer.bias is not None else np.zeros(w.shape[0])
        self.tensors[f"{name}/weight"] = w
        self.tensors[f"{name}/bias"] = b.astype(np.float32)

    def batchnorm(self, layer, where):
        image = type(layer) is nn.BatchNorm2d
        if image != (len(self.shape) == 3) or layer.num_features != self.shape[0]:
            raise ValueError(f"{where}: {layer.num_features} features does not fit its input {list(self.shape)}")
        if not layer.track_running_stats or layer.momentum is None:
            raise ValueError(f"{where}: needs running statistics and a numeric momentum (PruneLab's running average)")
        name = self.name("bn")
        c = layer.num_features
        gamma = layer.weight.detach().cpu().numpy() if layer.affine else np.ones(c)
        beta = layer.bias.detach().cpu().numpy() if layer.affine else np.zeros(c)
        for key, value in (("gamma", gamma), ("beta", beta), ("running_mean", layer.running_mean),
                           ("running_var", layer.running_var)):
            value = value.detach().cpu().numpy() if torch.is_tensor(value) else value
            self.tensors[f"{name}/{key}"] = np.asarray(value, dtype=np.float32)
        self.specs.append({"type": "batchnorm", "momentum": float(layer.momentum), "epsilon": float(layer.eps),
                           "activation": "none"})

    def activation(self, kind, where, is_last):
        # max pooling commutes with monotone activations, flattening with all, dropout (a
        # non-negative scale) with relu
        movable = ("pool", "flatten", "dropout") if kind == "relu" else ("pool", "flatten")
        i = len(self.specs) - 1
        while i >= 0 and self.specs[i]["type"] in movable:
            i -= 1
        if i < 0 or self.specs[i]["type"] not in WEIGHTED or self.specs[i]["activation"] != "none":
            raise ValueError(f"{where}: an activation must follow a Conv2d, Linear or BatchNorm without one")
        if is_last and not (kind == "sigmoid" and i == len(self.specs) - 1 and self.specs[i]["type"] == "dense"
                            and self.specs[i]["units"] == 1):
            raise ValueError(f"{where}: the model must end with a Linear (logits), or a 1-output Linear and Sigmoid")
        self.specs[i]["activation"] = kind

    def pool(self, layer, where):
        if len(self.shape) != 3:
            raise ValueError(f"{where}: needs an image input, got {list(self.shape)}")
        k = _square(layer.kernel_size, "kernel_size", where)
        s = _square(layer.stride if layer.stride is not None else k, "stride", where)
        if (_square(layer.padding, "padding", where) != 0 or _square(layer.dilation, "dilation", where) != 1
                or layer.ceil_mode or layer.return_indices):
            raise ValueError(f"{where}: padding, dilation, ceil_mode and return_indices are not supported")
        c, h, w = self.shape
        if h < k or w < k:
            raise ValueError(f"{where}: kernel {k} is larger than its input {h}x{w}")
        self.specs.append({"type": "pool", "kernel": k, "stride": s})
        self.shape = (c, (h - k) // s + 1, (w - k) // s + 1)

    def finish(self):
        last = self.specs[-1] if self.specs else None
        if last is None or last["type"] != "dense":
            raise ValueError("the model must end with a Linear layer (its outputs are the logits)")
        if last["activation"] == "none":
            last["activation"] = "sigmoid" if last["units"] == 1 else "softmax"
        # PruneLab puts a Flatten before a dense layer after an image itself
        return [s for i, s in enumerate(self.specs)
                if not (s["type"] == "flatten" and self.specs[i + 1]["type"] == "dense")]


def export_sequential(module, input_shape, out_dir=None, *, layers_path=None, init_path=None):
    """Writes ``module`` as a PruneLab layer list and initial-weights file; returns the ``model`` section.

    ``input_shape`` is one sample's shape, ``[C, H, W]`` or ``[F]``. Files: ``layers_path``
    (default ``out_dir/layers.json``: the list for ``model.layers``) and ``init_path`` (default
    ``out_dir/init.h5``: the file for ``model.init_file``). The returned dict,
    ``{"layers": [...], "init_file": <absolute path>}``, is a config's ``model`` section.
    """
    if not isinstance(module, nn.Sequential):
        raise ValueError(f"export_sequential takes a torch.nn.Sequential, got {type(module).__name__}")
    if out_dir is None and (layers_path is None or init_path is None):
        raise ValueError("give out_dir, or both layers_path and init_path")
    layers_path = layers_path or os.path.join(out_dir, "layers.json")
    init_path = init_path or os.path.join(out_dir, "init.h5")
    exporter = _Exporter(input_shape)
    children = list(module)
    for i, layer in enumerate(children):
        exporter.add(i, layer, is_last=i == len(children) - 1)
    specs = exporter.finish()
    for path in (layers_path, init_path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(layers_path, "w") as f:
        json.dump(specs, f, indent=1)
        f.write("\n")
    with h5py.File(init_path, "w") as f:
        f.attrs["format"] = DENSE_FORMAT
        f.attrs["source"] = "prunelab_torch.export_sequential"
        for key, value in exporter.tensors.items():
            f[key] = value
    return {"layers": specs, "init_file": os.path.abspath(init_path)}


def layer_specs(path):
    """The layer list of a PruneLab model file: its ``layers`` root attribute, else the ``model.layers`` of its ``config``."""
    with h5py.File(path, "r") as f:
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    if "layers" in attrs:
        return json.loads(attrs["layers"])
    model = json.loads(attrs.get("config", "{}")).get("model", {})
    if "layers" in model:
        return model["layers"]
    raise ValueError(
        f"{path}: no layer list (root attribute 'layers', or 'model.layers' in its config); "
        f"a file of an older PruneLab with preset {model.get('preset')!r}: pass layers= explicitly")


def _modules(specs, path):
    """torch modules for PruneLab layer specs, with the names of the weighted ones."""
    modules, names, counts = [], {}, {}
    flat = None  # unknown at the input: a first dense layer gets a (no-op for flat input) Flatten
    for i, spec in enumerate(specs):
        kind = spec.get("type", "dense")
        counts[kind] = counts.get(kind, 0) + 1
        n = counts[kind]
        if kind == "conv":
            p = spec.get("padding", 0)
            m = nn.Conv2d(1, spec["filters"], spec["kernel"], stride=spec.get("stride", 1), padding=p)
            names[len(modules)] = f"conv{n}"
            flat = False
        elif kind == "dense":
            if flat is not True:
                modules.append(nn.Flatten())
            m = nn.Linear(1, spec["units"])
            names[len(modules)] = f"fc{n}"
            flat = True
        elif kind == "pool":
            m = nn.MaxPool2d(spec["kernel"], stride=spec.get("stride", spec["kernel"]))
            flat = False
        elif kind == "flatten":
            m, flat = nn.Flatten(), True
        elif kind == "batchnorm":
            if flat is None:
                raise ValueError(f"{path}: layer {i}: a batchnorm before any conv or dense layer is not supported")
            bn = nn.BatchNorm1d if flat else nn.BatchNorm2d
            m = bn(1, eps=spec.get("epsilon", 1e-5), momentum=spec.get("momentum", 0.1))
            names[len(modules)] = f"bn{n}"
        elif kind == "dropout":
            m = nn.Dropout(spec.get("rate", 0.5))
        elif kind == "global_avg_pool":
            modules.append(nn.AdaptiveAvgPool2d(1))
            m, flat = nn.Flatten(), True
        else:
            raise ValueError(f"{path}: layer {i}: a {kind!r} layer has no torch.nn.Sequential form")
        modules.append(m)
        activation = spec.get("activation", "none")
        last = i == len(specs) - 1
        if activation in ACTIVATION_MODULES and not last:
            modules.append(ACTIVATION_MODULES[activation]())
    return modules, names


def _read_weight(f, name, path):
    """A layer's weight from the dense (``weight``) or CSR (``values``, ``col_index``, ``row_ptr``) layout."""
    group = f[name]
    if "weight" in group:
        w = np.asarray(group["weight"], dtype=np.float32)
        if "mask" in group:
            w = w * (np.asarray(group["mask"]) != 0)
        return w
    shape = tuple(int(d) for d in (group.attrs["shape"].decode() if isinstance(group.attrs["shape"], bytes)
                                   else group.attrs["shape"]).split(","))
    rows = shape[0]
    cols = int(np.prod(shape)) // rows
    values = np.asarray(group["values"], dtype=np.float32)
    col = np.asarray(group["col_index"], dtype=np.int64)
    ptr = np.asarray(group["row_ptr"], dtype=np.int64)
    if len(ptr) != rows + 1 or ptr[-1] != len(values) or len(col) != len(values):
        raise ValueError(f"{path}: {name}: CSR arrays do not fit a {list(shape)} weight")
    dense = np.zeros((rows, cols), dtype=np.float32)
    dense[np.repeat(np.arange(rows), np.diff(ptr)), col] = values
    return dense.reshape(shape)


def load_model(path, layers=None):
    """Loads a PruneLab model file (``model.h5``, ``model-sparse.h5``, ``model-compact.h5``) as a torch.nn.Sequential.

    The layer list comes from the file (``layer_specs``) unless ``layers`` is given. Pruned weights
    are zeros. The module is in evaluation mode; it returns PruneLab's logits.
    """
    specs = layers if layers is not None else layer_specs(path)
    modules, names = _modules(specs, path)
    with h5py.File(path, "r") as f:
        fmt = f.attrs.get("format")
        fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
        if fmt not in (DENSE_FORMAT, CSR_FORMAT):
            raise ValueError(f"{path}: format {fmt!r}; load_model reads {DENSE_FORMAT} and {CSR_FORMAT}")
        for index, name in names.items():
            if name not in f:
                raise ValueError(f"{path}: no group {name}, which the layer list has")
            m = modules[index]
            if name.startswith("bn"):
                g = f[name]
                t = {k: torch.from_numpy(np.asarray(g[k], dtype=np.float32)) for k in
                     ("gamma", "beta", "running_mean", "running_var")}
                c = t["gamma"].numel()
                new = type(m)(c, eps=m.eps, momentum=m.momentum)
                with torch.no_grad():
                    new.weight.copy_(t["gamma"])
                    new.bias.copy_(t["beta"])
                    new.running_mean.copy_(t["running_mean"])
                    new.running_var.copy_(t["running_var"])
            else:
                w = torch.from_numpy(_read_weight(f, name, path))
                b = torch.from_numpy(np.asarray(f[name]["bias"], dtype=np.float32))
                if isinstance(m, nn.Conv2d):
                    new = nn.Conv2d(w.shape[1], w.shape[0], m.kernel_size, stride=m.stride, padding=m.padding)
                else:
                    new = nn.Linear(w.shape[1], w.shape[0])
                with torch.no_grad():
                    new.weight.copy_(w)
                    new.bias.copy_(b)
            modules[index] = new
    return nn.Sequential(*modules).eval()
