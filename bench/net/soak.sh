#!/bin/sh
# Soak: 64 edges through HAProxy to two `jalad serve` for a while, one server
# restarted (SIGTERM, drained) every 2 minutes, alternately. Loopback only.
#
#   sh bench/net/soak.sh [--edges N] [--minutes M] [--restart-every S] [--out PREFIX]
#
# Every edge runs --plan k=5,c=8,coder=rans0 on Fashion-MNIST with
# --interval 50ms and --deadline 1s for the whole run (then stops). Reports
# requests answered by the cloud, computed locally (fallbacks), lost (frames
# an edge started and never answered: must be 0, checked from the ids), and
# the servers' RSS sampled every 5 s; writes PREFIX.md (a table) and
# PREFIX.png (RSS and answered requests over time, with gnuplot).
# Not part of `make test`.
set -eu
cd "$(dirname "$0")/../.."
JALAD=${JALAD:-build/jalad}
MODEL=models/fmnist-vgg.onnx
PY=/usr/bin/python3
EDGES=64
MINUTES=10
EVERY=120
OUT=soak
while [ $# -gt 0 ]; do
	case "$1" in
	--edges) EDGES=$2; shift 2 ;;
	--minutes) MINUTES=$2; shift 2 ;;
	--restart-every) EVERY=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	*) echo "usage: $0 [--edges N] [--minutes M] [--restart-every S] [--out PREFIX]" >&2; exit 2 ;;
	esac
done
command -v haproxy >/dev/null || { echo "soak: haproxy is not installed (scripts/deps.sh)" >&2; exit 1; }
work=$(mktemp -d)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	sleep 0.5
	for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done
	[ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P1=$(free_port)
P2=$(free_port)
HP=$(free_port)
start() { # start I: server I on its port, pid in S$I
	"$JALAD" serve "$MODEL" --listen "127.0.0.1:$(eval echo \$P$1)" --workers 1 --stats-interval 0 --max-per-source 0 \
		>>"$work/s$1.out" 2>>"$work/s$1.log" &
	eval "S$1=$!"
	PIDS="$PIDS $!"
}
start 1
start 2
cat >"$work/haproxy.cfg" <<CFG
global
	maxconn 1024
defaults
	mode tcp
	timeout connect 2s
	timeout client 60s
	timeout server 60s
frontend edges
	bind 127.0.0.1:$HP
	default_backend clouds
backend clouds
	balance leastconn
	option tcp-check
	default-server inter 200ms fall 2 rise 1
	server c1 127.0.0.1:$P1 check
	server c2 127.0.0.1:$P2 check
CFG
haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
PIDS="$PIDS $!"
sleep 1
secs=$((MINUTES * 60))
echo "soak: $EDGES edges, $MINUTES min, a server restarted every $EVERY s" >&2
EP=""
for e in $(seq "$EDGES"); do
	"$JALAD" edge "$MODEL" --cloud "127.0.0.1:$HP" --data fmnist --plan k=5,c=8,coder=rans0 --duration "${secs}s" \
		--interval 50ms --deadline 1s --offset $(((e * 97) % 9000)) --json >"$work/e$e.json" 2>"$work/e$e.err" &
	EP="$EP $!"
done
PIDS="$PIDS $EP"
t0=$(date +%s)
next=$EVERY
which=1
: >"$work/rss.tsv"
while :; do
	now=$(($(date +%s) - t0))
	[ "$now" -lt "$secs" ] || break
	r1=$(awk '/VmRSS/ { print $2 }' "/proc/$S1/status" 2>/dev/null || echo 0)
	r2=$(awk '/VmRSS/ { print $2 }' "/proc/$S2/status" 2>/dev/null || echo 0)
	n=$(cat "$work"/e*.json 2>/dev/null | grep -c '"fallback": false' || true)
	printf '%d\t%d\t%d\t%d\n' "$now" "$r1" "$r2" "$n" >>"$work/rss.tsv"
	if [ "$now" -ge "$next" ]; then
		pid=$(eval echo \$S$which)
		echo "soak: t=${now}s restarting server $which" >&2
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		start "$which"
		which=$((3 - which))
		next=$((next + EVERY))
	fi
	sleep 5
done
rc=0
for p in $EP; do wait "$p" || rc=1; done
$PY - "$work" "$EDGES" "$MINUTES" "$EVERY" "$OUT" "$rc" <<'PY'
import glob, json, os, subprocess, sys
work, edges, minutes, every, out, rc = sys.argv[1:7]
answered = local = lost = reqs = 0
bad = []
lat = []
for f in sorted(glob.glob(f'{work}/e*.json')):
    rows = [json.loads(l) for l in open(f) if l.strip()]
    summ = [r for r in rows if r.get('summary')]
    rows = [r for r in rows if not r.get('summary')]
    ids = [r['id'] for r in rows]
    if ids != list(range(1, len(ids) + 1)) or not summ or summ[0]['requests'] != len(rows):
        bad.append(os.path.basename(f))
    reqs += len(rows)
    local += sum(r['fallback'] for r in rows)
    answered += sum(not r['fallback'] for r in rows)
    lat += [r['total_ms'] for r in rows]
lost = len(bad)
lat.sort()
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
rss = [tuple(map(int, l.split())) for l in open(f'{work}/rss.tsv')]
def span(col):
    v = [r[col] for r in rss if r[col] > 0]
    return (min(v) / 1024, max(v) / 1024) if v else (0, 0)
first = [r for r in rss if r[0] >= 60]
md = [f'{edges} edges through HAProxy (leastconn) to two servers for {minutes} min, one server restarted '
      f'(SIGTERM, drained) every {every} s; each edge sends a frame every 50 ms with a 1 s deadline.', '',
      '| requests | answered by a cloud | computed locally | lost | p50 ms | p99 ms | server 1 RSS MiB (min-max) | server 2 RSS MiB (min-max) |',
      '|---|---|---|---|---|---|---|---|',
      f'| {reqs} | {answered} | {local} | {lost} | {p(0.5):.2f} | {p(0.99):.2f} | '
      f'{span(1)[0]:.0f}-{span(1)[1]:.0f} | {span(2)[0]:.0f}-{span(2)[1]:.0f} |']
if bad:
    md.append(f'\nEdges with missing or out-of-order answers: {", ".join(bad)} (edge exit status {rc})')
open(out + '.md', 'w').write('\n'.join(md) + '\n')
print('\n'.join(md))
script = f'''set terminal pngcairo size 900,420
set output "{out}.png"
set xlabel "seconds"
set ylabel "server RSS (MiB)"
set y2label "requests answered by a cloud"
set y2tics
set ytics nomirror
set key top left
plot "{work}/rss.tsv" using 1:($2/1024) with lines title "server 1 RSS", \\
     "" using 1:($3/1024) with lines title "server 2 RSS", \\
     "" using 1:4 axes x1y2 with lines title "answered (all edges)"
'''
try:
    subprocess.run(['gnuplot'], input=script, text=True, check=True, capture_output=True)
except Exception as e:
    print(f'(no plot: {e})')
PY
