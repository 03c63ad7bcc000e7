#!/bin/sh
# The planner's command line end to end on the bundled VGG model: profile,
# calibrate (same table on 1 and 2 threads, float accuracy = `jalad eval`),
# plan (JSON keys, loss bound, jalad <= baselines), sweep (CSV, PNG,
# switching table), codec-bench, and clear errors for bad units and for
# malformed or mismatched files. Small --limit: well under a minute.
set -u
JALAD=${JALAD:-build/jalad}
PY=/usr/bin/python3
. "$(dirname "$0")/../integration_lib.sh"
EXPECT_ICASE=1
model=models/fmnist-vgg.onnx

# check DESCRIPTION PYTHON-CODE [FILES...]: the code must exit 0.
check() {
	what=$1; code=$2; shift 2
	if $PY -c "$code" "$@" 2>"$tmp/pyerr"; then
		ok
	else
		bad "$what: $(tail -n 3 "$tmp/pyerr")"
	fi
}

if [ ! -f "$model" ]; then
	echo "plan.sh: $model missing"
	echo "plan.sh: 0 passed, 1 failed"
	exit 1
fi

# ---- profiles
expect 0 "" "$JALAD" profile "$model" --repeat 5 -o "$tmp/cloud.json"
expect 0 "" "$JALAD" profile "$model" --repeat 5 --slowdown 200 --backend ref -o "$tmp/edge.json"
check "profile contents" '
import json, sys
c = json.load(open(sys.argv[1])); e = json.load(open(sys.argv[2]))
assert c["format"] == "jalad-profile" and c["version"] == 1
assert c["model"]["nodes"] == len(c["nodes"]) == 19 and len(c["model"]["sha256"]) == 64
assert e["device"]["slowdown"] == 200 and e["device"]["backend"] == "ref"
for n in e["nodes"]:
    assert abs(n["ms"] - 200 * n["measured_ms"]) <= 1e-6 * max(1, n["ms"]), n
assert all(n["out_bytes"] > 0 for n in c["nodes"])
' "$tmp/cloud.json" "$tmp/edge.json"
expect 0 "" sh -c "'$JALAD' profile '$model' --repeat 2 --quiet > '$tmp/stdout.json'"
check "profile to stdout" 'import json, sys; json.load(open(sys.argv[1]))' "$tmp/stdout.json"

# ---- calibration: deterministic across thread counts, float accuracy = eval
expect 0 "float accuracy" "$JALAD" calibrate "$model" --data fmnist --limit 48 --timing 3 --threads 2 -o "$tmp/cal2.json"
expect 0 "" "$JALAD" calibrate "$model" --data fmnist --limit 48 --timing 3 --threads 1 --quiet -o "$tmp/cal1.json"
check "calibration independent of threads" '
import json, sys
def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if not k.endswith("_ms")}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
assert strip(a) == strip(b)
' "$tmp/cal1.json" "$tmp/cal2.json"
"$JALAD" eval "$model" --data fmnist --limit 48 --json >"$tmp/eval.json" 2>/dev/null
check "calibration float accuracy equals eval" '
import json, sys
c = json.load(open(sys.argv[1])); e = json.load(open(sys.argv[2]))
assert c["float"]["correct"] == e["correct"], (c["float"], e)
assert c["data"]["samples"] == 48 and c["data"]["labelled"] == 48
n = c["model"]["nodes"]
assert len(c["cuts"]) == n + 1
assert c["bits"].count(0) == 1 and len(c["bits"]) == len(c["per_channel"])
assert c["input"]["raw_bytes"] == 784 and 0 < c["input"]["png"]["mean_bytes"] < 784 * 2
for cut in c["cuts"][:n]:
    for cell in cut["cells"]:
        assert len(cell["mean_bytes"]) == len(c["coders"])
        if cell["bits"] == 0:
            assert cell["agree"] == 48 and cell["correct"] == c["float"]["correct"]
        else:
            assert cell["dict"]
' "$tmp/cal2.json" "$tmp/eval.json"
# huffman-2d (c <= 4) is calibrated by default like huffman-shared, with the
# same cross-fitted dictionaries; on a conv feature map (cut 5, after a
# MaxPool) it beats huffman-shared, and auto (which tries both) is never
# larger than either dictionary coder.
check "calibration: huffman-2d and auto" '
import json, sys
c = json.load(open(sys.argv[1]))
co = c["coders"]
assert "huffman-2d" in co and "huffman-shared" in co and "auto" in co, co
j2, js, ja = co.index("huffman-2d"), co.index("huffman-shared"), co.index("auto")
n = c["model"]["nodes"]
for cut in c["cuts"][:n]:
    for cell in cut["cells"]:
        mb = cell["mean_bytes"]
        if 1 <= cell["bits"] <= 4:
            assert mb[j2] > 0 and mb[ja] <= mb[j2] + 1e-6 and mb[ja] <= mb[js] + 1e-6, (cut["cut"], cell["bits"], mb)
        else:
            assert mb[j2] is None, (cut["cut"], cell["bits"], mb)
cell = [x for x in c["cuts"][5]["cells"] if x["bits"] == 4 and not x["per_channel"]][0]
assert cell["mean_bytes"][j2] <= cell["mean_bytes"][js], cell["mean_bytes"]
' "$tmp/cal2.json"
expect 0 "" "$JALAD" calibrate "$model" --data fmnist --limit 8 --bits 4,float --quant tensor --coders rans0,huffman --timing 1 --quiet -o "$tmp/small.json"
check "calibration --bits/--coders/--quant" '
import json, sys
c = json.load(open(sys.argv[1]))
assert c["bits"] == [4, 0] and c["per_channel"] == [False, False] and c["coders"] == ["rans0", "huffman"]
assert "dict" in c["cuts"][3]["cells"][0]
' "$tmp/small.json"

# ---- plan
P="--edge $tmp/edge.json --cloud $tmp/cloud.json --calib $tmp/cal2.json"
for bw in 50kbit 2mbit 1gbit; do
	expect 0 "" "$JALAD" plan $P --bandwidth $bw --rtt 10ms --max-loss 0.02 --json
	cp "$tmp/out" "$tmp/plan-$bw.json"
	check "plan --json at $bw" '
import json, sys
p = json.load(open(sys.argv[1]))
pl = p["plan"]
for k in ("cut", "bits", "coder", "predicted_ms", "accuracy_loss", "breakdown"):
    assert k in pl, k
assert pl["accuracy_loss"] <= 0.02 + 1e-12
b = p["baselines"]
for k in ("edge_only", "cloud_only", "neurosurgeon", "jalad_paper"):
    assert b[k]["predicted_ms"] >= pl["predicted_ms"] - 1e-9, (k, b[k], pl)
bd = pl["breakdown"]
assert abs(sum(bd.values()) - pl["predicted_ms"]) < 1e-3 * max(1, pl["predicted_ms"])
assert b["neurosurgeon"]["accuracy_loss"] == 0 and b["edge_only"]["cut"] == 19
' "$tmp/plan-$bw.json"
done
check "faster link, lower predicted latency" '
import json, sys
t = [json.load(open(f))["plan"]["predicted_ms"] for f in sys.argv[1:]]
assert t[0] >= t[1] >= t[2], t
' "$tmp/plan-50kbit.json" "$tmp/plan-2mbit.json" "$tmp/plan-1gbit.json"
expect 0 "" "$JALAD" plan $P --bandwidth 2mbit --max-loss 1% --coders rans0,huffman-shared,u8
grep -q "jalad (best)" "$tmp/out" && grep -q "neurosurgeon" "$tmp/out" && grep -q "edge-only" "$tmp/out" &&
	grep -q "^plan: cut" "$tmp/out" && ok || bad "plan table: $(head -c 400 "$tmp/out")"
expect 0 "" "$JALAD" plan $P --bandwidth 2mbit --model "$model" --p95

# ---- sweep
expect 0 "" "$JALAD" plan $P --sweep 0.05mbit:200mbit --points 40 --out "$tmp/sweep"
grep -q "switching table" "$tmp/out" && ok || bad "sweep: no switching table: $(head -c 400 "$tmp/out")"
check "sweep CSV and PNG" '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 40
t = [float(r["jalad_ms"]) for r in rows]
assert all(a >= b - 1e-9 for a, b in zip(t, t[1:])), t
for r in rows:
    for k in ("jalad_paper_ms", "neurosurgeon_ms", "edge_only_ms", "cloud_raw_ms", "cloud_png_ms"):
        assert float(r[k]) >= float(r["jalad_ms"]) - 1e-6
assert open(sys.argv[2], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
' "$tmp/sweep.csv" "$tmp/sweep.png"
expect 0 "" "$JALAD" plan $P --sweep 0.05mbit:200mbit --points 10 --out "$tmp/sweep2" --json
check "sweep --json switching table" '
import json, sys
s = json.load(open(sys.argv[1]))
rows = s["switching"]
assert rows and rows[0]["lo_bps"] == 5e4 and rows[-1]["hi_bps"] == 2e8
for a, b in zip(rows, rows[1:]):
    assert a["hi_bps"] == b["lo_bps"]
' "$tmp/out"

# ---- codec-bench
expect 0 "" "$JALAD" codec-bench "$model" --data fmnist --limit 6 --cut 5 --bits 4,8 --json
check "codec-bench --json" '
import json, sys
rows = json.load(open(sys.argv[1]))
assert len(rows) == 2 and [r["bits"] for r in rows] == [4, 8]
for r in rows:
    assert r["cut"] == 5 and r["values"] == 3136
    assert 0 <= r["entropy1"] <= r["entropy0"] + 1e-9 <= r["bits"] + 1e-9
    for k in ("raw", "huffman", "huffman_shared", "rans0", "rans1", "zstd", "auto"):
        assert r["bytes"][k] > 0, k
    assert r["bytes"]["raw"] >= r["values"] * r["bits"] / 8
    # huffman-2d carries 1..4 bits only: null at 8
    if r["bits"] <= 4:
        assert 0 < r["bytes"]["huffman_2d"] <= r["bytes"]["huffman_shared"], r["bytes"]
        assert r["bytes"]["auto"] <= r["bytes"]["huffman_2d"], r["bytes"]
    else:
        assert r["bytes"]["huffman_2d"] is None and r["payload_bytes"]["huffman_2d"] is None, r["bytes"]
' "$tmp/out"
expect 0 "" "$JALAD" codec-bench "$model" --data fmnist --limit 2 --bits 2
grep -q "best/H" "$tmp/out" && grep -q "huff-2d" "$tmp/out" && ok || bad "codec-bench table"
# Cut 1 is a Conv output only a ReLU reads (the range of max(x, 0) is coded,
# the same symbols as cut 2 after the ReLU); cut 5 (after a MaxPool) is not.
expect 0 "" "$JALAD" codec-bench "$model" --data fmnist --limit 6 --bits 4 --json
check "codec-bench ReLU-aware ranges against the paper's scheme" '
import json, sys
rows = {r["cut"]: r for r in json.load(open(sys.argv[1]))}
c1, c2, c5 = rows[1], rows[2], rows[5]
assert c1["bytes"]["huffman"] == c2["bytes"]["huffman"] and c1["entropy0"] == c2["entropy0"]
assert c1["bytes"]["jalad_paper"] > 1.1 * c1["bytes"]["huffman"], c1["bytes"]
assert c5["bytes"]["jalad_paper"] == c5["bytes"]["huffman"]
for r in rows.values():
    assert abs(r["best_vs_paper"] - min(r["bytes"][k] for k in r["bytes"] if k != "jalad_paper") / r["bytes"]["jalad_paper"]) < 1e-4
' "$tmp/out"

# ---- errors: usage (2) and refused files (1)
expect 2 "no unit" "$JALAD" plan $P --bandwidth 2
expect 2 "unknown unit" "$JALAD" plan $P --bandwidth 2mb
expect 2 "unknown unit" "$JALAD" plan $P --bandwidth 2mbit --rtt 40min
expect 2 "no unit" "$JALAD" plan $P --bandwidth 2mbit --rtt 40
expect 2 "max-loss" "$JALAD" plan $P --bandwidth 2mbit --max-loss 5
expect 2 "bogus" "$JALAD" plan $P --bandwidth 2mbit --coders rans0,bogus
expect 2 "sweep" "$JALAD" plan $P --sweep 2mbit
expect 2 "required" "$JALAD" plan --edge "$tmp/edge.json" --bandwidth 2mbit
expect 2 "bits" "$JALAD" calibrate "$model" --data fmnist --bits 9
expect 2 "data" "$JALAD" calibrate "$model"
expect 2 "slowdown" "$JALAD" profile "$model" --slowdown 0
expect 2 "cut" "$JALAD" codec-bench "$model" --data fmnist --cut 99
# Table-driven options (tool_opts): a missing or bad value is a usage error.
expect 2 "limit needs a number >= 1" "$JALAD" calibrate "$model" --data fmnist --limit
expect 2 "limit needs a number >= 1" "$JALAD" codec-bench "$model" --data fmnist --limit 0
expect 2 "data needs a dataset" "$JALAD" codec-bench "$model" --data
expect 2 "edge needs a profile" "$JALAD" plan --edge
expect 2 "points needs a number" "$JALAD" plan $P --sweep 1mbit:2mbit --points=1
expect 1 "cannot open" "$JALAD" plan --edge "$tmp/nope.json" --cloud "$tmp/cloud.json" --calib "$tmp/cal2.json" --bandwidth 2mbit
sed 's/"version":	1/"version":	2/' "$tmp/edge.json" >"$tmp/v2.json"
expect 1 "version 2" "$JALAD" plan --edge "$tmp/v2.json" --cloud "$tmp/cloud.json" --calib "$tmp/cal2.json" --bandwidth 2mbit
sed 's/"version":	4/"version":	3/' "$tmp/cal2.json" >"$tmp/cal-v2.json"
expect 1 "version 3.*re-run jalad calibrate" "$JALAD" plan --edge "$tmp/edge.json" --cloud "$tmp/cloud.json" --calib "$tmp/cal-v2.json" --bandwidth 2mbit
head -c 3000 "$tmp/cal2.json" >"$tmp/trunc.json"
expect 1 "truncated" "$JALAD" plan --edge "$tmp/edge.json" --cloud "$tmp/cloud.json" --calib "$tmp/trunc.json" --bandwidth 2mbit
sed 's/"nodes":	19/"nodes":	18/' "$tmp/cloud.json" >"$tmp/n18.json"
expect 1 "18 nodes" "$JALAD" plan --edge "$tmp/edge.json" --cloud "$tmp/n18.json" --calib "$tmp/cal2.json" --bandwidth 2mbit
$PY - "$tmp/cloud.json" "$tmp/other.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["model"]["sha256"] = "ab" * 32
json.dump(p, open(sys.argv[2], "w"))
PY
expect 1 "different models" "$JALAD" plan --edge "$tmp/edge.json" --cloud "$tmp/other.json" --calib "$tmp/cal2.json" --bandwidth 2mbit
expect 1 "another model" "$JALAD" plan --edge "$tmp/other.json" --cloud "$tmp/other.json" --calib "$tmp/cal2.json" --bandwidth 2mbit --model "$model"
expect 1 "jalad-calibration" "$JALAD" plan --edge "$tmp/edge.json" --cloud "$tmp/cloud.json" --calib "$tmp/cloud.json" --bandwidth 2mbit
if [ -f models/fmnist-resnet.onnx ]; then
	expect 1 "another model" "$JALAD" plan $P --bandwidth 2mbit --model models/fmnist-resnet.onnx
fi
for c in profile calibrate plan codec-bench; do
	expect 0 "" "$JALAD" $c --help
done

echo "plan.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
