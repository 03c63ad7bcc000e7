#!/bin/sh
# models/import_tflite.py: tiny TFLite models written by make_tflite.py
# (float, layout traps, uint8/int8 quantized with per-channel weights) must
# import, load in jalad and match make_tflite.py's numpy reference within
# 1e-4 on both backends; unsupported ops and types, broken files and bad
# usage must fail with a clear message and the right exit status. Then, if
# the shared MobileNetV2 (SHARED/models/mobilenet_v2_1.0_224_quant.tflite,
# SHARED = $JALAD_SHARED or ../shared next to the repository) is there, it
# must import and load as a 1001-class classifier. Needs python3-flatbuffers,
# python3-onnx and python3-numpy (scripts/deps.sh); no network.
set -u
JALAD=${JALAD:-build/jalad}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${JALAD_SHARED:-$ROOT/../shared}
PY=/usr/bin/python3
IMPORT="$ROOT/models/import_tflite.py"
MAKE="$ROOT/tests/integration/make_tflite.py"
. "$(dirname "$0")/../integration_lib.sh"

# has_meta MODEL KEY VALUE: `jalad info` shows metadata KEY = VALUE.
has_meta() {
	if "$JALAD" info "$1" 2>&1 | grep -qF "metadata: $2 = $3"; then
		ok
	else
		bad "$1: no metadata '$2 = $3'"
	fi
}

if ! $PY -c 'import flatbuffers, onnx, numpy' 2>"$tmp/err"; then
	bad "needs python3-flatbuffers, python3-onnx, python3-numpy (scripts/deps.sh):" \
		"$(tail -n 1 "$tmp/err")"
	echo "tflite: $pass passed, $fail failed"
	exit 1
fi

# 1. Tiny models with a numpy reference.
for kind in float layout quant; do
	d=$tmp/$kind
	mkdir -p "$d"
	if ! $PY "$MAKE" "$kind" "$d" 2>"$tmp/err"; then
		bad "make_tflite.py $kind: $(tail -n 3 "$tmp/err")"
		continue
	fi
	expect 0 "" $PY "$IMPORT" "$d/model.tflite" "$d/model.onnx"
	[ -f "$d/model.onnx" ] || continue
	expect 0 "" "$JALAD" info "$d/model.onnx"
	for backend in dnnl ref; do
		if "$JALAD" run "$d/model.onnx" --input "$d/input.pb" --backend $backend --repeat 1 \
			--dump-output "$d/got.pb" >"$tmp/out" 2>&1 &&
			$PY "$MAKE" compare "$d/got.pb" "$d/expected.pb" 1e-4 >>"$tmp/out" 2>&1; then
			ok; echo "$kind ($backend): $(tail -n 1 "$tmp/out")"
		else
			bad "$kind ($backend): $(tail -n 3 "$tmp/out")"
		fi
	done
done
if [ -f "$tmp/float/model.onnx" ]; then
	expect 0 "" "$JALAD" run "$tmp/float/model.onnx" --random --repeat 1
	has_meta "$tmp/float/model.onnx" jalad.preprocess.mean 127.5
	has_meta "$tmp/float/model.onnx" jalad.preprocess.std 127.5
	has_meta "$tmp/float/model.onnx" jalad.preprocess.crop central:0.875
	has_meta "$tmp/float/model.onnx" jalad.labels.offset 0
	"$JALAD" info "$tmp/float/model.onnx" 2>&1 |
		grep -q "metadata: jalad.preprocess.note = float32 TFLite input" &&
		ok || bad "float import: no jalad.preprocess.note"
fi
if [ -f "$tmp/quant/model.onnx" ]; then
	# uint8 input, scale 1/128, zero point 128: x = (pixel - 128) / 128.
	has_meta "$tmp/quant/model.onnx" jalad.preprocess.scale 1
	has_meta "$tmp/quant/model.onnx" jalad.preprocess.mean 128
	has_meta "$tmp/quant/model.onnx" jalad.preprocess.std 128
	# conv0's range [0, 6] implies a ReLU6 (expected.pb has it), dw1's
	# ReLU and the mean are bounded above; the logits' range is not clipped.
	has_meta "$tmp/quant/model.onnx" jalad.import.range_clips "relu: 3 clips"
fi

# Refused: unsupported ops, named as the schema names them; int16 tensors.
for kind in lstm custom gelu int16; do
	$PY "$MAKE" $kind "$tmp/$kind.tflite" || bad "make_tflite.py $kind"
done
expect 1 "unsupported op LSTM \(builtin code 16\) at operator 1" \
	$PY "$IMPORT" "$tmp/lstm.tflite" "$tmp/x.onnx"
expect 1 "unsupported op CUSTOM 'MyCustomOp' \(builtin code 32\) at operator 1" \
	$PY "$IMPORT" "$tmp/custom.tflite" "$tmp/x.onnx"
# Codes above 127 live only in the int32 builtin_code field.
expect 1 "unsupported op GELU \(builtin code 150\) at operator 1" \
	$PY "$IMPORT" "$tmp/gelu.tflite" "$tmp/x.onnx"
expect 1 "unsupported tensor type INT16" $PY "$IMPORT" "$tmp/int16.tflite" "$tmp/x.onnx"
[ -f "$tmp/x.onnx" ] && bad "a refused import left $tmp/x.onnx behind" || ok

# Broken files, missing files, usage.
if [ -f "$tmp/float/model.tflite" ]; then
	head -c 1500 "$tmp/float/model.tflite" >"$tmp/trunc.tflite"
	expect 1 "truncated|corrupt|well-formed" $PY "$IMPORT" "$tmp/trunc.tflite" "$tmp/x.onnx"
fi
head -c 5000 /dev/urandom >"$tmp/garbage.tflite"
expect 1 "not a TFLite|TFL3" $PY "$IMPORT" "$tmp/garbage.tflite" "$tmp/x.onnx"
: >"$tmp/empty.tflite"
expect 1 "not a TFLite" $PY "$IMPORT" "$tmp/empty.tflite" "$tmp/x.onnx"
expect 1 "cannot read" $PY "$IMPORT" "$tmp/missing.tflite" "$tmp/x.onnx"
expect 2 "usage" $PY "$IMPORT"
expect 2 "usage" $PY "$IMPORT" "$tmp/garbage.tflite" "$tmp/x.onnx" --range-clips sometimes

# 2. The real model, if the shared folder is there.
real=$SHARED/models/mobilenet_v2_1.0_224_quant.tflite
if [ ! -f "$real" ]; then
	echo "SKIP: $real not found"
else
	out=$tmp/mobilenet_v2_quant.onnx
	expect 0 "" $PY "$IMPORT" "$real" "$out"
	if [ -f "$out" ]; then
		if "$JALAD" info "$out" >"$tmp/info" 2>&1 &&
			grep -qE '^total: [0-9]+ nodes' "$tmp/info"; then
			ok
		else
			bad "jalad info $out: $(tail -n 3 "$tmp/info")"
		fi
		"$JALAD" run "$out" --random --repeat 1 >"$tmp/run" 2>&1 &&
			grep -q "output: 1x1001 (float32)" "$tmp/run" &&
			ok || bad "jalad run $out --random: $(head -n 3 "$tmp/run")"
		has_meta "$out" jalad.preprocess.mean 128
		has_meta "$out" jalad.preprocess.std 128
		has_meta "$out" jalad.labels.offset 1
		has_meta "$out" jalad.preprocess.crop central:0.875
	fi
fi

echo "tflite: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
