#!/bin/sh
# Engine benchmark: jalad (dnnl and ref backends) against ONNX Runtime and
# PyTorch on the same machine, batch 1, in interleaved rounds.
#
#   bench/engine/run.sh [--rounds N] [--runs R] [--min-ms T] [--threads "1 2"]
#                       [--models "resnet50 vgg16 ..."] [--ref-rounds N] [--nice N]
#
# Defaults: 3 rounds, at least 20 timed runs (after 3 warm-up runs, jalad:
# one) per process and on until they add up to 500 ms (--min-ms: a steadier
# median for the fast models, where 20 runs last a few ms),
# threads "1 2", models resnet50 vgg16 mobilenet_v2 mobilenet_v2_tflite
# squeezenet1_1 mobilenet_v3_small efficientnet_b0 shufflenet_v2_x1_0
# googlenet fmnist-vgg fmnist-resnet, jalad ref in the first round only (it is the slow baseline,
# not a target). In the first round jalad dnnl also runs with --profile
# (after its timed runs, which it does not change): the table's "worst op"
# is the op type (a fused group as "Conv+Relu", layout reorders as
# "Reorder") that took the largest share of the node times. "dnnl direct" is the dnnl backend with Winograd off
# (JALAD_DNNL_NOWINOGRAD=1): every convolution on the direct kernels, the
# figure to hold against the FMA peak. Each round runs every model x thread
# count x engine once, in that order, as its own process wrapped in
# /usr/bin/time (peak RSS); "load+create" is jalad's model load plus session
# creation, timed inside `jalad run`, against ONNX Runtime's
# InferenceSession.create from the file; a number in the table is the median over rounds
# of the per-process medians ("dnnl/ORT" divides two such medians, "same-round
# dnnl/ORT" is the median over rounds of the ratio within each round).
# Interleaving spreads slow phases of the machine over all engines.
#
# --nice N runs the benchmark at nice N (negative values need root): the
# whole session's scheduler autogroup (/proc/self/autogroup, restored at
# exit) when the kernel groups sessions, else each process (`nice -n`). On
# a shared machine -20 keeps other jobs from taking the cores mid-run
# (OpenMP's 2-thread runs suffer most: a thread spins at a barrier while
# its partner waits for a core), at the same priority for every engine.
#
# mobilenet_v2_tflite is the real ImageNet model: SHARED/models/
# mobilenet_v2_1.0_224_quant.tflite (SHARED = $JALAD_SHARED or ../shared
# next to the repository, read in place) imported to a float32 ONNX file by
# models/import_tflite.py into models/cache (again when the .tflite or the
# importer is newer); without SHARED it is skipped with one line. PyTorch
# has no such model: its column stays "-".
#
# Needs: build/jalad (made if missing; JALAD=path overrides), node + npm
# (onnxruntime-node is installed into bench/node_modules if missing),
# /usr/bin/python3 with torch, torchvision and onnx (models/export_zoo.py
# writes the zoo models into models/cache if missing).
#
# Output: bench/out/engine/raw.jsonl (one line per process), table.md
# (the markdown table, also printed), peak.json (this machine's FMA peak).
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
ROUNDS=3
RUNS=20
MIN_MS=500
WARMUP=3
THREADS="1 2"
MODELS="resnet50 vgg16 mobilenet_v2 mobilenet_v2_tflite squeezenet1_1 mobilenet_v3_small efficientnet_b0 shufflenet_v2_x1_0 googlenet fmnist-vgg fmnist-resnet"
SHARED=${JALAD_SHARED:-$ROOT/../shared}
TFLITE=$SHARED/models/mobilenet_v2_1.0_224_quant.tflite
REF_ROUNDS=1
NICE=""
JALAD=${JALAD:-build/jalad}
PY=/usr/bin/python3
OUT=bench/out/engine

usage() {
	sed -n '2,48p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--min-ms) MIN_MS=$2; shift 2 ;;
	--threads) THREADS=$2; shift 2 ;;
	--models) MODELS=$2; shift 2 ;;
	--ref-rounds) REF_ROUNDS=$2; shift 2 ;;
	--nice) NICE=$2; shift 2 ;;
	-h|--help) usage ;;
	*) echo "run.sh: unknown option $1" >&2; usage ;;
	esac
done

log() { echo "bench: $*" >&2; }

# ---------------------------------------------------------------- setup
if [ ! -x "$JALAD" ]; then
	log "building $JALAD"
	make -j"$(nproc)" "$JALAD" >&2
fi
if [ ! -d bench/node_modules/onnxruntime-node ]; then
	log "installing onnxruntime-node into bench/node_modules"
	# The plain install fails fetching a CUDA provider; the CPU library
	# ships in the package itself.
	ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix bench --no-save --no-package-lock \
		--no-audit --no-fund onnxruntime-node >&2
fi
missing=""
kept=""
for m in $MODELS; do
	case "$m" in
	fmnist-*) [ -f "models/$m.onnx" ] || { echo "bench: models/$m.onnx is missing (models/train_fmnist.py)" >&2; exit 1; } ;;
	mobilenet_v2_tflite)
		if [ ! -f "$TFLITE" ]; then
			log "SKIP mobilenet_v2_tflite: $TFLITE not found (set JALAD_SHARED)"
			continue
		fi
		if [ ! -f "models/cache/$m.onnx" ] || [ "$TFLITE" -nt "models/cache/$m.onnx" ] ||
		   [ models/import_tflite.py -nt "models/cache/$m.onnx" ]; then
			log "importing $TFLITE into models/cache/$m.onnx"
			mkdir -p models/cache
			$PY models/import_tflite.py "$TFLITE" "models/cache/$m.onnx" >&2
		fi ;;
	*) [ -f "models/cache/$m.onnx" ] || missing="$missing $m" ;;
	esac
	kept="$kept $m"
done
MODELS=${kept# }
[ -n "$MODELS" ] || { echo "bench: no model to run" >&2; exit 1; }
if [ -n "$missing" ]; then
	log "exporting$missing into models/cache"
	$PY models/export_zoo.py $missing >&2
fi
mkdir -p "$OUT"
cc -O2 -march=native bench/engine/fma_peak.c -o "$OUT/fma_peak"
"$OUT/fma_peak" > "$OUT/peak.json"
log "FMA peak: $(cat "$OUT/peak.json")"

model_path() {
	case "$1" in
	fmnist-*) echo "models/$1.onnx" ;;
	*) echo "models/cache/$1.onnx" ;;
	esac
}

TMP=$(mktemp -d)
AUTOGROUP=""
if [ -n "$NICE" ] && [ -w /proc/self/autogroup ]; then
	AUTOGROUP=$(sed -n 's/.*nice \(-\{0,1\}[0-9]*\).*/\1/p' /proc/self/autogroup)
	echo "$NICE" > /proc/self/autogroup || AUTOGROUP=""
fi
restore() {
	[ -n "$AUTOGROUP" ] && echo "$AUTOGROUP" > /proc/self/autogroup
	rm -rf "$TMP"
}
trap restore EXIT

# Input shape and FLOPs of each model.
: > "$OUT/models.jsonl"
for m in $MODELS; do
	p=$(model_path "$m")
	shape=$($PY -c "import onnx,sys; g=onnx.load(sys.argv[1], load_external_data=False).graph; \
init={i.name for i in g.initializer}; i=[x for x in g.input if x.name not in init][0]; \
print(','.join(str(d.dim_value) for d in i.type.tensor_type.shape.dim))" "$p")
	"$JALAD" info "$p" --json > "$TMP/info.json"
	flops=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['total_flops'])" "$TMP/info.json")
	echo "{\"model\": \"$m\", \"shape\": \"$shape\", \"flops\": $flops}" >> "$OUT/models.jsonl"
done

# ---------------------------------------------------------------- runs
RAW="$OUT/raw.jsonl"
: > "$RAW"
: > "$OUT/load.jsonl"

# run ENGINE MODEL THREADS ROUND: one process; appends one JSON line.
run() {
	engine=$1 m=$2 t=$3 r=$4
	p=$(model_path "$m")
	shape=$(grep "\"model\": \"$m\"" "$OUT/models.jsonl" | sed 's/.*"shape": "\([^"]*\)".*/\1/')
	prof=""
	[ "$engine" = dnnl ] && [ "$r" -le 1 ] && prof="--profile"
	case "$engine" in
	dnnl|ref)
		set -- "$JALAD" run "$p" --backend "$engine" --threads "$t" --repeat "$RUNS" --min-time "$MIN_MS" --json $prof ;;
	direct)
		set -- env JALAD_DNNL_NOWINOGRAD=1 "$JALAD" run "$p" --backend dnnl --threads "$t" --repeat "$RUNS" --min-time "$MIN_MS" --json ;;
	ort)
		set -- node bench/engine/ort_run.js "$p" --shape "$shape" --threads "$t" --warmup "$WARMUP" --runs "$RUNS" --min-ms "$MIN_MS" ;;
	torch)
		set -- $PY bench/engine/torch_run.py "$m" --threads "$t" --warmup "$WARMUP" --runs "$RUNS" --min-ms "$MIN_MS" ;;
	esac
	[ -n "$NICE" ] && [ -z "$AUTOGROUP" ] && set -- nice -n "$NICE" "$@"
	if /usr/bin/time -f "%M" -o "$TMP/rss" "$@" > "$TMP/out" 2> "$TMP/err"; then
		rss=$(tail -n 1 "$TMP/rss")
		line=$(grep '^{' "$TMP/out" | tail -n 1)
		echo "{\"engine\": \"$engine\", \"model\": \"$m\", \"threads\": $t, \"round\": $r, \"rss_kb\": $rss, \"result\": $line}" >> "$RAW"
		log "round $r $m ${t}t $engine: $(echo "$line" | sed 's/.*"median_ms": *\([0-9.]*\).*/\1/') ms"
	else
		log "round $r $m ${t}t $engine FAILED: $(tail -n 3 "$TMP/err" | tr '\n' ' ')"
		echo "{\"engine\": \"$engine\", \"model\": \"$m\", \"threads\": $t, \"round\": $r, \"failed\": true}" >> "$RAW"
	fi
}

# Other processes skew everything, OpenMP's 2-thread runs most (a barrier
# waits for a descheduled thread): keep the load average of each round.
r=1
while [ "$r" -le "$ROUNDS" ]; do
	echo "{\"round\": $r, \"loadavg_start\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >> "$OUT/load.jsonl"
	for m in $MODELS; do
		for t in $THREADS; do
			engines="dnnl direct ort"
			# PyTorch builds torchvision architectures: no imported models
			case "$m" in *_tflite) ;; *) engines="$engines torch" ;; esac
			[ "$r" -le "$REF_ROUNDS" ] && engines="$engines ref"
			for e in $engines; do
				run "$e" "$m" "$t" "$r"
			done
		done
	done
	r=$((r + 1))
done

# ---------------------------------------------------------------- table
$PY - "$OUT" "$ROUNDS" "$RUNS" "$MIN_MS" <<'EOF' | tee "$OUT/table.md"
import json, statistics, sys, os
out, rounds, runs, min_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
peak = json.load(open(os.path.join(out, "peak.json")))["gflops_per_core"]
models = [json.loads(l) for l in open(os.path.join(out, "models.jsonl"))]
raw = [json.loads(l) for l in open(os.path.join(out, "raw.jsonl"))]

def pick(engine, m, t, key):
    v = [r["result"][key] for r in raw
         if r["engine"] == engine and r["model"] == m and r["threads"] == t
         and not r.get("failed") and key in r["result"]]
    return statistics.median(v) if v else None

def paired(m, t):
    """Median over rounds of dnnl / ORT within each round (the two ran
    minutes apart at most, in the same phase of the machine)."""
    by = {}
    for r in raw:
        if r["model"] == m and r["threads"] == t and not r.get("failed") and r["engine"] in ("dnnl", "ort"):
            by.setdefault(r["round"], {})[r["engine"]] = r["result"]["median_ms"]
    v = [x["dnnl"] / x["ort"] for x in by.values() if "dnnl" in x and "ort" in x and x["ort"] > 0]
    return statistics.median(v) if v else None

def rss(engine, m, t):
    v = [r["rss_kb"] / 1024 for r in raw
         if r["engine"] == engine and r["model"] == m and r["threads"] == t and not r.get("failed")]
    return max(v) if v else None

def f(x, fmt="%.2f"):
    return "-" if x is None else fmt % x

def worst_op(m, t):
    """The op type with the largest share of dnnl's profiled node times."""
    for r in raw:
        if r["engine"] == "dnnl" and r["model"] == m and r["threads"] == t and \
           not r.get("failed") and r["result"].get("profile", {}).get("op_types"):
            top = r["result"]["profile"]["op_types"][0]
            return f"{top['op']} {100 * top['share']:.0f}%"
    return "-"

load = [json.loads(l)["loadavg_start"].split()[0] for l in open(os.path.join(out, "load.jsonl"))]
print(f"Batch 1, fp32, median ms over {rounds} interleaved rounds of at least {runs} runs and {min_ms} ms "
      f"(jalad ref: first round only). FMA peak measured here: {peak:.0f} GFLOP/s per core "
      f"(PLATFORM.md's Zen 4 figure: 117). Load average at the start of each round: "
      f"{', '.join(load)}.\n")
print("| model | threads | jalad dnnl | dnnl direct | jalad ref | ORT | PyTorch | dnnl/ORT | same-round dnnl/ORT | direct/ORT "
      "| GFLOP/s dnnl, direct (direct % of peak) | load+create ms dnnl / ORT | peak RSS MB dnnl / ORT "
      "| worst op (dnnl) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
threads = sorted({r["threads"] for r in raw})
for md in models:
    m = md["model"]
    for t in threads:
        d, dd, rf, o, pt = (pick(e, m, t, "median_ms") for e in ("dnnl", "direct", "ref", "ort", "torch"))
        # both in-process: jalad's model load + session creation, ORT's
        # InferenceSession.create from the file
        cd, co = pick("dnnl", m, t, "session_create_ms"), pick("ort", m, t, "session_create_ms")
        ld = pick("dnnl", m, t, "model_load_ms")
        cd = cd + ld if cd is not None and ld is not None else None
        rd, ro = rss("dnnl", m, t), rss("ort", m, t)
        ratio = d / o if d and o else None
        dratio = dd / o if dd and o else None
        gf = md["flops"] / (d * 1e6) if d else None
        gfd = md["flops"] / (dd * 1e6) if dd else None
        pct = 100 * gfd / (peak * t) if gfd else None
        print(f"| {m} | {t} | {f(d)} | {f(dd)} | {f(rf)} | {f(o)} | {f(pt)} | {f(ratio, '%.3f')} "
              f"| {f(paired(m, t), '%.3f')} "
              f"| {f(dratio, '%.3f')} | {f(gf, '%.0f')}, {f(gfd, '%.0f')} ({f(pct, '%.0f')}%) "
              f"| {f(cd, '%.0f')} / {f(co, '%.0f')} "
              f"| {f(rd, '%.0f')} / {f(ro, '%.0f')} | {worst_op(m, t)} |")
EOF
