#!/bin/sh
# Adaptation on real cellular uplink traces (needs root: network namespaces).
#
#   sh bench/net/traces.sh [--model M.onnx|M.tflite] [--data DIR] [--calib CAL.json]
#       [--limit N] [--seconds S] [--rtt T] [--edge-ms MS] [--deadline DUR]
#       [--out FILE] [TRACE ...]
#
# Replays each mahimahi uplink trace (default ../shared/traces/*.up; one
# line per 1500-byte delivery opportunity) through the namespace link as one
# rate per second (scripts/netlink.sh replay), and on the same S seconds of
# it (default 120) runs, one after another, `jalad edge` with:
#   auto       --plan auto: measures the link from its own requests
#   oracle     --plan auto told each window's bandwidth (--oracle-trace)
#   fixed      the best single plan in hindsight: the two plans of the
#              switching table predicted fastest on average over the trace's
#              windows are run, the better measured one is reported
#   edge-only  --plan edge
#   cloud-only the planner's cloud-only payload at the trace's mean rate
# Frames go back to back; every policy gets the same --deadline (default
# 600ms: then the edge finishes the frame itself). The model is the
# real-photo ImageNet model (default ../shared/models/...tflite, imported)
# on ../shared/imagenet-sample; the edge is emulated at --edge-ms per image
# (default: the Raspberry Pi 4 figure of docs/imagenet.md). Prints one
# Markdown table per trace: mean and p95 latency, accuracy, switches, the
# plans used. Not part of `make test`.
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
SECONDS_=120
RTT=20ms
EDGE_MS=""
DEADLINE=600ms
OUT=""
TRACES=""
while [ $# -gt 0 ]; do
	case "$1" in
	--model) MODEL=$2; shift 2 ;;
	--data) DATA=$2; shift 2 ;;
	--calib) CALIB=$2; shift 2 ;;
	--limit) LIMIT=$2; shift 2 ;;
	--seconds) SECONDS_=$2; shift 2 ;;
	--rtt) RTT=$2; shift 2 ;;
	--edge-ms) EDGE_MS=$2; shift 2 ;;
	--deadline) DEADLINE=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	-*) echo "usage: $0 [--model M] [--data DIR] [--calib CAL] [--limit N] [--seconds S] [--rtt T]" \
		"[--edge-ms MS] [--deadline DUR] [--out FILE] [TRACE ...]" >&2; exit 2 ;;
	*) TRACES="$TRACES $1"; shift ;;
	esac
done
[ -n "$TRACES" ] || TRACES=$(ls "$SHARED"/traces/*.up 2>/dev/null | tr '\n' ' ')
[ -n "$TRACES" ] || { echo "bench/net/traces.sh: no traces (give TRACE files, or ../shared/traces)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench/net/traces.sh: needs root (network namespaces)" >&2; exit 1; }
[ -f "$MODEL" ] && [ -d "$DATA" ] || { echo "bench/net/traces.sh: needs --model and --data (../shared)" >&2; exit 1; }
[ -n "$EDGE_MS" ] || EDGE_MS=$(sed -n 's/^pi4_mobilenet_v2_ms=//p' docs/imagenet.md | head -n 1)
work=$(mktemp -d)
LINK=btr
SRV=""
REPLAY=""
cleanup() {
	[ -z "$REPLAY" ] || kill "$REPLAY" 2>/dev/null || true
	[ -z "$SRV" ] || kill "$SRV" 2>/dev/null || true
	wait 2>/dev/null || true
	scripts/netlink.sh down $LINK 2>/dev/null || true
	[ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. bench/net/imagenet_link.sh
imagenet_link_up
RTT_MEAS=$(ip netns exec "$EDGE_NS" "$JALAD" edge "$onnx" --cloud "$CLOUD_IP:7070" --data "imagenet:$DATA" --json \
	--limit 10 --plan k=0,payload=jpeg 2>/dev/null | $PY -c "
import json, statistics, sys
print('%.3fms' % statistics.median(d['rtt_ms'] for d in map(json.loads, sys.stdin) if not d.get('summary')))")
echo "traces: edge ${F}x slower (~$EDGE_MS ms per image), RTT $RTT ($RTT_MEAS measured), $SECONDS_ s per run" >&2

PROFS="--edge-profile $work/edge.json --cloud-profile $work/cloud.json --calib $CALIB"
# run NAME TRACE ARGS...: one policy on the trace, from its start
run() {
	name=$1
	trace=$2
	shift 2
	scripts/netlink.sh rate $LINK 100mbit
	sleep 0.5
	scripts/netlink.sh replay $LINK "$trace" --seconds "$SECONDS_" 2>"$work/replay-$name.log" &
	REPLAY=$!
	ip netns exec "$EDGE_NS" nice -n -10 "$JALAD" edge "$onnx" --cloud "$CLOUD_IP:7070" --data "imagenet:$DATA" \
		--json --duration "${SECONDS_}s" --slowdown "$F" --deadline "$DEADLINE" $PROFS "$@" \
		>"$work/$name.json" 2>"$work/$name.err" || echo "traces: $name failed: $(tail -n 2 "$work/$name.err")" >&2
	wait "$REPLAY" 2>/dev/null || true
	REPLAY=""
}

tables=""
for trace in $TRACES; do
	t=$(basename "$trace" .up)
	echo "traces: $t ..." >&2
	# The switching table's plans, their predicted mean over the trace's
	# windows (the rates replay gives), and the cloud-only payload at the mean.
	"$JALAD" plan --edge "$work/edge.json" --cloud "$work/cloud.json" --calib "$CALIB" --rtt "$RTT_MEAS" \
		--sweep 8kbit:100mbit --points 400 --json --out "$work/sweep-$t" >"$work/sweep-$t.json" 2>/dev/null
	$PY - "$trace" "$SECONDS_" "$work/sweep-$t.json" "$work" "$t" "$JALAD" "$work/edge.json" "$work/cloud.json" \
		"$CALIB" "$RTT_MEAS" >"$work/cands-$t" <<'PY'
import json, subprocess, sys
trace, secs, sweep, work, t, jalad, ep, cp, cal, rtt = sys.argv[1:11]
secs = int(secs)
c = {}
for l in open(trace):
    l = l.strip()
    if l:
        w = int(l) // 1000
        c[w] = c.get(w, 0) + 1
rates = [max(c.get(i, 0) * 1500 * 8, 8000) for i in range(secs)]
mean = sum(rates) / len(rates)
rows = json.load(open(sweep))['switching']
def spec(p):
    if p['payload'] == 'none':
        return 'edge'
    if p['payload'] != 'container':
        return f"k=0,payload={p['payload']}"
    return f"k={p['cut']},c={p['bits']},coder={p['coder']}" + (',q=channel' if p.get('per_channel') else '')
def plan_at(bw):
    out = subprocess.run([jalad, 'plan', '--edge', ep, '--cloud', cp, '--calib', cal, '--rtt', rtt,
                          '--bandwidth', f'{bw:.0f}bit', '--json'], capture_output=True, text=True, check=True).stdout
    return json.loads(out)
# every distinct plan of the switching table, scored over the windows
seen = {}
for r in rows:
    s = spec(r['plan'])
    if s not in seen:
        seen[s] = plan_at(max(r['lo_bps'], 8000) * 1.01)['plan']
def lat(p, bw):
    b = p['breakdown']
    if p['payload'] == 'none':
        return p['predicted_ms']
    fixed = p['predicted_ms'] - b['transfer_ms']
    return fixed + p['wire_bytes'] * 8e3 / bw
score = sorted((sum(lat(p, bw) for bw in rates) / len(rates), s) for s, p in seen.items())
co = plan_at(mean)['baselines']['cloud_only']
print('fixed1', score[0][1], f'{score[0][0]:.1f}')
print('fixed2', score[1][1] if len(score) > 1 else score[0][1], f'{score[1][0] if len(score) > 1 else score[0][0]:.1f}')
print('cloud', spec(co), '-')
print('mean', f'{mean / 1e6:.3f}', '-')
PY
	f1=$(awk '$1 == "fixed1" { print $2 }' "$work/cands-$t")
	f2=$(awk '$1 == "fixed2" { print $2 }' "$work/cands-$t")
	co=$(awk '$1 == "cloud" { print $2 }' "$work/cands-$t")
	run "$t-auto" "$trace" --plan auto
	run "$t-oracle" "$trace" --plan auto --oracle-trace "$trace"
	run "$t-fixed1" "$trace" --plan "$f1"
	[ "$f2" = "$f1" ] || run "$t-fixed2" "$trace" --plan "$f2"
	run "$t-edge" "$trace" --plan edge
	run "$t-cloud" "$trace" --plan "$co"
	$PY - "$work" "$t" "$trace" "$SECONDS_" "$RTT" "$EDGE_MS" "$DEADLINE" <<'PY' | tee -a "$work/tables.md"
import json, os, statistics, sys
work, t, trace, secs, rtt, edge_ms, deadline = sys.argv[1:8]
cands = {l.split()[0]: l.split()[1:] for l in open(f'{work}/cands-{t}')}
def rows(name):
    p = f'{work}/{t}-{name}.json'
    if not os.path.exists(p):
        return None
    r = [json.loads(l) for l in open(p) if l.strip()]
    return [d for d in r if not d.get('summary')] or None
def label(d):
    if d['coder'] == 'none':
        return 'edge-only'
    if d['payload'] != 'container':
        return f"cut 0, {d['payload']}"
    return f"cut {d['cut']}, {d['bits'] or 'f32'} bits, {d['coder']}"
def stats(r):
    lat = sorted(d['total_ms'] for d in r)
    p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
    acc = sum(d['correct'] for d in r) / len(r)
    sw = sum(d['switched'] for d in r)
    used = {}
    for d in r:
        used[label(d)] = used.get(label(d), 0) + 1
    top = ', '.join(f'{k} ({100 * v / len(r):.0f}%)' for k, v in sorted(used.items(), key=lambda kv: -kv[1])[:3])
    fb = sum(d['fallback'] for d in r)
    return statistics.mean(lat), p95, acc, sw, top, fb, len(r)
res = {}
for name in ['auto', 'oracle', 'fixed1', 'fixed2', 'edge', 'cloud']:
    r = rows(name)
    if r:
        res[name] = stats(r)
best_fixed = min((n for n in ('fixed1', 'fixed2') if n in res), key=lambda n: res[n][0])
print(f"\n### {t} (first {secs} s, mean {cands['mean'][0]} Mbit/s; RTT {rtt}, edge ~{edge_ms} ms per image, "
      f"deadline {deadline})\n")
print('| policy | frames | mean ms | p95 ms | accuracy | switches | local finishes | plans used |')
print('|---|---|---|---|---|---|---|---|')
names = {'auto': '--plan auto', 'oracle': 'oracle (told each second\'s rate)', 'edge': 'edge-only',
         'cloud': f"cloud-only ({cands['cloud'][0]})"}
for n in ['auto', 'oracle', best_fixed, 'edge', 'cloud']:
    if n not in res:
        continue
    m, p95, acc, sw, top, fb, cnt = res[n]
    nm = names[n] if n in names else f'best fixed in hindsight ({cands[n][0]})'
    print(f'| {nm} | {cnt} | {m:.1f} | {p95:.1f} | {acc:.3f} | {sw} | {fb} | {top} |')
other = [n for n in ('fixed1', 'fixed2') if n in res and n != best_fixed]
for n in other:
    print(f"\n(the other fixed candidate, {cands[n][0]}: mean {res[n][0]:.1f} ms)")
a, o, f = res['auto'][0], res['oracle'][0], res[best_fixed][0]
print(f"\n--plan auto: {100 * (a - o) / o:+.1f}% against the oracle, {100 * (a - f) / f:+.1f}% against the best fixed plan.")
PY
done
echo
cat "$work/tables.md"
[ -z "$OUT" ] || cp "$work/tables.md" "$OUT"
