#!/bin/sh
# The command line: accuracy of the bundled models against what PyTorch
# measured, clear errors and exit codes for bad models, inputs and usage.
set -u
JALAD=${JALAD:-build/jalad}
. "$(dirname "$0")/../integration_lib.sh"
EXPECT_ICASE=1

for net in vgg resnet; do
	model=models/fmnist-$net.onnx
	# The accuracy PyTorch measured for the exported file, stored in it.
	want=$("$JALAD" info "$model" --json | sed -nE 's/.*"jalad.test_accuracy": "([0-9.]+)".*/\1/p')
	got=$("$JALAD" eval "$model" --data fmnist --json | sed -nE 's/.*"accuracy": ([0-9.]+).*/\1/p')
	if [ -z "$got" ] || [ -z "$want" ]; then
		bad "eval $model: got '$got', PyTorch '$want'"
	elif /usr/bin/python3 -c "import sys; sys.exit(0 if abs($got-$want) <= 0.0005 and $got >= 0.92 else 1)"; then
		ok; echo "eval $model: accuracy $got (PyTorch $want)"
	else
		bad "eval $model: accuracy $got, PyTorch measured $want"
	fi
	# The PyTorch reference outputs of the bundled test sets.
	expect 0 "" "$JALAD" conform models/fmnist-$net
done

# Bad models: not ONNX, truncated, empty, missing, unsupported op.
head -c 5000 /dev/urandom >"$tmp/garbage.onnx"
expect 1 "not an ONNX model" "$JALAD" info "$tmp/garbage.onnx"
head -c 20000 models/fmnist-vgg.onnx >"$tmp/trunc.onnx"
expect 1 "format|truncated|ONNX" "$JALAD" run "$tmp/trunc.onnx"
: >"$tmp/empty.onnx"
expect 1 "empty" "$JALAD" info "$tmp/empty.onnx"
expect 1 "cannot open" "$JALAD" info "$tmp/missing.onnx"
# Unsupported op: rename Relu to a made-up op of the same length in the file.
sed 's/Relu/Relx/g' models/fmnist-vgg.onnx >"$tmp/unsup.onnx"
expect 1 "unsupported op 'Relx'" "$JALAD" info "$tmp/unsup.onnx"
# Wrong input shape.
/usr/bin/python3 - "$tmp/x.pb" <<'PY'
import struct, sys
# TensorProto: dims 1,1,27,28 float32 raw zeros
dims = [1, 1, 27, 28]
def varint(v):
    out = b''
    while True:
        b = v & 0x7f; v >>= 7
        if v: out += bytes([b | 0x80])
        else: return out + bytes([b])
msg = b''.join(b'\x08' + varint(d) for d in dims) + b'\x10\x01'
raw = b'\0' * (4 * 27 * 28)
msg += b'\x4a' + varint(len(raw)) + raw
open(sys.argv[1], 'wb').write(msg)
PY
expect 1 "shape" "$JALAD" run models/fmnist-vgg.onnx --input "$tmp/x.pb"
expect 1 "" "$JALAD" run models/fmnist-vgg.onnx --input "$tmp/garbage.onnx"
# Usage errors exit 2.
expect 2 "unknown command" "$JALAD" frobnicate
expect 2 "no model" "$JALAD" run
expect 2 "threads" "$JALAD" run models/fmnist-vgg.onnx --threads zero
expect 2 "data" "$JALAD" eval models/fmnist-vgg.onnx
expect 1 "dataset|spec|unknown" "$JALAD" eval models/fmnist-vgg.onnx --data nosuchset
expect 0 "" "$JALAD" info models/fmnist-resnet.onnx --json
"$JALAD" run models/fmnist-vgg.onnx --random --repeat 3 --json >"$tmp/run.json" 2>&1 &&
	grep -q '"median_ms"' "$tmp/run.json" && grep -q '"runs": 3' "$tmp/run.json" && ok || bad "run --json"
# --min-time: on past --repeat until the timed runs add up to 200 ms (a
# run of this model takes well under 100 ms here)
"$JALAD" run models/fmnist-vgg.onnx --random --repeat 2 --min-time 200 --json >"$tmp/run.json" 2>&1 &&
	runs=$(sed -n 's/.*"runs": \([0-9]*\).*/\1/p' "$tmp/run.json") && [ "${runs:-0}" -gt 2 ] && ok ||
	bad "run --min-time: $(head -c 300 "$tmp/run.json")"
expect 2 "min-time" "$JALAD" run models/fmnist-vgg.onnx --min-time -5

# The options and dataset added for real photos: bad values are usage
# errors naming the option, bad folders failures naming the problem.
M=models/fmnist-vgg.onnx
expect 2 "cuts" "$JALAD" calibrate $M --data fmnist --limit 4 --cuts 9-3
expect 2 "cuts" "$JALAD" calibrate $M --data fmnist --limit 4 --cuts abc
expect 2 "cuts" "$JALAD" calibrate $M --data fmnist --limit 4 --cuts 0-999
expect 2 "jpeg.quality" "$JALAD" calibrate $M --data fmnist --limit 4 --jpeg-quality 101
expect 2 "label.offset" "$JALAD" eval $M --data fmnist --label-offset -1
expect 1 "nonexistent.*cannot open" "$JALAD" eval $M --data imagenet:$tmp/nonexistent
mkdir -p "$tmp/photos"
printf '\211PNG\r\n\032\n' >"$tmp/photos/cat.png"
expect 1 "cat.png.*synset" "$JALAD" eval $M --data imagenet:$tmp/photos
expect 1 "" "$JALAD" run $M --input "$tmp/nonexistent.jpg"
"$JALAD" run $M --random --repeat 1 --check-splits >"$tmp/split.out" 2>&1 &&
	grep -q "0 differ" "$tmp/split.out" && ok || bad "run --check-splits: $(tail -n 2 "$tmp/split.out")"

# Every failure to do what was asked exits non-zero naming the argument:
# conflicting options, options that would be ignored, outputs that cannot
# be written (found before any long work), a missing --cloud.
expect 2 "--input.*--random" "$JALAD" run $M --input "$tmp/missing.pb" --random
expect 2 "--std" "$JALAD" run $M --std 0 --random
expect 2 "--scale" "$JALAD" run $M --scale 2
expect 2 "--mean" "$JALAD" run $M --input "$tmp/x.pb" --mean 0.5
expect 1 "--dump-output.*/nonexistent/o.pb" "$JALAD" run $M --dump-output "$tmp/nonexistent/o.pb"
expect 1 "--dump-input.*is a directory" "$JALAD" run $M --dump-input "$tmp"
expect 1 "--port-file.*/nonexistent/p" timeout 20 "$JALAD" serve $M --listen 127.0.0.1:0 --port-file "$tmp/nonexistent/p"
expect 2 "--cloud.*--plan auto" "$JALAD" edge $M --data fmnist
expect 2 "--cloud.*--plan cloud" "$JALAD" edge $M --data fmnist --plan cloud
expect 2 "--cloud" "$JALAD" edge $M --data fmnist --plan k=3,c=4,coder=raw
expect 1 "--top5.*/nonexistent/t" "$JALAD" eval $M --data fmnist --limit 4 --top5 "$tmp/nonexistent/t"
expect 1 "-o.*/nonexistent/c.json" "$JALAD" calibrate $M --data fmnist --limit 4 -o "$tmp/nonexistent/c.json"
expect 1 "-o.*/nonexistent/p.json" "$JALAD" profile $M --repeat 1 --quiet -o "$tmp/nonexistent/p.json"
expect 2 "--bandwidth or --sweep" "$JALAD" plan --edge e --cloud c --calib k --bandwidth 2mbit --sweep 1mbit:9mbit
expect 2 "--points.*--sweep" "$JALAD" plan --edge e --cloud c --calib k --bandwidth 2mbit --points 10
expect 2 "--out.*--sweep" "$JALAD" plan --edge e --cloud c --calib k --bandwidth 2mbit --out "$tmp/sw"
echo 2mbit >"$tmp/rate"
expect 2 "--rate or --rate-file" timeout 20 "$JALAD" delay --queue 1 --delay 10ms --rate 2mbit --rate-file "$tmp/rate"
# The check leaves no file behind, and keeps an existing one.
[ ! -e "$tmp/new.pb" ] && "$JALAD" run $M --repeat 1 --dump-output "$tmp/new.pb" >/dev/null 2>&1 &&
	[ -s "$tmp/new.pb" ] && ok || bad "run --dump-output to a new file"
expect 2 "" "$JALAD" run $M --dump-output "$tmp/new.pb" --std 1
[ -s "$tmp/new.pb" ] && ok || bad "a refused run emptied its --dump-output file"

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
