"""Reference side of PruneLab's torch and ONNX tests (TorchRoundTripTests, ModelExportTests).

    python3 python/test_prunelab_torch.py export OUT_DIR BATCH.h5   # torch LeNet-5 -> OUT_DIR/{layers.json,init.h5,logits.h5}
    python3 python/test_prunelab_torch.py export-all OUT_DIR BATCH.h5   # the same for a net of every supported layer
    python3 python/test_prunelab_torch.py logits MODEL.h5 BATCH.h5 OUT.h5   # prunelab_torch.load_model's logits
    python3 python/test_prunelab_torch.py errors     # export_sequential's ValueErrors, one per line
    python3 python/test_prunelab_torch.py onnx BATCH.h5 OUT.h5 NAME=FILE.onnx ...   # onnx.checker, onnxruntime logits

BATCH.h5 holds ``x`` (float32 ``[N, C, H, W]``); every result is written as float32 datasets for
the Swift side to compare with PruneLab's own numbers.
"""

import json
import os
import sys

import h5py
import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prunelab_torch as pt  # noqa: E402


def batch(path):
    with h5py.File(path, "r") as f:
        return np.asarray(f["x"], dtype=np.float32)


def lenet5():
    """Caffe's LeNet-5 as PruneLab's preset `lenet-5` has it: convolutions without activation."""
    torch.manual_seed(7)
    return nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))


def logits(module, x):
    with torch.no_grad():
        return module.eval()(torch.from_numpy(x)).numpy()


def export(out_dir, batch_path):
    net = lenet5()
    section = pt.export_sequential(net, (1, 28, 28), out_dir)
    assert section["init_file"] == os.path.abspath(os.path.join(out_dir, "init.h5"))
    with open(os.path.join(out_dir, "layers.json")) as f:
        assert json.load(f) == section["layers"]
    with h5py.File(os.path.join(out_dir, "logits.h5"), "w") as f:
        f["logits"] = logits(net, batch(batch_path))
    print("exported", len(section["layers"]), "layers")


def every_layer():
    """Every supported layer: bias-free padded conv, batch norms with non-trivial running statistics,
    activations after a pool and a dropout (moved before them), tanh, sigmoid, dropout after flatten."""
    torch.manual_seed(11)
    net = nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6, eps=1e-3, momentum=0.2), nn.MaxPool2d(2),
        nn.ReLU(), nn.Conv2d(6, 8, 3, stride=2), nn.Sigmoid(), nn.Flatten(), nn.Dropout(0.3),
        nn.Linear(8 * 6 * 6, 32), nn.BatchNorm1d(32), nn.Tanh(), nn.Linear(32, 16), nn.Dropout(0.2), nn.ReLU(),
        nn.Linear(16, 10))
    with torch.no_grad():
        for bn in (net[1], net[9]):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 2.0)
    return net


def export_all(out_dir, batch_path):
    net = every_layer()
    section = pt.export_sequential(net, (1, 28, 28), out_dir)
    x = batch(batch_path)
    expected = logits(net, x)
    # the init file and layer list load back into torch with the same outputs
    back = logits(pt.load_model(section["init_file"], layers=section["layers"]), x)
    assert np.abs(back - expected).max() <= 1e-6, np.abs(back - expected).max()
    with h5py.File(os.path.join(out_dir, "logits.h5"), "w") as f:
        f["logits"] = expected
    print(json.dumps(section["layers"]))


def load_logits(model_path, batch_path, out_path):
    net = pt.load_model(model_path)
    with h5py.File(out_path, "w") as f:
        f["logits"] = logits(net, batch(batch_path))
    print(net)


def errors():
    cases = [
        (nn.Sequential(nn.Conv2d(1, 4, 3), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4 * 13 * 13, 10)), (1, 28, 28)),
        (nn.Sequential(nn.Conv2d(1, 4, (3, 5)), nn.Flatten(), nn.Linear(10, 10)), (1, 28, 28)),
        (nn.Sequential(nn.Conv2d(1, 4, 3), nn.Linear(26, 10)), (1, 28, 28)),
        (nn.Sequential(nn.Linear(784, 10), nn.Softmax(dim=1)), (784,)),
        (nn.Sequential(nn.Linear(784, 10), nn.ReLU()), (784,)),
        (nn.Sequential(nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(196, 10)), (1, 28, 28)),
    ]
    for module, shape in cases:
        try:
            pt.export_sequential(module, shape, "/nonexistent/never-written")
            print("no error")
        except ValueError as e:
            print(str(e).replace("\n", " "))


def onnx_logits(batch_path, out_path, pairs):
    import onnx
    import onnxruntime as ort

    x = batch(batch_path)
    with h5py.File(out_path, "w") as f:
        for pair in pairs:
            name, path = pair.split("=", 1)
            onnx.checker.check_model(onnx.load(path), full_check=True)
            session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            (out,) = session.run(["logits"], {"input": x})
            f[name] = out.astype(np.float32)
    print("checked", len(pairs), "models")


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "export":
        export(*args)
    elif mode == "export-all":
        export_all(*args)
    elif mode == "logits":
        load_logits(*args)
    elif mode == "errors":
        errors()
    elif mode == "onnx":
        onnx_logits(args[0], args[1], args[2:])
    else:
        sys.exit(f"unknown mode {mode}")
