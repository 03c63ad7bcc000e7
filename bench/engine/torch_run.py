#!/usr/bin/python3
"""Time one model on PyTorch (eager, inference mode), the peer for jalad.

    /usr/bin/python3 bench/engine/torch_run.py NAME [--threads N]
                     [--warmup W] [--runs R] [--min-ms T]

NAME is a torchvision architecture (resnet50, vgg16, mobilenet_v2,
squeezenet1_1, ...) built exactly as models/export_zoo.py builds it
(weights=None after torch.manual_seed(0)), or fmnist-vgg / fmnist-resnet
from models/train_fmnist.py (untrained weights: only the time matters).
Batch 1, fixed pseudo-random input, torch.set_num_threads(N) (Debian's
PyTorch defaults to one thread). Prints one JSON line: {"engine": "torch",
"median_ms", "min_ms", "session_create_ms" (model construction), "runs",
"threads", "version"}. --min-ms T: timed runs go on past R until they add
up to T ms (at most 1000000 runs), as `jalad run --min-time` does.
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build(name):
    torch.manual_seed(0)
    if name.startswith("fmnist-"):
        sys.path.insert(0, os.path.join(ROOT, "models"))
        import train_fmnist  # noqa: E402  (the training script's models)
        return train_fmnist.build(name[len("fmnist-"):]).eval(), (1, 1, 28, 28)
    import torchvision
    return getattr(torchvision.models, name)(weights=None).eval(), (1, 3, 224, 224)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("name")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--min-ms", type=float, default=0.0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    model, shape = build(a.name)
    create_ms = (time.perf_counter() - t0) * 1e3
    g = torch.Generator().manual_seed(42)
    x = torch.rand(shape, generator=g) * 4 - 2
    times = []
    with torch.inference_mode():
        for _ in range(a.warmup):
            model(x)
        total = 0.0
        while len(times) < a.runs or (total < a.min_ms and len(times) < 1000000):
            t = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - t) * 1e3)
            total += times[-1]
    print(json.dumps({
        "engine": "torch", "model": a.name, "threads": a.threads, "runs": len(times),
        "median_ms": statistics.median(times), "min_ms": min(times),
        "session_create_ms": create_ms, "version": torch.__version__,
    }))


if __name__ == "__main__":
    main()
