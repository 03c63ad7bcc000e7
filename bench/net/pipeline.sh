#!/bin/sh
# Streams: frames per second and latency of `jalad edge --pipeline 4`
# against one frame at a time, over a namespace link (needs root).
#
#   sh bench/net/pipeline.sh [--model M.onnx|M.tflite] [--data DIR] [--calib CAL.json]
#       [--limit N] [--frames N] [--rtt T] [--edge-ms MS] [--out FILE]
#
# For uplinks of 1, 5 and 20 Mbit/s (tbf, RTT T, default 20ms) it runs N
# frames (default 150) back to back of the real-photo ImageNet model
# (default ../shared/..., imported) on an edge emulated at --edge-ms per image
# (default: the Raspberry Pi 4 figure of docs/imagenet.md):
#   sequential  the plan `jalad plan` picks for latency, one frame at a time;
#   pipelined   the plan `jalad plan --objective throughput` picks, with
#               --pipeline 4: frame i+1's head runs while frame i is on the
#               wire and in the cloud.
# Prints a Markdown table: frames per second, p50 and mean latency, and the
# planner's predicted rate. Not part of `make test`.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
JALAD=${JALAD:-$BUILD/jalad}
PY=/usr/bin/python3
SHARED=${JALAD_SHARED:-../shared}
MODEL=$SHARED/models/mobilenet_v2_1.0_224_quant.tflite
DATA=$SHARED/imagenet-sample
CALIB=""
LIMIT=200
FRAMES=150
RTT=20ms
EDGE_MS=""
OUT=""
while [ $# -gt 0 ]; do
	case "$1" in
	--model) MODEL=$2; shift 2 ;;
	--data) DATA=$2; shift 2 ;;
	--calib) CALIB=$2; shift 2 ;;
	--limit) LIMIT=$2; shift 2 ;;
	--frames) FRAMES=$2; shift 2 ;;
	--rtt) RTT=$2; shift 2 ;;
	--edge-ms) EDGE_MS=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	*) echo "usage: $0 [--model M] [--data DIR] [--calib CAL] [--limit N] [--frames N] [--rtt T] [--edge-ms MS]" \
		"[--out FILE]" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "bench/net/pipeline.sh: needs root (network namespaces)" >&2; exit 1; }
[ -f "$MODEL" ] && [ -d "$DATA" ] || { echo "bench/net/pipeline.sh: needs --model and --data (../shared)" >&2; exit 1; }
[ -n "$EDGE_MS" ] || EDGE_MS=$(sed -n 's/^pi4_mobilenet_v2_ms=//p' docs/imagenet.md | head -n 1)
work=$(mktemp -d)
LINK=bpipe
SRV=""
cleanup() {
	[ -z "$SRV" ] || kill "$SRV" 2>/dev/null || true
	wait 2>/dev/null || true
	scripts/netlink.sh down $LINK 2>/dev/null || true
	[ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. bench/net/imagenet_link.sh
imagenet_link_up
PROFS="--edge-profile $work/edge.json --cloud-profile $work/cloud.json --calib $CALIB"
PLANARGS="--edge $work/edge.json --cloud $work/cloud.json --calib $CALIB"

spec() {
	$PY -c "
import json, sys
d = json.load(open(sys.argv[1]))
p = d['plan']
if p['payload'] == 'none':
    print('edge')
elif p['payload'] != 'container':
    print(f\"k=0,payload={p['payload']}\")
else:
    print(f\"k={p['cut']},c={p['bits']},coder={p['coder']}\" + (',q=channel' if p['per_channel'] else ''))
" "$1"
}

for bw in 1mbit 5mbit 20mbit; do
	scripts/netlink.sh rate $LINK $bw
	"$JALAD" plan $PLANARGS --bandwidth $bw --rtt $RTT --json >"$work/lat-$bw.json" 2>/dev/null
	"$JALAD" plan $PLANARGS --bandwidth $bw --rtt $RTT --objective throughput --json \
		>"$work/thr-$bw.json" 2>/dev/null
	for mode in seq pipe; do
		if [ $mode = seq ]; then plan=$(spec "$work/lat-$bw.json"); depth=1; else plan=$(spec "$work/thr-$bw.json"); depth=4; fi
		ip netns exec "$EDGE_NS" nice -n -10 "$JALAD" edge "$onnx" --cloud "$CLOUD_IP:7070" --data "imagenet:$DATA" \
			--json --limit "$FRAMES" --slowdown "$F" --plan "$plan" --pipeline $depth $PROFS \
			>"$work/$mode-$bw.json" 2>"$work/$mode-$bw.err" || echo "pipeline: $mode at $bw failed" >&2
	done
done

$PY - "$work" "$RTT" "$EDGE_MS" "$FRAMES" <<'PY' | tee "$work/table.md"
import json, statistics, sys
work, rtt, edge_ms, frames = sys.argv[1:5]
def rows(p):
    r = [json.loads(l) for l in open(p) if l.strip()]
    return [d for d in r if not d.get('summary')], [d for d in r if d.get('summary')][0]
def label(d):
    if d['coder'] == 'none':
        return 'edge-only'
    if d['payload'] != 'container':
        return f"cut 0, {d['payload']}"
    return f"cut {d['cut']}, {d['bits'] or 'f32'} bits, {d['coder']}"
print(f"RTT {rtt}, edge ~{edge_ms} ms per image, {frames} photos back to back per row.\n")
print('| uplink | mode | plan | frames/s | planner frames/s | p50 ms | mean ms | local finishes |')
print('|---|---|---|---|---|---|---|---|')
for bw in ['1mbit', '5mbit', '20mbit']:
    thr = json.load(open(f'{work}/thr-{bw}.json'))
    for mode in ['seq', 'pipe']:
        r, s = rows(f'{work}/{mode}-{bw}.json')
        lat = [d['total_ms'] for d in r]
        pred = f"{thr['fps']:.2f}" if mode == 'pipe' else '-'
        print(f"| {bw.replace('mbit', ' Mbit/s')} | {'--pipeline 4' if mode == 'pipe' else 'one at a time'} | "
              f"{label(r[-1])} | {s['fps']:.2f} | {pred} | {statistics.median(lat):.1f} | {statistics.mean(lat):.1f} | "
              f"{s['fallbacks']} |")
PY
[ -z "$OUT" ] || cp "$work/table.md" "$OUT"
