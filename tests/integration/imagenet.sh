#!/bin/sh
# The real ImageNet model on real photos (../shared): the TFLite import
# against ArmNN's committed top-5, the C preprocessing against the Python
# reference bit for bit, the imagenet:DIR labels, every split of the import
# bit-identical to the full run, and a calibration + plan on a few photos.
# Without ../shared (a fresh clone) it prints one SKIP line and passes.
set -u
JALAD=${JALAD:-build/jalad}
BUILD=${BUILD:-build}
PY=/usr/bin/python3
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${JALAD_SHARED:-$ROOT/../shared}
TFLITE=$SHARED/models/mobilenet_v2_1.0_224_quant.tflite
PHOTOS=$SHARED/imagenet-sample
REF=$ROOT/bench/ref/mobilenet_v2_quant_armnn_top5.tsv
. "$(dirname "$0")/../integration_lib.sh"

if [ ! -f "$TFLITE" ] || [ ! -d "$PHOTOS" ]; then
	echo "SKIP: imagenet: $SHARED (the pretrained model and photos) not found"
	echo "imagenet: 0 passed, 0 failed"
	exit 0
fi

model=$tmp/mobilenet_v2_quant.onnx
if "$PY" "$ROOT/models/import_tflite.py" "$TFLITE" "$model" >"$tmp/imp.log" 2>&1; then
	ok
else
	bad "import_tflite: $(tail -n 3 "$tmp/imp.log")"
	echo "imagenet: $pass passed, $fail failed"
	exit 1
fi

# Preprocessing: C (jalad run --dump-input) against the Python reference,
# bit for bit, on photos of different sizes and a gray one if present.
n=0
for f in $(ls "$PHOTOS" | sed -n '1p;137p;500p;871p;1000p'); do
	"$JALAD" run "$model" --input "$PHOTOS/$f" --repeat 1 --dump-input "$tmp/c.pb" >/dev/null 2>"$tmp/err" ||
		{ bad "run --dump-input $f: $(head -c 300 "$tmp/err")"; continue; }
	"$PY" "$ROOT/bench/imagenet_preprocess.py" "$PHOTOS/$f" "$tmp/p.pb" 2>"$tmp/err" ||
		{ bad "imagenet_preprocess.py $f: $(head -c 300 "$tmp/err")"; continue; }
	if cmp -s "$tmp/c.pb" "$tmp/p.pb" || "$PY" - "$tmp/c.pb" "$tmp/p.pb" <<'EOF'
import sys
import numpy as np
import onnx.numpy_helper as nh
from onnx import TensorProto
def load(p):
    t = TensorProto()
    t.ParseFromString(open(p, "rb").read())
    return nh.to_array(t)
a, b = load(sys.argv[1]), load(sys.argv[2])
sys.exit(0 if a.shape == b.shape and np.array_equal(a, b) else 1)
EOF
	then
		ok; n=$((n + 1))
	else
		bad "preprocessing of $f differs between C and bench/imagenet_preprocess.py"
	fi
done
echo "preprocessing: $n photos bit-identical to the Python reference"

# Labels follow the sorted synsets, offset 1 for the 1001-way output; the
# import's top-1 agrees with ArmNN's run of the original quantized file.
lim=60
if "$JALAD" eval "$model" --data "imagenet:$PHOTOS" --limit $lim --top5 "$tmp/top5.tsv" --json >"$tmp/eval.json" 2>"$tmp/err"; then
	ok
	if awk -F'\t' '{ if ($2 != NR) exit 1 }' "$tmp/top5.tsv" && [ "$(wc -l <"$tmp/top5.tsv")" -eq $lim ]; then
		ok
	else
		bad "imagenet labels: the i-th photo should be class i + 1: $(head -n 3 "$tmp/top5.tsv")"
	fi
	if [ -f "$REF" ]; then
		agree=$(awk -F'\t' 'NR == FNR { if ($0 !~ /^#/) top[$1] = $3; next }
			{ split(top[$1], r, ","); split($3, j, ","); n++; if (r[1] == j[1]) a++ }
			END { printf "%d %d", a, n }' "$REF" "$tmp/top5.tsv")
		a=${agree% *}
		t=${agree#* }
		# the acceptance bar over all 1000 photos is 95%; on 60 photos allow
		# a little sampling noise
		if [ "$t" -eq $lim ] && [ $((a * 100)) -ge $((t * 90)) ]; then
			ok; echo "top-1 agreement with ArmNN on the original file: $a of $t photos"
		else
			bad "top-1 agreement with ArmNN: $a of $t photos (need 90%)"
		fi
	else
		bad "missing committed reference $REF"
	fi
else
	bad "eval imagenet: $(head -c 300 "$tmp/err")"
fi

# Every cut of the import, run as edge [0, k) + cloud [k, n), reproduces
# the full run bit for bit (both backends).
for be in dnnl ref; do
	if "$JALAD" run "$model" --input "$PHOTOS/$(ls "$PHOTOS" | head -n 1)" --repeat 1 --backend $be --threads 1 \
		--check-splits >"$tmp/split.out" 2>"$tmp/err"; then
		ok; grep 'split check' "$tmp/split.out"
	else
		bad "split check ($be): $(cat "$tmp/split.out" "$tmp/err" | tail -n 2)"
	fi
done

# Calibration on real features (a few photos and cuts) feeds the planner;
# the cloud-only payloads include the photo's file and its JPEG re-encode.
if "$JALAD" calibrate "$model" --data "imagenet:$PHOTOS" --limit 24 --cuts 0,10,30,60 --bits 4,8,float \
	--quant tensor --coders raw,huffman,rans0 --timing 4 --quiet -o "$tmp/cal.json" 2>"$tmp/err"; then
	ok
	if "$PY" - "$tmp/cal.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
inp = d["input"]
assert inp["raw_bytes"] == 3 * 224 * 224, inp["raw_bytes"]
assert inp["file"]["mean_bytes"] > 1000 and inp["jpeg"]["quality"] == 95
assert 0 < inp["jpeg"]["mean_bytes"] < inp["png"]["mean_bytes"] < inp["raw_bytes"]
assert inp["u8"]["agree"] >= 20, inp["u8"]
cal = [c["cut"] for c in d["cuts"] if c["supported"] and "cells" in c]
assert cal == [0, 10, 30, 60], cal
assert all(c.get("skipped") for c in d["cuts"] if c["cut"] not in (0, 10, 30, 60, len(d["cuts"]) - 1))
EOF
	then ok; else bad "calibration of the import: unexpected table"; fi
	"$JALAD" profile "$model" --threads 1 --repeat 3 --quiet -o "$tmp/e.json" >/dev/null 2>&1 &&
		"$JALAD" profile "$model" --threads 1 --repeat 3 --quiet -o "$tmp/cl.json" >/dev/null 2>&1 || bad "profile of the import"
	if "$JALAD" plan --edge "$tmp/e.json" --cloud "$tmp/cl.json" --calib "$tmp/cal.json" --bandwidth 1mbit \
		--rtt 20ms --max-loss 1 --json >"$tmp/plan.json" 2>"$tmp/err" &&
		grep -q '"cloud_file"' "$tmp/plan.json" && grep -q '"cloud_jpeg"' "$tmp/plan.json"; then
		ok
	else
		bad "plan with the import's calibration: $(head -c 300 "$tmp/err")"
	fi
else
	bad "calibrate imagenet: $(head -c 300 "$tmp/err")"
fi

echo "imagenet: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
