#!/bin/sh
# Measured latency of the edge-cloud runtime against the planner's
# prediction, on emulated namespace links (needs root):
#
#   sh bench/net/run.sh [--requests N] [--rtt T] [--edge-ms MS] [--out FILE]
#
# For each uplink of 0.5, 2, 10 and 50 Mbit/s (tbf + serialization, RTT T,
# default 40ms as the planner's default; scripts/netlink.sh) it asks
# `jalad plan` for the best plan at that bandwidth and RTT, runs
# `jalad edge` with that plan for N requests
# (default 300, back to back) against `jalad serve` in the other namespace,
# and compares the median measured latency with the planner's prediction.
# It also runs `--plan auto` (the runtime measuring the link itself) and
# reports its median. The emulated edge is slowed down so that running the
# whole model takes --edge-ms (default 60) milliseconds. Prints a Markdown
# table; --out also writes it to FILE. Not part of `make test`.
set -eu
cd "$(dirname "$0")/../.."
JALAD=${JALAD:-build/jalad}
MODEL=${MODEL:-models/fmnist-vgg.onnx}
PY=/usr/bin/python3
N=300
RTT=40ms
EDGE_MS=60
OUT=""
while [ $# -gt 0 ]; do
	case "$1" in
	--requests) N=$2; shift 2 ;;
	--rtt) RTT=$2; shift 2 ;;
	--edge-ms) EDGE_MS=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	*) echo "usage: $0 [--requests N] [--rtt T] [--edge-ms MS] [--out FILE]" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "bench/net: needs root (network namespaces)" >&2; exit 1; }
work=$(mktemp -d)
LINK=bnet
SRV=""
cleanup() {
	[ -z "$SRV" ] || kill "$SRV" 2>/dev/null || true
	wait 2>/dev/null || true
	scripts/netlink.sh down $LINK 2>/dev/null || true
	[ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "bench/net: calibrating and profiling ..." >&2
"$JALAD" calibrate "$MODEL" --data fmnist --limit 500 --bits 4,5,6,8,float --coders raw,rans0,huffman-shared \
	-o "$work/calib.json" >/dev/null 2>&1
CODERS=raw,rans0,huffman-shared

eval "$(scripts/netlink.sh up $LINK --rate 50mbit --rtt $RTT 2>/dev/null)"
ip netns exec "$CLOUD_NS" "$JALAD" serve "$MODEL" --listen "$CLOUD_IP:7070" --allow-remote --workers 1 \
	--calib "$work/calib.json" --stats-interval 0 >/dev/null 2>"$work/serve.log" &
SRV=$!
sleep 0.5
# The cloud profile, with the server's per-request constant measured on the
# server's side of the link (jalad profile --server).
ip netns exec "$CLOUD_NS" "$JALAD" profile "$MODEL" --repeat 100 --server "$CLOUD_IP:7070" \
	-o "$work/cloud.json" >/dev/null 2>"$work/cloud.log" || { cat "$work/cloud.log"; exit 1; }
F=$($PY -c "import json,sys; print(round($EDGE_MS / json.load(open(sys.argv[1]))['total_ms']))" "$work/cloud.json")
"$JALAD" profile "$MODEL" --repeat 100 --slowdown "$F" --edge-requests -o "$work/edge.json" >/dev/null 2>&1
# The RTT the planner is given: as TCP measures it on this link (the
# kernel's min RTT of a short run), which includes the emulation's own
# per-packet latency on top of the configured RTT.
ip netns exec "$EDGE_NS" "$JALAD" edge "$MODEL" --cloud "$CLOUD_IP:7070" --data fmnist --json --limit 20 \
	--plan k=0,c=8,coder=raw >"$work/rtt.json" 2>/dev/null
RTT_MEAS=$($PY -c "
import json, statistics, sys
print('%.3fms' % statistics.median(d['rtt_ms'] for d in map(json.loads, open(sys.argv[1])) if not d.get('summary')))
" "$work/rtt.json")

rows=""
for bw in 0.5mbit 2mbit 10mbit 50mbit; do
	scripts/netlink.sh rate $LINK $bw
	"$JALAD" plan --edge "$work/edge.json" --cloud "$work/cloud.json" --calib "$work/calib.json" \
		--bandwidth $bw --rtt $RTT_MEAS --coders $CODERS --json >"$work/plan-$bw.json" 2>/dev/null
	plan=$($PY - "$work/plan-$bw.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))['plan']
if p['payload'] == 'none':
    print('edge')
else:
    print(f"k={p['cut']},c={p['bits']},coder={p['coder']}" + (',q=channel' if p['per_channel'] else ''))
PY
)
	ip netns exec "$EDGE_NS" "$JALAD" edge "$MODEL" --cloud "$CLOUD_IP:7070" --data fmnist --json \
		--limit "$N" --plan "$plan" --edge-profile "$work/edge.json" --cloud-profile "$work/cloud.json" \
		--calib "$work/calib.json" --slowdown "$F" >"$work/fixed-$bw.json" 2>"$work/fixed-$bw.err"
	ip netns exec "$EDGE_NS" "$JALAD" edge "$MODEL" --cloud "$CLOUD_IP:7070" --data fmnist --json \
		--limit "$N" --plan auto --edge-profile "$work/edge.json" --cloud-profile "$work/cloud.json" \
		--calib "$work/calib.json" --slowdown "$F" >"$work/auto-$bw.json" 2>"$work/auto-$bw.err"
	rows="$rows $bw"
done

$PY - "$work" "$RTT" "$F" "$EDGE_MS" "$N" "$RTT_MEAS" $rows <<'PY' | tee "$work/table.md"
import json, statistics, sys
work, rtt, F, edge_ms, n, rtt_meas = sys.argv[1:7]

def rows(path):
    return [d for d in map(json.loads, open(path)) if not d.get('summary')]

def name(d):
    if d['coder'] == 'none':
        return 'edge-only'
    q = '/ch' if d.get('per_channel') else ''
    return f"cut {d['cut']}, {d['bits'] or 'f32'}{q} bits, {d['coder']}"

print(f"RTT {rtt} (TCP measures {rtt_meas} on the link; the planner is given that), edge {F}x slower "
      f"than this machine (whole model ~{edge_ms} ms), {n} requests per row, median of `total_ms`.\n")
print("| uplink | plan (planner) | bytes | planner predicted ms | measured p50 ms | error | runtime predicted p50 ms | error | auto: p50 ms | auto: plans used |")
print("|---|---|---|---|---|---|---|---|---|---|")
bad = 0
for bw in sys.argv[7:]:
    plan = json.load(open(f'{work}/plan-{bw}.json'))['plan']
    fixed = rows(f'{work}/fixed-{bw}.json')
    auto = rows(f'{work}/auto-{bw}.json')
    pred = plan['predicted_ms']
    p50 = statistics.median(d['total_ms'] for d in fixed)
    err = (p50 - pred) / pred
    bad += abs(err) > 0.1
    used = {}
    for d in auto:
        used[name(d)] = used.get(name(d), 0) + 1
    top = ', '.join(f'{k} ({v})' for k, v in sorted(used.items(), key=lambda kv: -kv[1])[:2])
    label = 'edge-only' if plan['payload'] == 'none' else name({**plan, 'cut': plan['cut']})
    rp = [d['predicted_ms'] for d in fixed if d['predicted_ms'] is not None]
    rp50 = statistics.median(rp) if rp else float('nan')
    print(f"| {bw.replace('mbit', ' Mbit/s')} | {label} | {plan['bytes']:.0f} | {pred:.2f} | {p50:.2f} | "
          f"{err * 100:+.1f}% | {rp50:.2f} | {(p50 - rp50) / rp50 * 100:+.1f}% | "
          f"{statistics.median(d['total_ms'] for d in auto):.2f} | {top} |")
print(f"\n{4 - bad} of 4 within 10% of the planner's prediction.")
PY
[ -z "$OUT" ] || cp "$work/table.md" "$OUT"
