#!/bin/sh
# Emulated edge->cloud links: two network namespaces joined by a veth pair,
# the uplink (edge -> cloud) shaped with tbf, a round-trip delay added by
# `jalad delay` (NFQUEUE; netem is not in every kernel), and mahimahi
# traces replayed by changing the rate over time. Needs root.
#
# The uplink's `jalad delay` also serializes packets at the link rate: tbf
# lets a packet smaller than its burst through at once after an idle
# moment, so the few-hundred-byte messages of a small model would see no
# transmission time at all; a real link of rate R takes size / R for each.
#
#   scripts/netlink.sh up NAME [--rate R] [--down-rate R] [--rtt T]
#       make namespaces jl-NAME-e (edge, 198.18.N.1) and jl-NAME-c (cloud,
#       198.18.N.2); prints shell assignments EDGE_NS, CLOUD_NS, EDGE_IP,
#       CLOUD_IP. R like 10mbit, T like 20ms (default 10mbit, 0ms).
#   scripts/netlink.sh rate NAME R      change the uplink rate now
#   scripts/netlink.sh replay NAME TRACE [--window MS] [--seconds S] [--speedup X]
#       replay a mahimahi uplink trace (one line per 1500-byte delivery
#       opportunity, ms timestamps) as a rate per window (default 1000 ms)
#   scripts/netlink.sh exec NAME edge|cloud CMD [ARGS...]
#   scripts/netlink.sh down NAME        remove everything (idempotent)
#   scripts/netlink.sh run [--name NAME] [up options] -- CMD [ARGS...]
#       up, run CMD with EDGE_NS CLOUD_NS EDGE_IP CLOUD_IP exported, down
#       on exit or signal
#
# Addresses come from the 198.18.0.0/15 benchmarking range only. TCP
# goodput is about 0.956 x the configured rate (headers).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
JALAD=${JALAD:-$ROOT/build/jalad}
STATE_BASE=${TMPDIR:-/tmp}/jalad-netlink

die() { echo "netlink: $*" >&2; exit 1; }
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2; }

check_name() {
	case "$1" in
	'' | *[!a-z0-9]*) die "name '$1': use 1-6 lowercase letters or digits" ;;
	esac
	[ ${#1} -le 6 ] || die "name '$1' is longer than 6 characters"
}

# Derived names: interface names must stay under 16 characters.
names() {
	check_name "$1"
	EDGE_NS=jl-$1-e
	CLOUD_NS=jl-$1-c
	VETH_E=jl$1e
	VETH_C=jl$1c
	# Third octet from the name, so several links can coexist.
	N=$(printf '%s' "$1" | cksum | awk '{print $1 % 200 + 20}')
	EDGE_IP=198.18.$N.1
	CLOUD_IP=198.18.$N.2
	STATE=$STATE_BASE/$1
	# NFQUEUE numbers are per namespace; any fixed pair works.
	Q_UP=7101
	Q_DOWN=7102
}

# tc rate and tbf parameters for a rate like 10mbit. The burst is kept near
# one MTU so that even small messages are serialized at the link rate, as
# on a real link of that rate (a larger burst lets them pass instantly).
tbf_args() {
	bps=$(rate_bps "$1")
	# burst: at least 2 packets, and enough for the kernel's timer at high rates
	burst=$(awk -v b="$bps" 'BEGIN { x = b / 8 / 1000; if (x < 3028) x = 3028; printf "%d", x }')
	echo "rate $1 burst $burst latency 200ms"
}

rate_bps() {
	echo "$1" | awk '{
		s = tolower($0); n = s + 0; u = s; sub(/^[0-9.]+/, "", u)
		m = 0
		if (u == "bit" || u == "bps") m = 1
		if (u == "kbit" || u == "kbps") m = 1e3
		if (u == "mbit" || u == "mbps") m = 1e6
		if (u == "gbit" || u == "gbps") m = 1e9
		if (m == 0 || n <= 0) { print "bad"; exit }
		printf "%d\n", n * m }'
}

ms_of() {
	echo "$1" | awk '{
		s = tolower($0); n = s + 0; u = s; sub(/^[0-9.]+/, "", u)
		if (u == "ms" || u == "") m = 1; else if (u == "s") m = 1000; else if (u == "us") m = 0.001; else { print "bad"; exit }
		printf "%g\n", n * m }'
}

start_delay() { # NS QUEUE HALF_MS [RATE_FILE]
	if [ -n "${4:-}" ]; then
		ip netns exec "$1" "$JALAD" delay --queue "$2" --delay "${3}ms" --rate-file "$4" \
			>"$STATE/delay-$2.log" 2>&1 &
		echo $! >"$STATE/uplink.pid"
	else
		ip netns exec "$1" "$JALAD" delay --queue "$2" --delay "${3}ms" >"$STATE/delay-$2.log" 2>&1 &
	fi
	echo $! >>"$STATE/pids"
}

cmd_up() {
	name=$1
	shift
	rate=10mbit
	down=
	rtt=0ms
	while [ $# -gt 0 ]; do
		case "$1" in
		--rate) rate=$2; shift 2 ;;
		--down-rate) down=$2; shift 2 ;;
		--rtt) rtt=$2; shift 2 ;;
		*) die "up: unknown option '$1'" ;;
		esac
	done
	names "$name"
	[ "$(id -u)" = 0 ] || die "needs root (network namespaces, tc, iptables)"
	[ "$(rate_bps "$rate")" != bad ] || die "bad rate '$rate'"
	[ -z "$down" ] || [ "$(rate_bps "$down")" != bad ] || die "bad rate '$down'"
	rtt_ms=$(ms_of "$rtt")
	[ "$rtt_ms" != bad ] || die "bad RTT '$rtt'"
	[ -x "$JALAD" ] || die "$JALAD not built (make)"
	cmd_down "$name" 2>/dev/null || true
	mkdir -p "$STATE"
	: >"$STATE/pids"
	ip netns add "$EDGE_NS"
	ip netns add "$CLOUD_NS"
	ip link add "$VETH_E" netns "$EDGE_NS" type veth peer name "$VETH_C" netns "$CLOUD_NS"
	ip -n "$EDGE_NS" addr add "$EDGE_IP/30" dev "$VETH_E"
	ip -n "$CLOUD_NS" addr add "$CLOUD_IP/30" dev "$VETH_C"
	for ns in "$EDGE_NS" "$CLOUD_NS"; do
		ip -n "$ns" link set lo up
	done
	ip -n "$EDGE_NS" link set "$VETH_E" up
	ip -n "$CLOUD_NS" link set "$VETH_C" up
	# No segmentation offload: tbf then sees real packets, not 64 KB blobs.
	ip netns exec "$EDGE_NS" sh -c "command -v ethtool >/dev/null && ethtool -K $VETH_E tso off gso off gro off" >/dev/null 2>&1 || true
	ip netns exec "$CLOUD_NS" sh -c "command -v ethtool >/dev/null && ethtool -K $VETH_C tso off gso off gro off" >/dev/null 2>&1 || true
	# shellcheck disable=SC2046
	ip netns exec "$EDGE_NS" tc qdisc add dev "$VETH_E" root tbf $(tbf_args "$rate")
	if [ -n "$down" ]; then
		# shellcheck disable=SC2046
		ip netns exec "$CLOUD_NS" tc qdisc add dev "$VETH_C" root tbf $(tbf_args "$down")
	fi
	echo "$rate" >"$STATE/rate"
	half=$(awk -v r="$rtt_ms" 'BEGIN { printf "%.3f", r / 2 }')
	# Delay on the receiving side of each direction; the programs start
	# before the rules, and --queue-bypass lets packets through whenever no
	# program listens. The uplink one also serializes at the link rate.
	start_delay "$CLOUD_NS" $Q_UP "$half" "$STATE/rate"
	[ "$(awk -v r="$rtt_ms" 'BEGIN { print (r > 0) }')" = 0 ] || start_delay "$EDGE_NS" $Q_DOWN "$half"
	sleep 0.2
	ip netns exec "$CLOUD_NS" iptables -t mangle -A PREROUTING -i "$VETH_C" -j NFQUEUE --queue-num $Q_UP --queue-bypass
	[ "$(awk -v r="$rtt_ms" 'BEGIN { print (r > 0) }')" = 0 ] ||
		ip netns exec "$EDGE_NS" iptables -t mangle -A PREROUTING -i "$VETH_E" -j NFQUEUE --queue-num $Q_DOWN --queue-bypass
	echo "EDGE_NS=$EDGE_NS CLOUD_NS=$CLOUD_NS EDGE_IP=$EDGE_IP CLOUD_IP=$CLOUD_IP"
	echo "netlink: $name up: uplink tbf + serialization at $rate, downlink ${down:-unshaped}, RTT ${rtt_ms} ms (NFQUEUE delay)" >&2
}

cmd_rate() {
	names "$1"
	[ -d "$STATE" ] || die "link '$1' is not up"
	[ "$(rate_bps "$2")" != bad ] || die "bad rate '$2'"
	# shellcheck disable=SC2046
	ip netns exec "$EDGE_NS" tc qdisc change dev "$VETH_E" root tbf $(tbf_args "$2")
	echo "$2" >"$STATE/rate"
	[ ! -f "$STATE/uplink.pid" ] || kill -HUP "$(cat "$STATE/uplink.pid")" 2>/dev/null || true
}

cmd_replay() {
	name=$1
	trace=$2
	shift 2
	window=1000
	seconds=0
	speedup=1
	while [ $# -gt 0 ]; do
		case "$1" in
		--window) window=$2; shift 2 ;;
		--seconds) seconds=$2; shift 2 ;;
		--speedup) speedup=$2; shift 2 ;;
		*) die "replay: unknown option '$1'" ;;
		esac
	done
	names "$name"
	[ -r "$trace" ] || die "cannot read trace '$trace'"
	# One rate per window: delivery opportunities x 1500 bytes x 8 bits.
	# Empty windows get a floor of 8 kbit/s (tbf needs a rate > 0).
	awk -v w="$window" -v lim="$seconds" '
		/^[0-9]+$/ { b = int($1 / w); c[b]++; if (b > last) last = b }
		END {
			n = last + 1
			if (lim > 0 && n > lim * 1000 / w) n = int(lim * 1000 / w)
			for (i = 0; i < n; i++) { r = c[i] * 1500 * 8 * 1000 / w; if (r < 8000) r = 8000; printf "%dbit\n", r }
		}' "$trace" >"$STATE/replay.rates"
	step=$(awk -v w="$window" -v s="$speedup" 'BEGIN { printf "%.3f", w / 1000 / s }')
	total=$(wc -l <"$STATE/replay.rates")
	echo "netlink: replaying $trace: $total windows of $window ms (every ${step}s)" >&2
	# Windows on an absolute clock: the time `rate` itself takes does not
	# accumulate (an oracle reading the same trace stays in step).
	t0=$(date +%s.%N)
	i=0
	while read -r r; do
		cmd_rate "$name" "$r"
		i=$((i + 1))
		wait_s=$(awk -v t0="$t0" -v i="$i" -v st="$step" -v now="$(date +%s.%N)" \
			'BEGIN { d = t0 + i * st - now; if (d < 0) d = 0; printf "%.3f", d }')
		sleep "$wait_s"
	done <"$STATE/replay.rates"
}

cmd_exec() {
	names "$1"
	case "$2" in
	edge) ns=$EDGE_NS ;;
	cloud) ns=$CLOUD_NS ;;
	*) die "exec: say edge or cloud" ;;
	esac
	shift 2
	exec ip netns exec "$ns" "$@"
}

cmd_down() {
	names "$1"
	if [ -f "$STATE/pids" ]; then
		while read -r pid; do
			kill "$pid" 2>/dev/null || true
		done <"$STATE/pids"
	fi
	ip netns del "$EDGE_NS" 2>/dev/null || true
	ip netns del "$CLOUD_NS" 2>/dev/null || true
	rm -rf "$STATE"
}

cmd_run() {
	name=jl$$
	name=$(echo "$name" | cut -c1-6)
	opts=""
	while [ $# -gt 0 ]; do
		case "$1" in
		--name) name=$2; shift 2 ;;
		--) shift; break ;;
		*) opts="$opts $1"; shift ;;
		esac
	done
	[ $# -gt 0 ] || die "run: no command after --"
	trap 'cmd_down "$name"' EXIT
	trap 'exit 130' INT TERM
	# shellcheck disable=SC2086
	eval "$(cmd_up "$name" $opts)"
	export EDGE_NS CLOUD_NS EDGE_IP CLOUD_IP
	"$@"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case "$cmd" in
up) [ $# -ge 1 ] || usage; cmd_up "$@" ;;
rate) [ $# -eq 2 ] || usage; cmd_rate "$@" ;;
replay) [ $# -ge 2 ] || usage; cmd_replay "$@" ;;
exec) [ $# -ge 3 ] || usage; cmd_exec "$@" ;;
down) [ $# -eq 1 ] || usage; cmd_down "$1" ;;
run) cmd_run "$@" ;;
-h | --help | help) usage ;;
*) usage ;;
esac
