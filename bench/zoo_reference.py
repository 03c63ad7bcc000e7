#!/usr/bin/python3
"""Compare jalad's output on the exported zoo models with PyTorch's.

    /usr/bin/python3 models/export_zoo.py resnet18 mobilenet_v2   # first
    /usr/bin/python3 bench/zoo_reference.py [NAME ...] [--jalad build/jalad]

For every models/cache/NAME.onnx that has models/cache/NAME/test_data_set_0/
this runs

    jalad run NAME.onnx --input .../input_0.pb --json --dump-output OUT.pb

and compares OUT.pb with output_0.pb (the logits PyTorch computed):
max relative error = max|a - b| / max|b|, PASS if <= --tol (default 1e-4).
Exit status: 0 all passed, 1 a model failed or jalad is missing, 2 usage.
Needs only numpy and onnx (for TensorProto).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_tensor(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def find_models(cache, names):
    """Return [(name, model_path, test_dir)] for exported models in cache."""
    found = []
    if os.path.isdir(cache):
        for fn in sorted(os.listdir(cache)):
            if not fn.endswith(".onnx"):
                continue
            name = fn[:-len(".onnx")]
            test_dir = os.path.join(cache, name, "test_data_set_0")
            if os.path.isfile(os.path.join(test_dir, "input_0.pb")) and \
               os.path.isfile(os.path.join(test_dir, "output_0.pb")):
                found.append((name, os.path.join(cache, fn), test_dir))
    if names:
        have = {f[0] for f in found}
        missing = [n for n in names if n not in have]
        if missing:
            print(f"zoo_reference: not exported in {cache}: {' '.join(missing)} "
                  f"(run: /usr/bin/python3 models/export_zoo.py {' '.join(missing)})",
                  file=sys.stderr)
        found = [f for f in found if f[0] in names]
    return found


def check_one(jalad, name, model, test_dir, tol, timeout, tmp, verbose):
    """Run jalad on one model; return (ok, message)."""
    out_pb = os.path.join(tmp, f"{name}.out.pb")
    cmd = [jalad, "run", model, "--input", os.path.join(test_dir, "input_0.pb"),
           "--json", "--dump-output", out_pb]
    if verbose:
        print("  $ " + " ".join(cmd), flush=True)
    t0 = time.time()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, text=True)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout} s"
    secs = time.time() - t0
    if p.returncode != 0:
        err = (p.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        return False, f"jalad exited with status {p.returncode}: {err}"
    try:
        json.loads(p.stdout)
    except ValueError:
        if verbose:
            print(f"  note: stdout of --json is not valid JSON: {p.stdout[:200]!r}")
    if not os.path.isfile(out_pb):
        return False, f"jalad wrote no {out_pb} (is --dump-output supported?)"
    try:
        got = read_tensor(out_pb)
    except Exception as e:  # a malformed TensorProto is a failure, not a crash
        return False, f"cannot parse --dump-output file: {e}"
    want = read_tensor(os.path.join(test_dir, "output_0.pb"))
    if got.shape != want.shape:
        return False, f"shape {list(got.shape)}, expected {list(want.shape)}"
    a = got.astype(np.float64)
    b = want.astype(np.float64)
    if not np.all(np.isfinite(a)):
        return False, "output has NaN or Inf"
    denom = float(np.max(np.abs(b)))
    err = float(np.max(np.abs(a - b))) / denom if denom > 0 else \
        float(np.max(np.abs(a - b)))
    same_top1 = int(a.reshape(a.shape[0], -1).argmax(1)[0]) == \
        int(b.reshape(b.shape[0], -1).argmax(1)[0])
    ok = err <= tol
    return ok, (f"max rel err {err:.3e} (tol {tol:g}), top-1 "
                f"{'same' if same_top1 else 'DIFFERS'}, {secs:.2f} s")


def main():
    ap = argparse.ArgumentParser(
        description="Check jalad's outputs on models/cache zoo exports against PyTorch.")
    ap.add_argument("names", nargs="*", metavar="NAME",
                    help="models to check (default: every export in the cache)")
    ap.add_argument("--jalad", default=os.path.join(ROOT, "build", "jalad"))
    ap.add_argument("--cache", default=os.path.join(ROOT, "models", "cache"))
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--timeout", type=float, default=900.0,
                    help="seconds per model (default 900)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    if not (os.path.isfile(args.jalad) and os.access(args.jalad, os.X_OK)):
        print(f"zoo_reference: jalad binary not found at {args.jalad}; "
              f"build it first with `make` (or pass --jalad PATH)", file=sys.stderr)
        return 1
    models = find_models(args.cache, args.names)
    if not models:
        print(f"zoo_reference: no exported models in {args.cache}; run "
              f"/usr/bin/python3 models/export_zoo.py NAME... first", file=sys.stderr)
        return 1

    failed = 0
    with tempfile.TemporaryDirectory(prefix="jalad-zoo-") as tmp:
        for name, model, test_dir in models:
            ok, msg = check_one(args.jalad, name, model, test_dir, args.tol,
                                args.timeout, tmp, args.verbose)
            failed += not ok
            print(f"{'PASS' if ok else 'FAIL'} {name:<14} {msg}", flush=True)
    print(f"{len(models) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
