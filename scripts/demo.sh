#!/bin/sh
# make demo: the edge-cloud runtime on this machine, in under two minutes.
#
# A cloud server (`jalad serve`) and an edge (`jalad edge --plan auto`) run
# the Fashion-MNIST VGG split between them over an emulated uplink whose
# bandwidth drops in the middle: 20 Mbit/s, then 0.5 Mbit/s, then 20 Mbit/s
# again, with a 4 ms round trip. The edge emulates a device slow enough that
# running the whole model takes ~8 ms (`--slowdown`). It measures the uplink
# from its own requests and re-plans; the table shows per phase the plan it
# used and its latency next to edge-only and cloud-only (the 8-bit input).
#
# As root the link is two network namespaces with tbf + an NFQUEUE delay
# (scripts/netlink.sh); otherwise the server listens on loopback and the
# edge paces its own sender (a token bucket), one run per phase.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
JALAD=$BUILD/jalad
MODEL=models/fmnist-vgg.onnx
PHASE_S=5
RTT=4ms
HIGH=20mbit
LOW=0.5mbit
work=$(mktemp -d)
LINK=""
pids=""

cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	[ -z "$LINK" ] || scripts/netlink.sh down "$LINK" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$JALAD" ] || { echo "demo: $JALAD is not built (run make)"; exit 1; }
[ -f "$MODEL" ] || { echo "demo: $MODEL is missing"; exit 1; }
t0=$(date +%s)

echo "== 1. calibration and profiles (small: 200 samples)"
"$JALAD" calibrate "$MODEL" --data fmnist --limit 200 --bits 4,5,8,float --coders raw,rans0,huffman-shared,huffman-2d \
	-o "$work/calib.json" >"$work/calib.log" 2>&1 || { tail "$work/calib.log"; exit 1; }
"$JALAD" profile "$MODEL" --repeat 50 -o "$work/cloud.json" >/dev/null 2>&1
run_ms=$(sed -n 's/^[[:space:]]*"total_ms":[[:space:]]*\([0-9.e+-]*\),*/\1/p' "$work/cloud.json" | head -n 1)
F=$(awk -v r="$run_ms" 'BEGIN { printf "%.0f", 8.0 / r }')
"$JALAD" profile "$MODEL" --repeat 50 --slowdown "$F" -o "$work/edge.json" >/dev/null 2>&1
echo "   the model runs in $run_ms ms here (warm loop); the emulated edge is ${F}x slower: ~8 ms per image"
echo "   by the profile, ~25-30 ms per request (a request after a pause runs with cold caches, ~3x slower)"
PLAN_ARGS="--edge-profile $work/edge.json --cloud-profile $work/cloud.json --calib $work/calib.json --slowdown $F"

echo "== 2. the planner's switching table at RTT $RTT"
"$JALAD" plan --edge "$work/edge.json" --cloud "$work/cloud.json" --calib "$work/calib.json" --rtt $RTT \
	--coders raw,rans0,huffman-shared,huffman-2d --sweep 100kbit:100mbit --points 50 --out "$work/sweep" 2>&1 |
	sed -n '/switching table/,$p' | sed 's/^/   /'

# now_ms: wall clock in milliseconds (phases are matched to the edge's
# per-request "unix_ms").
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# DEMO_LOOPBACK=1 takes the path used without root.
if [ -z "${DEMO_LOOPBACK:-}" ] && [ "$(id -u)" = 0 ] && ip netns add jalad-demo-probe 2>/dev/null; then
	ip netns del jalad-demo-probe
	MODE=netns
	LINK=demo
	eval "$(scripts/netlink.sh up $LINK --rate $HIGH --rtt $RTT 2>/dev/null)"
	echo "== 3. emulated link: namespaces $EDGE_NS -> $CLOUD_NS, tbf + NFQUEUE delay, RTT $RTT"
	ip netns exec "$CLOUD_NS" "$JALAD" serve "$MODEL" --listen "$CLOUD_IP:7070" --allow-remote \
		--calib "$work/calib.json" --workers 1 --stats-interval 0 >"$work/serve.out" 2>"$work/serve.log" &
	pids="$pids $!"
	sleep 0.5
	# run_phases NAME EDGE-ARGS: one edge run across the three phases.
	run_phases() {
		name=$1
		shift
		# shellcheck disable=SC2086
		ip netns exec "$EDGE_NS" "$JALAD" edge "$MODEL" --cloud "$CLOUD_IP:7070" --data fmnist --json \
			--duration $((3 * PHASE_S))s --link "netns tbf" "$@" >"$work/$name.json" 2>"$work/$name.err" &
		e=$!
		s1=$(now_ms)
		sleep $PHASE_S
		scripts/netlink.sh rate $LINK $LOW
		s2=$(now_ms)
		sleep $PHASE_S
		scripts/netlink.sh rate $LINK $HIGH
		s3=$(now_ms)
		wait $e
		echo "$s1 $s2 $s3" >"$work/$name.phases"
	}
else
	MODE=loopback
	RTT="~0 (loopback)"
	echo "== 3. not root (or no namespaces): loopback, the edge's sender token bucket shapes the uplink"
	"$JALAD" serve "$MODEL" --listen 127.0.0.1:0 --port-file "$work/port" --calib "$work/calib.json" \
		--workers 1 --stats-interval 0 >"$work/serve.out" 2>"$work/serve.log" &
	pids="$pids $!"
	i=0
	while [ ! -s "$work/port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	PORT=$(cat "$work/port")
	run_phases() {
		name=$1
		shift
		: >"$work/$name.json"
		s=""
		for rate in $HIGH $LOW $HIGH; do
			s="$s $(now_ms)"
			# shellcheck disable=SC2086
			"$JALAD" edge "$MODEL" --cloud 127.0.0.1:$PORT --data fmnist --json --duration ${PHASE_S}s \
				--shape $rate "$@" 2>>"$work/$name.err" | grep -v '"summary"' >>"$work/$name.json"
		done
		echo "$s" >"$work/$name.phases"
	}
fi

echo "== 4. three runs of $((3 * PHASE_S)) s: uplink $HIGH, then $LOW, then $HIGH again"
# shellcheck disable=SC2086
run_phases auto --plan auto --init-bw $HIGH $PLAN_ARGS
# shellcheck disable=SC2086
run_phases cloud --plan cloud --slowdown $F
"$JALAD" edge "$MODEL" --data fmnist --json --plan edge --slowdown "$F" --duration 3s >"$work/edge-only.json" 2>/dev/null

# summary FILE PHASES: per phase "plan p50 p95 accuracy switches fallbacks".
summary() {
	awk -v ph="$(cat "$2" 2>/dev/null)" '
	function num(key,   m) { if (match($0, "\"" key "\": [-0-9.]+")) { m = substr($0, RSTART, RLENGTH); sub(/.*: /, "", m); return m + 0 } return -1 }
	function str(key,   m) { if (match($0, "\"" key "\": \"[^\"]*\"")) { m = substr($0, RSTART, RLENGTH); sub(/.*: "/, "", m); sub(/"$/, "", m); return m } return "" }
	BEGIN { np = split(ph, P, " ") }
	/"summary"/ { next }
	{
		t = num("unix_ms"); p = 1
		for (i = 2; i <= np; i++) if (t >= P[i]) p = i
		cut = num("cut"); bits = num("bits")
		plan = (str("coder") == "none") ? "edge-only" : ("cut " cut ", " (bits ? bits " bits" : "float32") " " str("coder"))
		n[p]++; lat[p, n[p]] = num("total_ms"); cnt[p, plan]++
		if (!(p SUBSEP plan in seen)) { seen[p, plan] = 1; plans[p] = plans[p] SUBSEP plan }
		if ($0 ~ /"correct": true/) ok[p]++
		if ($0 ~ /"fallback": true/) fb[p]++
		if ($0 ~ /"switched": true/) sw[p]++
	}
	END {
		for (p = 1; p <= (np ? np : 1); p++) {
			m = n[p]; if (!m) { print p, "-", 0, 0, 0, 0, 0; continue }
			for (i = 1; i <= m; i++) a[i] = lat[p, i]
			for (i = 2; i <= m; i++) { v = a[i]; for (j = i - 1; j >= 1 && a[j] > v; j--) a[j + 1] = a[j]; a[j + 1] = v }
			best = ""; bc = 0; k = split(plans[p], L, SUBSEP)
			for (i = 2; i <= k; i++) if (cnt[p, L[i]] > bc) { bc = cnt[p, L[i]]; best = L[i] }
			gsub(/ /, "_", best)
			printf "%d %s %.2f %.2f %.3f %d %d %d\n", p, best, a[int((m + 1) / 2)], a[int(0.95 * m + 0.999)], ok[p] / m, sw[p] + 0, fb[p] + 0, m
		}
	}' "$1"
}

summary "$work/auto.json" "$work/auto.phases" >"$work/auto.sum"
summary "$work/cloud.json" "$work/cloud.phases" >"$work/cloud.sum"
summary "$work/edge-only.json" /dev/null >"$work/edge.sum"
read -r _ _ e50 e95 eacc _ _ _ <"$work/edge.sum"

echo
echo "== 5. results ($MODE link, RTT $RTT, edge ${F}x slower than this machine)"
printf '%-7s %-10s | %-34s %8s %8s %6s %4s | %-18s | %-14s\n' "phase" "uplink" "jalad --plan auto: plan (most used)" \
	"p50 ms" "p95 ms" "acc" "sw" "cloud-only p50/p95" "edge-only p50"
i=0
for rate in $HIGH $LOW $HIGH; do
	i=$((i + 1))
	set -- $(sed -n "${i}p" "$work/auto.sum")
	a_plan=$(echo "$2" | tr _ ' ')
	a50=$3
	a95=$4
	aacc=$5
	asw=$6
	set -- $(sed -n "${i}p" "$work/cloud.sum")
	printf '%-7s %-10s | %-34s %8s %8s %6s %4s | %8s / %-7s | %8s\n' "$i" "$rate" "$a_plan" "$a50" "$a95" "$aacc" "$asw" \
		"$3" "$4" "$e50"
done
echo
echo "accuracy over all requests: jalad $(awk '/"correct": true/ { c++ } !/"summary"/ { n++ } END { printf "%.3f", c / n }' "$work/auto.json")," \
	"cloud-only $(awk '/"correct": true/ { c++ } !/"summary"/ { n++ } END { printf "%.3f", c / n }' "$work/cloud.json")," \
	"edge-only $eacc"
echo "plan switches: $(grep -c '"switched": true' "$work/auto.json"); fallbacks: $(grep -c '"fallback": true' "$work/auto.json")"
echo "(sw = plan switches in the phase; the edge also sends one request with the best split plan"
echo " every 20 edge-only requests, since edge-only measures nothing; $(($(date +%s) - t0)) s in all)"
