#!/bin/sh
# Several cloud servers behind HAProxy (mode tcp, health-checked): an edge
# talks to the proxy, its requests are served, and when one server dies the
# edge loses nothing (fallback for what was in flight) and carries on with
# the other one. Loopback only.
set -u
JALAD=${JALAD:-build/jalad}
MODEL=models/fmnist-vgg.onnx
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
tmp=$(mktemp -d)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	sleep 0.2
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

if ! command -v haproxy >/dev/null 2>&1; then
	echo "haproxy is not installed (scripts/deps.sh installs it)"
	echo "haproxy: 0 passed, 1 failed"
	exit 1
fi

# Two servers on free loopback ports.
for i in 1 2; do
	"$JALAD" serve "$MODEL" --listen 127.0.0.1:0 --workers 1 --threads 1 --port-file "$tmp/port$i" \
		--stats-interval 0 >"$tmp/s$i.out" 2>"$tmp/s$i.log" &
	eval "S$i=$!"
	PIDS="$PIDS $!"
done
for i in $(seq 50); do
	[ -s "$tmp/port1" ] && [ -s "$tmp/port2" ] && break
	sleep 0.1
done
P1=$(cat "$tmp/port1" 2>/dev/null)
P2=$(cat "$tmp/port2" 2>/dev/null)
[ -n "$P1" ] && [ -n "$P2" ] && ok "two servers listening on $P1 and $P2" || bad "servers did not start"

# A free port for the proxy.
HP=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/haproxy.cfg" <<CFG
global
	maxconn 256
defaults
	mode tcp
	timeout connect 2s
	timeout client 30s
	timeout server 30s
frontend edges
	bind 127.0.0.1:$HP
	default_backend clouds
backend clouds
	balance roundrobin
	option tcp-check
	default-server inter 200ms fall 2 rise 1
	server c1 127.0.0.1:$P1 check
	server c2 127.0.0.1:$P2 check
CFG
haproxy -db -f "$tmp/haproxy.cfg" >"$tmp/haproxy.log" 2>&1 &
PIDS="$PIDS $!"
sleep 0.5

field() { sed -n "s/.*\"$2\": *\\([-0-9.a-z]*\\).*/\\1/p" "$1" | tail -n 1; }

# Two edges through the proxy: round robin puts one on each server.
for e in 1 2; do
	"$JALAD" edge "$MODEL" --cloud "127.0.0.1:$HP" --data fmnist --limit 100 --plan k=5,c=8,coder=rans0 \
		--json >"$tmp/e$e.json" 2>"$tmp/e$e.err" &
	eval "E$e=$!"
done
wait "$E1"; r1=$?
wait "$E2"; r2=$?
for e in 1 2; do
	n=$(grep -c '"id"' "$tmp/e$e.json")
	fb=$(grep -c '"fallback": true' "$tmp/e$e.json")
	acc=$(field "$tmp/e$e.json" accuracy)
	if [ "$n" -ge 100 ] && [ "$fb" = 0 ]; then
		ok "edge $e through haproxy: $n requests served by the cloud, accuracy $acc"
	else
		bad "edge $e: $n requests, $fb fallbacks (exit $r1/$r2): $(tail -c 300 "$tmp/e$e.err")"
	fi
done
[ -s "$tmp/s1.out" ] && [ -s "$tmp/s2.out" ] && ok "both servers up behind the proxy" || bad "a server did not report listening"

# One server dies mid-run: nothing is lost, the edge goes on via the other.
# To be sure the edge is on the server that dies, S2 is down while it
# connects, and back before S1 is killed.
kill -9 "$S2" 2>/dev/null
sleep 0.8
"$JALAD" edge "$MODEL" --cloud "127.0.0.1:$HP" --data fmnist --limit 100 --interval 25ms \
	--plan k=5,c=8,coder=rans0 --deadline 2s --json >"$tmp/e3.json" 2>"$tmp/e3.err" &
E3=$!
"$JALAD" serve "$MODEL" --listen "127.0.0.1:$P2" --workers 1 --threads 1 --stats-interval 0 \
	>"$tmp/s2b.out" 2>"$tmp/s2b.log" &
PIDS="$PIDS $!"
sleep 1.2
kill -9 "$S1" 2>/dev/null
wait "$E3"; r3=$?
n=$(grep -c '"id"' "$tmp/e3.json")
fb=$(grep -c '"fallback": true' "$tmp/e3.json")
cloud=$((n - fb))
if [ "$r3" = 0 ] && [ "$n" -ge 10 ] && [ "$fb" -ge 1 ] && grep -q '"summary": true' "$tmp/e3.json"; then
	ok "server killed mid-run: all $n requests answered ($fb by fallback, $cloud by the cloud)"
else
	bad "server killed mid-run: $n answers, $fb fallbacks, exit $r3: $(tail -c 300 "$tmp/e3.err")"
fi
# New connections go to the live server: the cloud serves again.
last=$(grep '"id"' "$tmp/e3.json" | tail -n 20 | grep -c '"fallback": false')
[ "$last" -ge 15 ] && ok "after the failover the other server serves ($last of the last 20 requests)" ||
	bad "after the failover: only $last of the last 20 served by the cloud"

echo "haproxy: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
