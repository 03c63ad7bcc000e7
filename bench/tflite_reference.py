#!/usr/bin/python3
"""Independent ArmNN reference for jalad's import of a real ImageNet model.

    /usr/bin/python3 bench/tflite_reference.py [--jalad-top5 FILE] [--json]
    /usr/bin/python3 bench/tflite_reference.py --recompute [--jobs 2] [--limit N]

The model is the pretrained uint8 MobileNetV2 (SHARED/models/
mobilenet_v2_1.0_224_quant.tflite, 1001 classes, 0 = background); the photos
are SHARED/imagenet-sample/ (one per class; the i-th file in byte order of the
names is class i + 1). SHARED is ../shared relative to the repository root,
or $JALAD_SHARED, or --shared DIR.

--recompute runs the original .tflite with ArmNN's TFLite parser on the CpuRef
backend (no jalad code involved) on every photo, preprocessed by
bench/imagenet_preprocess.py (the spec the C side implements), and writes the
committed reference bench/ref/mobilenet_v2_quant_armnn_top5.tsv:

    # header comments (model file name and sha256, preprocessing spec version)
    FILENAME<TAB>label<TAB>c1,c2,c3,c4,c5

(top-5 class ids of the uint8 output, ties broken by the lower class id).
CpuRef takes ~4 s per photo; --jobs 2 uses both cores (~35 min for 1000).

Without --recompute it reads that file and compares it with jalad's top-5 TSV
(same format): --jalad-top5 FILE, or else it runs

    build/jalad eval build/mobilenet_v2_quant.onnx \
        --data imagenet:SHARED/imagenet-sample --top5 TMP

(importing the .tflite with models/import_tflite.py first if the .onnx is
missing), and prints accuracy of both against the labels, top-1 agreement
and mean top-5 overlap. Exit status: 0 compared, 1 the files disagree on
photo names or labels, or something is missing or failed; 2 usage.
"""

import argparse
import hashlib
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imagenet_preprocess  # noqa: E402  (bench/imagenet_preprocess.py)

MODEL_NAME = "mobilenet_v2_1.0_224_quant.tflite"
REF_DEFAULT = os.path.join(ROOT, "bench", "ref", "mobilenet_v2_quant_armnn_top5.tsv")
ONNX_DEFAULT = os.path.join(ROOT, "build", "mobilenet_v2_quant.onnx")
INPUT_SIZE = 224


# ---------------------------------------------------------------- photos, TSV

def list_photos(photo_dir):
    """JPEG file names in byte order; the i-th (from 0) is class i + 1."""
    names = [n for n in os.listdir(photo_dir)
             if n.lower().endswith((".jpeg", ".jpg"))
             and os.path.isfile(os.path.join(photo_dir, n))]
    return sorted(names, key=os.fsencode)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def top5(scores):
    """Top-5 class ids, highest score first, ties broken by lower class id."""
    s = np.asarray(scores).reshape(-1).astype(np.int64)
    return [int(i) for i in np.argsort(-s, kind="stable")[:5]]


def read_top5_tsv(path):
    """Return (header_lines, [(file, label, [c1..c5])]) from a top-5 TSV."""
    header, rows = [], []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            if line.startswith("#"):
                header.append(line)
                continue
            parts = line.split("\t")
            try:
                if len(parts) != 3:
                    raise ValueError(f"{len(parts)} tab-separated fields, expected 3")
                classes = [int(c) for c in parts[2].split(",")]
                if len(classes) != 5:
                    raise ValueError(f"{len(classes)} classes, expected 5")
                rows.append((parts[0], int(parts[1]), classes))
            except ValueError as e:
                raise ValueError(f"{path}:{lineno}: {e}: {line!r}") from None
    return header, rows


def header_value(header, key):
    """Value of a '# key: value' header line, or None."""
    for h in header:
        body = h.lstrip("#").strip()
        if body.startswith(key + ":"):
            return body[len(key) + 1:].strip()
    return None


# ---------------------------------------------------------------- ArmNN run

_worker = {}


def _worker_init(model_path):
    """Parse, optimize for CpuRef and load the .tflite (once per process)."""
    import pyarmnn as ann
    parser = ann.ITfLiteParser()
    net = parser.CreateNetworkFromBinaryFile(model_path)
    inputs = parser.GetSubgraphInputTensorNames(0)
    outputs = parser.GetSubgraphOutputTensorNames(0)
    if len(inputs) != 1 or len(outputs) != 1:
        raise RuntimeError(f"expected 1 input and 1 output, got {inputs} {outputs}")
    in_bind = parser.GetNetworkInputBindingInfo(0, inputs[0])
    out_bind = parser.GetNetworkOutputBindingInfo(0, outputs[0])
    ti = in_bind[1]
    shape = tuple(ti.GetShape()[i] for i in range(ti.GetNumDimensions()))
    if shape != (1, INPUT_SIZE, INPUT_SIZE, 3) or \
       ti.GetQuantizationScale() != 1.0 / 128 or ti.GetQuantizationOffset() != 128:
        raise RuntimeError(f"unexpected input {shape} scale {ti.GetQuantizationScale()} "
                           f"zero point {ti.GetQuantizationOffset()}")
    runtime = ann.IRuntime(ann.CreationOptions())
    opt, _ = ann.Optimize(net, [ann.BackendId("CpuRef")], runtime.GetDeviceSpec(),
                          ann.OptimizerOptions())
    net_id, _ = runtime.LoadNetwork(opt)
    _worker.update(ann=ann, runtime=runtime, net_id=net_id,
                   in_bind=in_bind, out_bind=out_bind)


def _worker_run(path):
    """Return (top-5, seconds of inference) for one photo."""
    ann = _worker["ann"]
    x = imagenet_preprocess.preprocess_uint8(path, INPUT_SIZE)
    inputs = ann.make_input_tensors([_worker["in_bind"]], [x])
    outputs = ann.make_output_tensors([_worker["out_bind"]])
    t0 = time.time()
    _worker["runtime"].EnqueueWorkload(_worker["net_id"], inputs, outputs)
    secs = time.time() - t0
    y = ann.workload_tensors_to_ndarray(outputs)[0]
    if y.size != 1001:
        raise RuntimeError(f"output has {y.size} elements, expected 1001")
    return top5(y), secs


def recompute(args, model, photo_dir):
    names = list_photos(photo_dir)
    if not names:
        print(f"tflite_reference: no JPEG photos in {photo_dir}", file=sys.stderr)
        return 1
    labels = {n: i + 1 for i, n in enumerate(names)}
    if args.limit is not None:
        names = names[:args.limit]
    digest = sha256_file(model)
    paths = [os.path.join(photo_dir, n) for n in names]
    print(f"tflite_reference: ArmNN CpuRef on {len(names)} photos, "
          f"{args.jobs} job(s)", file=sys.stderr, flush=True)

    t_start = time.time()
    results, infer_secs, hits1, hits5 = [], [], 0, 0
    if args.jobs > 1:
        ctx = multiprocessing.get_context("fork")
        pool = ctx.Pool(args.jobs, initializer=_worker_init, initargs=(model,))
        it = pool.imap(_worker_run, paths, chunksize=1)
    else:
        pool = None
        _worker_init(model)
        it = map(_worker_run, paths)
    try:
        for i, (name, (classes, secs)) in enumerate(zip(names, it)):
            lab = labels[name]
            results.append((name, lab, classes))
            infer_secs.append(secs)
            hits1 += classes[0] == lab
            hits5 += lab in classes
            done = i + 1
            wall = time.time() - t_start
            eta = wall / done * (len(names) - done)
            print(f"[{done:4d}/{len(names)}] {name} label {lab} top5 "
                  f"{','.join(map(str, classes))} {'ok' if classes[0] == lab else '--'} "
                  f"infer {secs:.2f} s | top-1 {hits1 / done:.3f} top-5 "
                  f"{hits5 / done:.3f} | {wall:.0f} s, ETA {eta:.0f} s",
                  file=sys.stderr, flush=True)
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()

    wall = time.time() - t_start
    import pyarmnn as ann
    out = args.ref
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("# ArmNN reference top-5 for jalad's TFLite import "
                "(bench/tflite_reference.py --recompute)\n")
        f.write(f"# model: {os.path.basename(model)}\n")
        f.write(f"# model_sha256: {digest}\n")
        f.write(f"# preprocess: {imagenet_preprocess.SPEC_VERSION} "
                f"(bench/imagenet_preprocess.py, uint8 NHWC 1x{INPUT_SIZE}x{INPUT_SIZE}x3)\n")
        f.write(f"# runtime: ArmNN {ann.ARMNN_VERSION} TfLiteParser, backend CpuRef\n")
        f.write(f"# photos: {len(names)} from {os.path.basename(os.path.normpath(photo_dir))}/ "
                f"(label = index in byte-sorted file names + 1; 0 = background)\n")
        f.write(f"# accuracy: top-1 {hits1}/{len(names)} top-5 {hits5}/{len(names)}\n")
        f.write("# columns: file<TAB>label<TAB>top-5 class ids of the uint8 output "
                "(ties -> lower id)\n")
        for name, lab, classes in results:
            f.write(f"{name}\t{lab}\t{','.join(map(str, classes))}\n")
    os.replace(tmp, out)
    n = len(names)
    print(f"tflite_reference: wrote {out}: {n} photos, top-1 {hits1 / n:.4f}, "
          f"top-5 {hits5 / n:.4f}; CpuRef inference {np.mean(infer_secs):.2f} s/photo "
          f"(median {np.median(infer_secs):.2f}), wall {wall:.0f} s "
          f"({wall / n:.2f} s/photo with {args.jobs} job(s))", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- compare

def run_jalad(args, model, photo_dir, out_tsv):
    """Produce jalad's top-5 TSV with `jalad eval`; return an error string or None."""
    jalad = args.jalad
    if not (os.path.isfile(jalad) and os.access(jalad, os.X_OK)):
        return f"jalad binary not found at {jalad}; build it with `make` (or pass --jalad-top5)"
    onnx_path = args.onnx
    if not os.path.isfile(onnx_path):
        importer = os.path.join(ROOT, "models", "import_tflite.py")
        cmd = ["/usr/bin/python3", importer, model, onnx_path]
        print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
        os.makedirs(os.path.dirname(os.path.abspath(onnx_path)), exist_ok=True)
        if subprocess.run(cmd).returncode != 0 or not os.path.isfile(onnx_path):
            return f"import failed: {' '.join(cmd)}"
    cmd = [jalad, "eval", onnx_path, "--data", f"imagenet:{photo_dir}", "--top5", out_tsv]
    if args.limit is not None:
        cmd += ["--limit", str(args.limit)]
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    p = subprocess.run(cmd, stdout=sys.stderr)
    if p.returncode != 0:
        return f"jalad eval exited with status {p.returncode}"
    if not os.path.isfile(out_tsv):
        return f"jalad eval wrote no {out_tsv} (is --top5 supported?)"
    return None


def compare(ref_rows, jalad_rows):
    """Return (summary dict, list of problems)."""
    problems = []
    ref = {r[0]: r for r in ref_rows}
    jal = {r[0]: r for r in jalad_rows}
    if len(ref) != len(ref_rows):
        problems.append("reference lists a photo twice")
    if len(jal) != len(jalad_rows):
        problems.append("jalad's TSV lists a photo twice")
    only_ref = [n for n in ref if n not in jal]
    only_jal = [n for n in jal if n not in ref]
    if only_ref:
        problems.append(f"{len(only_ref)} photo(s) only in the reference, "
                        f"e.g. {only_ref[0]}")
    if only_jal:
        problems.append(f"{len(only_jal)} photo(s) only in jalad's TSV, "
                        f"e.g. {only_jal[0]}")
    common = [r[0] for r in ref_rows if r[0] in jal]
    bad_labels = [n for n in common if ref[n][1] != jal[n][1]]
    if bad_labels:
        n = bad_labels[0]
        problems.append(f"{len(bad_labels)} photo(s) with different labels, e.g. {n}: "
                        f"reference {ref[n][1]}, jalad {jal[n][1]}")
    n = len(common)
    s = {"photos": n}
    if n:
        lab = {x: ref[x][1] for x in common}
        s["armnn_top1"] = sum(ref[x][2][0] == lab[x] for x in common) / n
        s["armnn_top5"] = sum(lab[x] in ref[x][2] for x in common) / n
        s["jalad_top1"] = sum(jal[x][2][0] == lab[x] for x in common) / n
        s["jalad_top5"] = sum(lab[x] in jal[x][2] for x in common) / n
        s["top1_agreement"] = sum(ref[x][2][0] == jal[x][2][0] for x in common) / n
        s["top5_overlap_mean"] = float(np.mean(
            [len(set(ref[x][2]) & set(jal[x][2])) / 5 for x in common]))
        s["top1_disagreements"] = [x for x in common if ref[x][2][0] != jal[x][2][0]]
    return s, problems


def print_table(s, ref_path, jalad_path):
    print(f"reference: {ref_path}")
    print(f"jalad:     {jalad_path}")
    print(f"{'photos':<24}{s['photos']:>8}")
    if not s["photos"]:
        return
    for key, title in (("armnn_top1", "ArmNN top-1"), ("armnn_top5", "ArmNN top-5"),
                       ("jalad_top1", "jalad top-1"), ("jalad_top5", "jalad top-5"),
                       ("top1_agreement", "top-1 agreement"),
                       ("top5_overlap_mean", "top-5 overlap mean")):
        print(f"{title:<24}{s[key]:>8.4f}")
    dis = s["top1_disagreements"]
    if dis:
        shown = ", ".join(dis[:5]) + (" ..." if len(dis) > 5 else "")
        print(f"top-1 differs on {len(dis)}: {shown}")


def compare_main(args, model, photo_dir):
    if not os.path.isfile(args.ref):
        print(f"tflite_reference: no reference file {args.ref}; run with --recompute",
              file=sys.stderr)
        return 1
    header, ref_rows = read_top5_tsv(args.ref)
    ref_model = header_value(header, "model")
    ref_sha = header_value(header, "model_sha256")
    if os.path.isfile(model):
        if ref_model and ref_model != os.path.basename(model):
            print(f"tflite_reference: warning: reference is for {ref_model}, "
                  f"not {os.path.basename(model)}", file=sys.stderr)
        elif ref_sha and sha256_file(model) != ref_sha:
            print(f"tflite_reference: warning: {model} does not have the sha256 "
                  f"the reference was computed from ({ref_sha})", file=sys.stderr)
    ref_spec = header_value(header, "preprocess")
    if ref_spec and ref_spec.split()[0] != imagenet_preprocess.SPEC_VERSION:
        print(f"tflite_reference: warning: reference used preprocessing "
              f"{ref_spec.split()[0]}, this is {imagenet_preprocess.SPEC_VERSION}",
              file=sys.stderr)
    if args.limit is not None:
        ref_rows = ref_rows[:args.limit]

    with tempfile.TemporaryDirectory(prefix="jalad-tflite-") as tmp:
        jalad_path = args.jalad_top5
        if jalad_path is None:
            jalad_path = os.path.join(tmp, "jalad_top5.tsv")
            err = run_jalad(args, model, photo_dir, jalad_path)
            if err:
                print(f"tflite_reference: {err}", file=sys.stderr)
                return 1
        try:
            _, jalad_rows = read_top5_tsv(jalad_path)
        except (OSError, ValueError) as e:
            print(f"tflite_reference: cannot read jalad's TSV: {e}", file=sys.stderr)
            return 1
        s, problems = compare(ref_rows, jalad_rows)
        shown_path = args.jalad_top5 or "(jalad eval, temporary)"

    if args.json:
        print(json.dumps({"reference_file": args.ref, "jalad_file": shown_path,
                          **s, "problems": problems}, indent=2))
    else:
        print_table(s, args.ref, shown_path)
    for p in problems:
        print(f"tflite_reference: {p}", file=sys.stderr)
    return 1 if problems or not s["photos"] else 0


def main():
    ap = argparse.ArgumentParser(
        description="ArmNN CpuRef reference top-5 for the uint8 MobileNetV2 "
                    "and comparison with jalad's import.")
    ap.add_argument("--shared", default=os.environ.get("JALAD_SHARED") or
                    os.path.join(ROOT, "..", "shared"),
                    help="shared data directory (default $JALAD_SHARED or ../shared)")
    ap.add_argument("--model", help=f"default SHARED/models/{MODEL_NAME}")
    ap.add_argument("--photos", help="default SHARED/imagenet-sample")
    ap.add_argument("--ref", default=REF_DEFAULT, help="reference TSV (read or written)")
    ap.add_argument("--recompute", action="store_true",
                    help="run ArmNN on the photos and rewrite --ref")
    ap.add_argument("--limit", type=int, help="first N photos only")
    ap.add_argument("--jobs", type=int, default=1, help="processes for --recompute")
    ap.add_argument("--jalad-top5", metavar="FILE", help="jalad's top-5 TSV to compare")
    ap.add_argument("--jalad", default=os.path.join(ROOT, "build", "jalad"))
    ap.add_argument("--onnx", default=ONNX_DEFAULT, help="jalad's imported model")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.limit is not None and args.limit <= 0:
        ap.error("--limit must be positive")
    if args.jobs <= 0:
        ap.error("--jobs must be positive")

    shared = os.path.abspath(args.shared)
    model = args.model or os.path.join(shared, "models", MODEL_NAME)
    photo_dir = args.photos or os.path.join(shared, "imagenet-sample")
    if args.recompute:
        for p, what in ((model, "model"), (photo_dir, "photo directory")):
            if not os.path.exists(p):
                print(f"tflite_reference: {what} not found: {p} (--shared DIR or "
                      f"JALAD_SHARED)", file=sys.stderr)
                return 1
        return recompute(args, model, photo_dir)
    return compare_main(args, model, photo_dir)


if __name__ == "__main__":
    sys.exit(main())
