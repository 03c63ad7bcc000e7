#!/bin/sh
# make demo-imagenet: JALAD in the regime it was built for, a pretrained
# ImageNet MobileNetV2 on real photos, split between an emulated Raspberry
# Pi 4 (the edge) and this machine (the cloud).
#
#   make demo-imagenet [MODEL=FILE.tflite|FILE.onnx] [DATA=DIR] [LIMIT=N]
#
# MODEL defaults to ../shared/models/mobilenet_v2_1.0_224_quant.tflite
# (imported with models/import_tflite.py), DATA to ../shared/imagenet-sample
# (photos named nSYNSET_*.JPEG; `jalad ... --data imagenet:DIR`).
#  1. import the model (a .tflite) and check every split is bit-exact;
#  2. calibrate LIMIT photos (default 200): accuracy loss and compressed
#     bytes at every single-tensor cut and bit width, and the cloud-only
#     payloads (the photo's own JPEG, a JPEG re-encode, PNG, raw 8-bit);
#  3. profile this machine (the cloud) and an edge EDGE_MS milliseconds per
#     image (default: a Raspberry Pi 4, see docs/imagenet.md);
#  4. print the planner's choice from 50 kbit/s to 100 Mbit/s;
#  5. as root: serve the model in one network namespace and run an edge
#     with --plan auto on the photos in another, over a tbf link at three
#     uplink rates, and compare measured with predicted latency.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
JALAD=$BUILD/jalad
PY=/usr/bin/python3
SHARED=${JALAD_SHARED:-../shared}
MODEL=${MODEL:-$SHARED/models/mobilenet_v2_1.0_224_quant.tflite}
DATA=${DATA:-$SHARED/imagenet-sample}
LIMIT=${LIMIT:-200}
REQUESTS=${REQUESTS:-60}
RTT=${RTT:-20ms}
# A Raspberry Pi 4 runs this MobileNetV2 in about EDGE_MS (docs/imagenet.md
# gives the source); the emulated edge is that much slower than this machine.
EDGE_MS=${EDGE_MS:-}
OUT=$BUILD/imagenet
LINK=""
SRV=""

cleanup() {
	[ -z "$SRV" ] || kill "$SRV" 2>/dev/null || true
	wait 2>/dev/null || true
	[ -z "$LINK" ] || scripts/netlink.sh down "$LINK" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$JALAD" ] || { echo "demo-imagenet: $JALAD is not built (run make)"; exit 1; }
if [ ! -f "$MODEL" ] || [ ! -d "$DATA" ]; then
	echo "demo-imagenet: needs a model and photos: MODEL=$MODEL DATA=$DATA"
	echo "  (../shared holds them on the project's machines; give MODEL=FILE DATA=DIR elsewhere)"
	exit 1
fi
mkdir -p "$OUT"
t0=$(date +%s)
[ -n "$EDGE_MS" ] || EDGE_MS=$(sed -n 's/^pi4_mobilenet_v2_ms=//p' docs/imagenet.md | head -n 1)
[ -n "$EDGE_MS" ] || EDGE_MS=100

case "$MODEL" in
*.tflite)
	onnx=$OUT/$(basename "$MODEL" .tflite).onnx
	echo "== 1. import $MODEL"
	if [ ! -f "$onnx" ] || [ "$onnx" -ot "$MODEL" ] || [ "$onnx" -ot models/import_tflite.py ]; then
		$PY models/import_tflite.py "$MODEL" "$onnx" 2>&1 | sed 's/^/   /'
	fi
	;;
*) onnx=$MODEL ;;
esac
"$JALAD" run "$onnx" --input "$DATA/$(ls "$DATA" | head -n 1)" --repeat 1 --threads 1 --check-splits | sed 's/^/   /'

calib=$OUT/calib-$LIMIT.json
echo "== 2. calibration on $LIMIT photos of $DATA (cached in $calib)"
if [ ! -f "$calib" ] || [ "$calib" -ot "$onnx" ]; then
	"$JALAD" calibrate "$onnx" --data "imagenet:$DATA" --limit "$LIMIT" --cuts single --bits 2-8,float --quant tensor \
		--coders raw,huffman,huffman-shared,rans0,rans1,huffman-2d,auto --size-limit 200 --timing 16 \
		--jpeg-quality 95 \
		-o "$calib" 2>"$OUT/calib.log" || { tail "$OUT/calib.log"; exit 1; }
fi
tail -n 4 "$OUT/calib.log" 2>/dev/null | sed 's/^/   /' || true

echo "== 3. profiles: this machine (cloud) and an edge of ~$EDGE_MS ms per image"
"$JALAD" profile "$onnx" --threads 1 --repeat 30 --quiet -o "$OUT/cloud.json"
run_ms=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['total_ms'])" "$OUT/cloud.json")
F=$($PY -c "print(round($EDGE_MS / $run_ms, 1))")
"$JALAD" profile "$onnx" --threads 1 --repeat 30 --slowdown "$F" --quiet -o "$OUT/edge.json"
echo "   whole model here: $run_ms ms (1 thread); emulated edge: ${F}x slower"

echo "== 4. the planner's choice (RTT $RTT, accuracy loss <= 1 point)"
$PY scripts/plan_table.py --jalad "$JALAD" --edge "$OUT/edge.json" --cloud "$OUT/cloud.json" --calib "$calib" \
	--rtt "$RTT" --bandwidths 50kbit,200kbit,1mbit,5mbit,20mbit,100mbit | sed 's/^/   /'

if [ "$(id -u)" != 0 ] || ! ip netns add jalad-dimg-probe 2>/dev/null; then
	echo "== 5. skipped: the emulated link needs root (network namespaces)"
	exit 0
fi
ip netns del jalad-dimg-probe
LINK=dimg
echo "== 5. runtime over a namespace link (tbf, RTT $RTT), $REQUESTS photos per uplink"
eval "$(scripts/netlink.sh up $LINK --rate 5mbit --rtt $RTT 2>/dev/null)"
ip netns exec "$CLOUD_NS" "$JALAD" serve "$onnx" --listen "$CLOUD_IP:7070" --allow-remote --workers 1 \
	--calib "$calib" --stats-interval 0 >/dev/null 2>"$OUT/serve.log" &
SRV=$!
sleep 1
printf '   %-10s %-40s %12s %12s %8s %6s\n' uplink "plan used most" "predicted" "measured p50" "acc" "lost"
for bw in 1mbit 5mbit 20mbit; do
	scripts/netlink.sh rate $LINK $bw
	ip netns exec "$EDGE_NS" "$JALAD" edge "$onnx" --cloud "$CLOUD_IP:7070" --data "imagenet:$DATA" --json \
		--limit "$REQUESTS" --plan auto --init-bw $bw --edge-profile "$OUT/edge.json" \
		--cloud-profile "$OUT/cloud.json" --calib "$calib" --slowdown "$F" >"$OUT/edge-$bw.json" 2>"$OUT/edge-$bw.err" ||
		{ echo "   edge at $bw failed: $(tail -n 2 "$OUT/edge-$bw.err")"; continue; }
	$PY - "$OUT/edge-$bw.json" "$bw" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
reqs = [r for r in rows if not r.get("summary")]
summ = [r for r in rows if r.get("summary")]
def name(r):
    if r.get("coder") == "none":
        return "edge-only"
    pay = r.get("payload", "container")
    if pay not in ("container", None):
        return "cloud-only " + pay
    return f"cut {r['cut']}, {r['bits'] or 'f32'} bits, {r['coder']}"
used = {}
for r in reqs:
    used[name(r)] = used.get(name(r), 0) + 1
top = max(used, key=used.get) if used else "-"
pred = [r["predicted_ms"] for r in reqs if r.get("predicted_ms") is not None]
p50 = statistics.median(r["total_ms"] for r in reqs) if reqs else float("nan")
acc = sum(1 for r in reqs if r.get("correct")) / max(1, len(reqs))
lost = (summ[0].get("lost", 0) if summ else "?")
print(f"   {sys.argv[2]:<10} {top:<40} {statistics.median(pred) if pred else float('nan'):10.1f}ms "
      f"{p50:10.1f}ms {acc:8.3f} {lost!s:>6}")
EOF
done
echo "   ($(($(date +%s) - t0)) s in all; per-request JSON in $OUT/edge-*.json)"
