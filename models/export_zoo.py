#!/usr/bin/python3
"""Export torchvision ImageNet architectures to ONNX, with random weights.

    /usr/bin/python3 models/export_zoo.py resnet18 mobilenet_v2
    /usr/bin/python3 models/export_zoo.py all

The weights are NOT the pretrained ones (no download): each model is built
with weights=None right after torch.manual_seed(0), so the same torch /
torchvision build always gives the same file. These models are for timing,
partitioning and numerical conformance, not for accuracy.

For each NAME this writes (under --out, default models/cache/, git-ignored):
  NAME.onnx                               opset 13, eval, BN folded into Conv,
                                          input "input" [1,3,224,224],
                                          output "logits" [1,1000]
  NAME/test_data_set_0/input_0.pb         random normal input (fixed seed)
  NAME/test_data_set_0/output_0.pb        PyTorch's logits for it
and sets metadata_props with the ImageNet preprocessing (see models/README.md).
The files are large (vgg16 ~553 MB): never commit them.
"""

import argparse
import os
import sys
import time

import numpy as np
import torch
import torchvision

import onnx
from onnx import numpy_helper

# The last three carry the patterns of newer CNNs: squeeze-and-excitation
# gates (a [1,C,1,1] gate times a [1,C,H,W] map) with HardSwish /
# HardSigmoid (mobilenet_v3_small) or SiLU as Sigmoid * x (efficientnet_b0),
# and channel shuffle as Reshape-Transpose-Reshape after a Split
# (shufflenet_v2_x1_0); googlenet has inception-style Concat.
NAMES = ["vgg16", "alexnet", "resnet18", "resnet50", "mobilenet_v2",
         "squeezenet1_1", "googlenet", "densenet121",
         "mobilenet_v3_small", "efficientnet_b0", "shufflenet_v2_x1_0"]
# Models whose own random init lets the activations die out without
# trained batch statistics (logits of 1e-9, or only the classifier's bias):
# their convolutions are re-drawn He-normal (fan-in), which keeps the scale,
# so that a check against PyTorch compares real features.
HE_INIT = {"googlenet", "mobilenet_v3_small", "efficientnet_b0",
           "shufflenet_v2_x1_0"}
WEIGHT_SEED = 0
INPUT_SEED = 1
SHAPE = (1, 3, 224, 224)


def build(name):
    torch.manual_seed(WEIGHT_SEED)
    ctor = getattr(torchvision.models, name)
    if name == "googlenet":
        # No auxiliary heads at inference; init_weights=False silences
        # torchvision's warning (the weights are re-drawn below).
        model = ctor(weights=None, aux_logits=False, init_weights=False)
    else:
        model = ctor(weights=None)
    if name in HE_INIT:
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(m.weight, mode="fan_in",
                                              nonlinearity="relu")
    return model.eval()


def metadata(name):
    return {
        "jalad.preprocess.scale": repr(1.0 / 255.0),
        "jalad.preprocess.mean": "0.485,0.456,0.406",
        "jalad.preprocess.std": "0.229,0.224,0.225",
        "jalad.input.layout": "NCHW",
        "jalad.dataset": "imagenet",
        "jalad.weights": (f"random (torchvision {torchvision.__version__} "
                          f"{name}, weights=None, torch.manual_seed({WEIGHT_SEED})"
                          + (", He-normal convolutions" if name in HE_INIT else "")
                          + ")"),
    }


def reference_input():
    rng = np.random.default_rng(INPUT_SEED)
    return rng.standard_normal(SHAPE).astype(np.float32)


def write_tensor(path, array, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(array, name=name).SerializeToString())


def export(name, out_dir):
    t0 = time.time()
    model = build(name)
    x = torch.from_numpy(reference_input())
    path = os.path.join(out_dir, f"{name}.onnx")
    with torch.no_grad():
        y = model(x).numpy()
        torch.onnx.export(model, x, path, opset_version=13,
                          input_names=["input"], output_names=["logits"],
                          do_constant_folding=True, export_params=True,
                          training=torch.onnx.TrainingMode.EVAL)
    m = onnx.load(path)
    onnx.helper.set_model_props(m, metadata(name))
    onnx.save(m, path)
    # Check by path: works for models of any size.
    onnx.checker.check_model(path)

    d = os.path.join(out_dir, name, "test_data_set_0")
    os.makedirs(d, exist_ok=True)
    write_tensor(os.path.join(d, "input_0.pb"), x.numpy(), "input")
    write_tensor(os.path.join(d, "output_0.pb"), y, "logits")

    ops = {}
    for n in m.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    nparams = sum(p.numel() for p in model.parameters())
    print(f"{name}: {nparams} params, {os.path.getsize(path)} bytes, "
          f"{time.time() - t0:.1f} s -> {path}", flush=True)
    print("  ops: " + " ".join(f"{k}x{v}" for k, v in sorted(ops.items())),
          flush=True)
    return ops


def main():
    ap = argparse.ArgumentParser(
        description="Export torchvision architectures (random weights) to ONNX.")
    ap.add_argument("names", nargs="+", metavar="NAME",
                    help=f"'all' or any of: {' '.join(NAMES)}")
    ap.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "cache"),
        help="output directory (default: models/cache/)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    names = NAMES if "all" in args.names else args.names
    bad = [n for n in names if n not in NAMES]
    if bad:
        ap.error(f"unknown model(s): {' '.join(bad)}; known: {' '.join(NAMES)}")
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    for name in names:
        export(name, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
