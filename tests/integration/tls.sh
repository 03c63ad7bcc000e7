#!/bin/sh
# TLS modes of `jalad serve` / `jalad edge` and every wrong pairing, on
# loopback. The edge talks to the server through a small TCP tap that
# records what the edge writes on each connection (its bytes and TLS
# records), so "no feature map left the edge" is checked on the wire:
#   - matching pairs are served: certificate (self-signed, or a CA's with
#     the name checked), pinned key or certificate, pin + CA, mutual, PSK;
#     their connections carry more than one feature map
#   - each wrong pairing (PSK edge vs certificate or mutual server,
#     certificate or pin edge vs PSK server, wrong PSK or identity, an
#     untrusted self-signed server, another CA, a wrong name, a wrong pin,
#     mutual server vs an edge without or with a foreign client
#     certificate, plain vs TLS either way) is refused: every request falls
#     back with the TLS error as its reason, the server serves nothing, and
#     no connection carries as many bytes as one feature map
#   - setups that would trust anything or mix modes are usage errors, and
#     such an edge opens no connection at all
# Ends with "tls: N passed, N failed".
set -u
JALAD=${JALAD:-build/jalad}
PY=/usr/bin/python3
MODEL=models/fmnist-vgg.onnx
LIMIT=3
pass=0
fail=0
tmp=$(mktemp -d)
PIDS=""
SRV_PID=""
TAP_PID=""

cleanup() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	sleep 0.2
	for p in $PIDS; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	[ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

finish() {
	echo "tls: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}

if [ ! -f "$MODEL" ]; then
	bad "$MODEL is missing"
	finish
fi
if ! command -v openssl >/dev/null; then
	bad "openssl is missing (scripts/deps.sh installs it)"
	finish
fi

# wait_file F: until F is non-empty, at most 10 s.
wait_file() {
	i=0
	while [ ! -s "$1" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -s "$1" ]
}

# start_server NAME [ARGS...]: `jalad serve` on a free loopback port; sets
# SRV_PID and SRV_PORT; log in $tmp/NAME.log.
start_server() {
	name=$1
	shift
	"$JALAD" serve "$MODEL" --listen 127.0.0.1:0 --port-file "$tmp/$name.port" --workers 1 \
		--stats-interval 0 "$@" >"$tmp/$name.out" 2>"$tmp/$name.log" &
	SRV_PID=$!
	PIDS="$PIDS $SRV_PID"
	wait_file "$tmp/$name.port" || { echo "server $name did not start:"; cat "$tmp/$name.log"; }
	SRV_PORT=$(cat "$tmp/$name.port" 2>/dev/null)
}

# stop NAME PID: SIGTERM, then wait (bounded: SIGKILL after 10 s).
stop() {
	kill "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# The tap: accepts on a free loopback port (written to argv[1]), forwards
# each connection to 127.0.0.1:argv[2], and when it ends appends a JSON
# line to argv[3]: bytes the edge wrote ("up"), the TLS records in them
# ([type, length], read from the 5-byte record headers), bytes back.
# SIGTERM writes the connections still open too, then exits.
cat >"$tmp/tap.py" <<'PY'
import json, os, signal, socket, sys, threading
port_file, target, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
live = {}

def dump(stat):
    # under lock: each connection once
    if live.pop(stat['conn'], None) is not None:
        with open(log, 'a') as f:
            f.write(json.dumps(stat) + '\n')

def on_term(sig, frame):
    with lock:
        for st in list(live.values()):
            dump(st)
    os._exit(0)

signal.signal(signal.SIGTERM, on_term)
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('127.0.0.1', 0))
srv.listen(64)
with open(port_file + '.tmp', 'w') as f:
    f.write('%d\n' % srv.getsockname()[1])
os.rename(port_file + '.tmp', port_file)

def pump(src, dst, stat, key, records):
    buf = b''
    try:
        while True:
            d = src.recv(65536)
            if not d:
                break
            stat[key] += len(d)
            if records is not None:
                buf += d
                while len(buf) >= 5:
                    n = int.from_bytes(buf[3:5], 'big')
                    if len(buf) < 5 + n:
                        break
                    records.append([buf[0], n])
                    buf = buf[5 + n:]
            dst.sendall(d)
    except OSError:
        pass
    for s in (dst, src):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

def serve(conn, idx):
    stat = {'conn': idx, 'up': 0, 'down': 0, 'records': []}
    with lock:
        live[idx] = stat
    try:
        up = socket.create_connection(('127.0.0.1', target), timeout=5)
        up.settimeout(None)
    except OSError:
        conn.close()
        with lock:
            dump(stat)
        return
    t = threading.Thread(target=pump, args=(up, conn, stat, 'down', None))
    t.start()
    pump(conn, up, stat, 'up', stat['records'])
    t.join()
    conn.close()
    up.close()
    with lock:
        dump(stat)

i = 0
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c, i), daemon=True).start()
    i += 1
PY

# start_tap NAME TARGET_PORT: sets TAP_PID and TAP_PORT; log $tmp/NAME.tap.
start_tap() {
	: >"$tmp/$1.tap"
	$PY "$tmp/tap.py" "$tmp/$1.tapport" "$2" "$tmp/$1.tap" 2>"$tmp/$1.taperr" &
	TAP_PID=$!
	PIDS="$PIDS $TAP_PID"
	wait_file "$tmp/$1.tapport" || { echo "tap $1 did not start:"; cat "$tmp/$1.taperr"; }
	TAP_PORT=$(cat "$tmp/$1.tapport" 2>/dev/null)
}

# edge NAME ARGS...: LIMIT requests at a float32 cut through the tap.
edge() {
	name=$1
	shift
	timeout 120 "$JALAD" edge "$MODEL" --data fmnist --json --cloud "127.0.0.1:$TAP_PORT" --plan k=5,c=0 \
		--limit $LIMIT --connect-timeout 2s "$@" >"$tmp/$name.json" 2>"$tmp/$name.err"
	echo $? >"$tmp/$name.rc"
}

# ---------------------------------------------------------------- credentials
# a, x: self-signed (x: made now, trusted by nobody); ca, ca2: two CAs;
# s: a server certificate from ca; c: a client certificate from ca,
# c2: one from ca2, cs: a self-signed client certificate.
gen_self() {
	timeout 30 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
		-keyout "$tmp/$1.key" -out "$tmp/$1.crt" -subj "/CN=$2" $3 >/dev/null 2>&1
}
# gen_leaf NAME CA CN EXT
gen_leaf() {
	timeout 30 openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$tmp/$1.key" -out "$tmp/$1.csr" -subj "/CN=$3" >/dev/null 2>&1 &&
		printf '%s\n' "$4" >"$tmp/$1.ext" &&
		timeout 30 openssl x509 -req -in "$tmp/$1.csr" -CA "$tmp/$2.crt" -CAkey "$tmp/$2.key" \
			-CAcreateserial -days 1 -extfile "$tmp/$1.ext" -out "$tmp/$1.crt" >/dev/null 2>&1
}
SAN="-addext subjectAltName=IP:127.0.0.1,DNS:localhost"
gen_self a localhost "$SAN" && gen_self x localhost "$SAN" &&
	gen_self ca "jalad test CA" "-addext basicConstraints=critical,CA:TRUE" &&
	gen_self ca2 "another CA" "-addext basicConstraints=critical,CA:TRUE" &&
	gen_leaf s ca localhost "subjectAltName=IP:127.0.0.1,DNS:localhost" &&
	gen_leaf c ca "edge 1" "extendedKeyUsage=clientAuth" &&
	gen_leaf c2 ca2 "edge 2" "extendedKeyUsage=clientAuth" &&
	gen_self cs "edge 3" "" ||
	{
		bad "openssl could not make the test certificates"
		finish
	}
echo "jalad:$(openssl rand -hex 32)" >"$tmp/p1.psk"
echo "jalad:$(openssl rand -hex 32)" >"$tmp/p2.psk"
echo "other:$(cut -d: -f2 "$tmp/p1.psk")" >"$tmp/p1other.psk"
# Pins: SHA-256 of a's public key (DER SubjectPublicKeyInfo), of a's whole
# certificate as `openssl x509 -fingerprint` prints it (with colons), and
# of x's key (a wrong pin for a).
spki() {
	openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1
}
PIN_A=$(spki "$tmp/a.crt")
PIN_S=$(spki "$tmp/s.crt")
PIN_X=$(spki "$tmp/x.crt")
FPR_A=$(openssl x509 -in "$tmp/a.crt" -noout -fingerprint -sha256 | cut -d= -f2)
[ ${#PIN_A} = 64 ] && [ ${#FPR_A} = 95 ] || bad "could not compute the pins ('$PIN_A', '$FPR_A')"

SRV_A="--tls-cert $tmp/a.crt --tls-key $tmp/a.key"
SRV_X="--tls-cert $tmp/x.crt --tls-key $tmp/x.key"
SRV_S="--tls-cert $tmp/s.crt --tls-key $tmp/s.key"
SRV_MUTUAL="$SRV_S --tls-ca $tmp/ca.crt"
SRV_PSK="--psk-file $tmp/p1.psk"

# run_case NAME SERVER-ARGS -- EDGE-ARGS: a server, the tap before it, an
# edge through the tap; leaves $tmp/NAME.{json,err,log,tap}.
run_case() {
	cname=$1
	shift
	sargs=""
	while [ "$1" != "--" ]; do
		sargs="$sargs $1"
		shift
	done
	shift
	# shellcheck disable=SC2086
	start_server "$cname" $sargs
	start_tap "$cname" "$SRV_PORT"
	edge "$cname" "$@"
	stop "$TAP_PID"
	stop "$SRV_PID"
}

# Checks over one case's files; the python prints the reason on failure.
check_served() {
	$PY - "$tmp/$1.json" "$tmp/$1.tap" "$tmp/$1.log" "$LIMIT" <<'PY'
import json, re, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
summ = rows[-1]
rows = rows[:-1]
taps = [json.loads(l) for l in open(sys.argv[2])]
log = open(sys.argv[3]).read()
limit = int(sys.argv[4])
assert summ.get('summary') and summ['requests'] == limit, summ
assert summ['fallbacks'] == 0, [r.get('reason') for r in rows]
m = re.search(r'served (\d+) requests', log)
assert m and int(m.group(1)) == limit, log[-300:]
fm = min(r['bytes'] for r in rows)
assert taps and sum(t['up'] for t in taps) > limit * fm, (taps, fm)
print(f"{fm} {sum(t['up'] for t in taps)}")
PY
}

# check_refused NAME REGEX: every request fell back, the first with a
# reason matching REGEX; the server served none; the tap saw the edge
# connect and no connection carried a feature map's worth of bytes.
check_refused() {
	$PY - "$tmp/$1.json" "$tmp/$1.tap" "$tmp/$1.log" "$LIMIT" "$FM" "$2" <<'PY'
import json, re, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
summ = rows[-1]
rows = rows[:-1]
taps = [json.loads(l) for l in open(sys.argv[2])]
log = open(sys.argv[3]).read()
limit, fm, want = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
assert summ.get('summary') and summ['requests'] == limit, summ
assert summ['fallbacks'] == limit, f"{summ['fallbacks']} of {limit} fell back"
reason = rows[0].get('reason', '')
assert re.search(want, reason), f"reason '{reason}' does not match '{want}'"
m = re.search(r'served (\d+) requests', log)
assert m and int(m.group(1)) == 0, 'the server served requests: ' + log[-300:]
assert taps, 'the edge never connected: the case tests nothing'
up = max(t['up'] for t in taps)
assert up < fm, f'a connection carried {up} bytes from the edge, a feature map is {fm}'
app = max(sum(n for ty, n in t['records'] if ty == 23) for t in taps)
print(f"{len(taps)} connections, at most {up} bytes from the edge ({app} encrypted), "
      f"a feature map {fm}; reason: {reason[:150]}")
PY
}

# ---------------------------------------------------------------- matching pairs
FM=""
served() {
	cname=$1
	shift
	run_case "$cname" "$@"
	if out=$(check_served "$cname" 2>&1); then
		[ -n "$FM" ] || FM=$(echo "$out" | cut -d' ' -f1)
		ok "$cname: served, $(echo "$out" | cut -d' ' -f2) bytes from the edge for $LIMIT requests of $(echo "$out" | cut -d' ' -f1) bytes"
	else
		bad "$cname: not served: $(echo "$out" | tail -n 3) $(head -c 300 "$tmp/$cname.err")"
	fi
}
# shellcheck disable=SC2086
{
	served cert $SRV_A -- --tls-ca "$tmp/a.crt"
	served cert-ca $SRV_S -- --tls-ca "$tmp/ca.crt"
	served cert-ca-name $SRV_S -- --tls-ca "$tmp/ca.crt" --tls-name localhost
	served pin-key $SRV_A -- --tls-pin "$PIN_A"
	served pin-cert $SRV_A -- --tls-pin "$FPR_A"
	served pin-list $SRV_A -- --tls-pin "$PIN_X,$PIN_A"
	served pin-and-ca $SRV_S -- --tls-ca "$tmp/ca.crt" --tls-pin "$PIN_S"
	served mutual $SRV_MUTUAL -- --tls-ca "$tmp/ca.crt" --tls-cert "$tmp/c.crt" --tls-key "$tmp/c.key"
	served mutual-pin $SRV_MUTUAL -- --tls-pin "$PIN_S" --tls-cert "$tmp/c.crt" --tls-key "$tmp/c.key"
	served psk $SRV_PSK -- --psk-file "$tmp/p1.psk"
}
if [ -z "$FM" ]; then
	bad "no matching pair was served: the feature map size is unknown"
	finish
fi

# ---------------------------------------------------------------- wrong pairings
refused() {
	cname=$1
	want=$2
	shift 2
	run_case "$cname" "$@"
	if out=$(check_refused "$cname" "$want" 2>&1); then
		ok "$cname: refused, $out"
	else
		bad "$cname: $(echo "$out" | tail -n 1) $(head -c 300 "$tmp/$cname.err")"
	fi
}
PSK_REFUSES="certificate instead of the pre-shared key"
# A TLS 1.3 client has finished its handshake before the server checks its
# certificate: the refusal is an alert after it (or, racing it, a reset).
CLIENT_REFUSED="does not trust this side's certificate|refuses this edge's"
# shellcheck disable=SC2086
{
	refused psk-edge-vs-untrusted-cert-server "$PSK_REFUSES" $SRV_X -- --psk-file "$tmp/p1.psk"
	refused psk-edge-vs-ca-cert-server "$PSK_REFUSES" $SRV_S -- --psk-file "$tmp/p1.psk"
	refused psk-edge-vs-mutual-server "$PSK_REFUSES" $SRV_MUTUAL -- --psk-file "$tmp/p1.psk"
	refused cert-edge-vs-psk-server "handshake failure.*PSK" $SRV_PSK -- --tls-ca "$tmp/a.crt"
	refused pin-edge-vs-psk-server "handshake failure.*PSK" $SRV_PSK -- --tls-pin "$PIN_A"
	refused mutual-edge-vs-psk-server "handshake failure.*PSK" $SRV_PSK -- \
		--tls-ca "$tmp/ca.crt" --tls-cert "$tmp/c.crt" --tls-key "$tmp/c.key"
	refused wrong-psk "pre-shared keys differ" $SRV_PSK -- --psk-file "$tmp/p2.psk"
	refused wrong-psk-identity "another PSK identity" $SRV_PSK -- --psk-file "$tmp/p1other.psk"
	refused untrusted-self-signed "not trusted: self.signed certificate" $SRV_X -- --tls-ca "$tmp/a.crt"
	refused self-signed-vs-ca "not trusted: self.signed certificate" $SRV_X -- --tls-ca "$tmp/ca.crt"
	refused other-ca "not trusted: unable to get local issuer" $SRV_S -- --tls-ca "$tmp/ca2.crt"
	refused wrong-name "not trusted: [Hh]ostname mismatch" $SRV_S -- --tls-ca "$tmp/ca.crt" --tls-name cloud.example
	refused wrong-pin "matches no pin" $SRV_X -- --tls-pin "$PIN_A"
	refused pin-ok-ca-wrong "not trusted" $SRV_S -- --tls-ca "$tmp/ca2.crt" --tls-pin "$PIN_S"
	refused pin-wrong-ca-ok "matches no pin" $SRV_S -- --tls-ca "$tmp/ca.crt" --tls-pin "$PIN_A"
	refused mutual-no-client-cert "requires a client certificate|refuses this edge's" $SRV_MUTUAL -- --tls-ca "$tmp/ca.crt"
	refused mutual-client-cert-other-ca "$CLIENT_REFUSED" $SRV_MUTUAL -- \
		--tls-ca "$tmp/ca.crt" --tls-cert "$tmp/c2.crt" --tls-key "$tmp/c2.key"
	refused mutual-self-signed-client "$CLIENT_REFUSED" $SRV_MUTUAL -- \
		--tls-ca "$tmp/ca.crt" --tls-cert "$tmp/cs.crt" --tls-key "$tmp/cs.key"
	refused plain-edge-vs-tls-server "closed|reset|EOF|timed out|protocol" $SRV_A --
	refused tls-edge-vs-plain-server "does not speak TLS|closed|reset" -- --tls-ca "$tmp/a.crt"
	refused psk-edge-vs-plain-server "does not speak TLS|closed|reset" -- --psk-file "$tmp/p1.psk"
}
# The server side names why it dropped the edge.
for c in psk-edge-vs-untrusted-cert-server cert-edge-vs-psk-server wrong-psk mutual-no-client-cert \
	mutual-client-cert-other-ca; do
	if grep -q "TLS handshake failed" "$tmp/$c.log"; then
		ok "$c: the server logs $(grep -m1 -o 'TLS handshake failed: .*' "$tmp/$c.log" | cut -c1-140)"
	else
		bad "$c: no 'TLS handshake failed' in the server log: $(tail -c 300 "$tmp/$c.log")"
	fi
done

# ---------------------------------------------------------------- setups refused before connecting
# usage NAME EXIT REGEX EDGE-ARGS: the edge exits EXIT with REGEX on stderr
# and the tap (pointing nowhere useful) sees no connection.
usage() {
	cname=$1
	want_rc=$2
	want=$3
	shift 3
	start_tap "$cname" 9
	edge "$cname" "$@"
	stop "$TAP_PID"
	rc=$(cat "$tmp/$cname.rc")
	if [ "$rc" = "$want_rc" ] && grep -q -- "$want" "$tmp/$cname.err" && [ ! -s "$tmp/$cname.tap" ]; then
		ok "$cname: exit $rc, no connection: $(grep -m1 -- "$want" "$tmp/$cname.err" | cut -c1-140)"
	else
		bad "$cname: exit $rc (want $want_rc), $(wc -l <"$tmp/$cname.tap") connections: $(head -c 300 "$tmp/$cname.err")"
	fi
}
usage edge-cert-without-ca 2 "needs --tls-ca or --tls-pin" --tls-cert "$tmp/c.crt" --tls-key "$tmp/c.key"
usage edge-name-without-ca 2 "needs --tls-ca or --tls-pin" --tls-name localhost --tls-cert "$tmp/c.crt" \
	--tls-key "$tmp/c.key"
usage edge-name-alone 2 "needs --tls-ca or --tls-pin" --tls-name localhost
usage edge-name-with-pin 2 "tls-name needs --tls-ca" --tls-pin "$PIN_A" --tls-name localhost
usage edge-psk-and-name 2 "tls-name needs --tls-ca" --psk-file "$tmp/p1.psk" --tls-name localhost
usage edge-psk-and-ca 2 "not both" --psk-file "$tmp/p1.psk" --tls-ca "$tmp/a.crt"
usage edge-psk-and-pin 2 "not both" --psk-file "$tmp/p1.psk" --tls-pin "$PIN_A"
usage edge-bad-pin 1 "64 hex digits" --tls-pin "${PIN_A%??}"
usage edge-bad-pin-hex 1 "64 hex digits" --tls-pin "$(echo "$PIN_A" | sed 's/^./g/')"

timeout 10 "$JALAD" serve "$MODEL" --listen 127.0.0.1:0 --psk-file "$tmp/p1.psk" --tls-ca "$tmp/ca.crt" \
	>"$tmp/srvmix.out" 2>"$tmp/srvmix.err"
src=$?
if [ $src = 2 ] && grep -q "not both" "$tmp/srvmix.err" && ! grep -q listening "$tmp/srvmix.out"; then
	ok "serve --psk-file with --tls-ca: refused ($(head -n1 "$tmp/srvmix.err" | cut -c1-100))"
else
	bad "serve --psk-file with --tls-ca: exit $src, $(head -c 200 "$tmp/srvmix.err")"
fi

# ---------------------------------------------------------------- sanitizers
# (with make SANITIZE=address,undefined: a report in any server or edge log)
if grep -l "AddressSanitizer\|LeakSanitizer\|runtime error:" "$tmp"/*.log "$tmp"/*.err >"$tmp/san.list" 2>/dev/null; then
	bad "sanitizer reports in: $(tr '\n' ' ' <"$tmp/san.list")"
else
	ok "no sanitizer report in any server or edge log"
fi

finish
