#!/bin/sh
# The server under hostile connections, on loopback only:
#   - HELLO values outside sane bounds (caps 0, no coder, unknown coders,
#     max_frame 16 or 0) are refused with a protocol error naming the
#     field; a sane HELLO is answered
#   - deadlines: a connection idle, dripping a HELLO or sending half of one
#     is closed at --hello-timeout; one past HELLO dripping a frame at
#     --frame-timeout (bytes must average --min-rate), not at the idle timeout
#   - the per-source limit refuses the connections over it, other sources
#     still get in
#   - 2000 hostile connections (idle, dripping one byte a second, a HELLO
#     cut in half; and a few that finish HELLO and then drip a frame) from
#     20 source addresses in 127.0.0.0/8 against a table of 256 while 8
#     real edges run: every real request is answered by the cloud (no
#     fallback, none lost), the hostile ones are shed or cut by the HELLO
#     deadline and the frame rate, long before the idle timeout; p99 latency
#     reported
#   - --metrics: Prometheus text scraped with curl parses, and its counters
#     move (requests, bytes, hold-time histogram, dictionary uploads,
#     handshakes refused, connections shed and timed out)
# Ends with "flood: N passed, N failed".
set -u
JALAD=${JALAD:-build/jalad}
PY=/usr/bin/python3
MODEL=models/fmnist-vgg.onnx
pass=0
fail=0
tmp=$(mktemp -d)
PIDS=""

cleanup() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	sleep 0.3
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

for f in "$MODEL" "$JALAD"; do
	if [ ! -e "$f" ]; then
		echo "flood: $f is missing"
		echo "flood: 0 passed, 1 failed"
		exit 1
	fi
done
if ! command -v curl >/dev/null 2>&1; then
	echo "flood: curl is missing (scripts/deps.sh installs it)"
	echo "flood: 0 passed, 1 failed"
	exit 1
fi
# 2000 hostile sockets in one process, plus the server's.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null

# start_server NAME [ARGS...]: `jalad serve` on a free loopback port with
# metrics on another; sets SRV_PID, SRV_PORT, MET_PORT; log in $tmp/NAME.log.
start_server() {
	name=$1
	shift
	rm -f "$tmp/$name.port"
	"$JALAD" serve "$MODEL" --listen 127.0.0.1:0 --port-file "$tmp/$name.port" --metrics 127.0.0.1:0 \
		--stats-interval 1s "$@" >"$tmp/$name.out" 2>"$tmp/$name.log" &
	SRV_PID=$!
	PIDS="$PIDS $SRV_PID"
	i=0
	while [ ! -s "$tmp/$name.port" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	SRV_PORT=$(cat "$tmp/$name.port" 2>/dev/null)
	MET_PORT=$(sed -n 's/^metrics on port \([0-9]*\)$/\1/p' "$tmp/$name.out")
	[ -n "$SRV_PORT" ] && [ -n "$MET_PORT" ] || { echo "server $name did not start:"; cat "$tmp/$name.log"; }
}

stop_server() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# scrape FILE: GET /metrics into FILE.
scrape() { curl -s -f --max-time 5 "http://127.0.0.1:$MET_PORT/metrics" >"$1"; }

# metric FILE NAME{LABELS}: the value of that sample (empty if absent).
metric() {
	$PY - "$1" "$2" <<'PY'
import sys
want = sys.argv[2]
for l in open(sys.argv[1]):
    if not l.startswith('#'):
        name, _, v = l.rstrip('\n').rpartition(' ')
        if name == want:
            print(v)
PY
}

edge() { "$JALAD" edge "$MODEL" --data fmnist --json "$@"; }

# The raw-socket side of the tests: frames written by hand (CRC-32C
# included), hostile connections in bulk.
cat >"$tmp/wire.py" <<'PY'
import hashlib, socket, struct

def _table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t
_T = _table()

def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = _T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF

def frame(ftype, payload):
    h = b'JLDN' + struct.pack('<BBHI', 1, ftype, 0, len(payload))
    return h + payload + struct.pack('<I', crc32c(h + payload))

def model_sha(path):
    return hashlib.sha256(open(path, 'rb').read()).digest()

def hello(sha, caps=(1 << 16) | 0x1FF, max_frame=64 << 20, name=b'flood', protocol=4):
    p = struct.pack('<I', protocol) + sha + struct.pack('<III', caps, max_frame, 0)
    p += struct.pack('<H', len(name)) + name + struct.pack('<H', 0)
    return frame(1, p)

def read_frame(s, timeout=5.0):
    """(type, payload) of the next frame, or None on EOF."""
    s.settimeout(timeout)
    buf = b''
    while len(buf) < 12:
        d = s.recv(12 - len(buf))
        if not d:
            return None
        buf += d
    n = struct.unpack('<I', buf[8:12])[0]
    rest = b''
    while len(rest) < n + 4:
        d = s.recv(n + 4 - len(rest))
        if not d:
            return None
        rest += d
    return buf[5], rest[:n]

def error_msg(payload):
    code = struct.unpack('<i', payload[8:12])[0]
    n = struct.unpack('<H', payload[12:14])[0]
    return code, payload[14:14 + n].decode('utf-8', 'replace')
PY

# ---------------------------------------------------------------- HELLO bounds
start_server h --max-per-source 10 --hello-timeout 2s --frame-timeout 1s
H=$SRV_PORT
scrape "$tmp/m0.txt"
if msg=$(PYTHONPATH=$tmp $PY - "$H" "$MODEL" <<'PY'
import socket, sys, wire
port, sha = int(sys.argv[1]), wire.model_sha(sys.argv[2])
PROTOCOL = -14
cases = [
    ('caps = 0', dict(caps=0), 'caps'),
    ('caps with only the CRC bit', dict(caps=1 << 16), 'caps'),
    ('caps naming coder 12', dict(caps=(1 << 16) | 0x1FF | (1 << 12)), 'caps'),
    ('max_frame = 16', dict(max_frame=16), 'max_frame'),
    ('max_frame = 0', dict(max_frame=0), 'max_frame'),
]
out = []
for what, kw, field in cases:
    s = socket.create_connection(('127.0.0.1', port))
    s.sendall(wire.hello(sha, **kw))
    f = wire.read_frame(s)
    s.close()
    assert f and f[0] == 4, (what, 'no ERROR frame', f)
    code, m = wire.error_msg(f[1])
    assert code == PROTOCOL, (what, code, m)
    assert 'HELLO field ' + field in m, (what, m)
    out.append(field)
s = socket.create_connection(('127.0.0.1', port))
s.sendall(wire.hello(sha))
f = wire.read_frame(s)
assert f and f[0] == 1, ('a sane HELLO is not answered', f)
s.close()
print(', '.join(out))
PY
); then
	ok "HELLO out of bounds refused with a protocol error naming the field ($msg); a sane one answered"
else
	bad "HELLO bounds: $msg"
fi

# --max-per-source 10: 15 from 127.0.0.9, the last 5 closed at once; the
# table is not full, so 127.0.0.10 still gets in.
if msg=$(PYTHONPATH=$tmp $PY - "$H" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
socks = []
for i in range(15):
    s = socket.socket()
    s.bind(('127.0.0.9', 0))
    s.connect(('127.0.0.1', port))
    socks.append(s)
time.sleep(0.5)
closed = 0
for s in socks:
    s.setblocking(False)
    try:
        d = s.recv(1)
        closed += d == b''
    except BlockingIOError:
        pass
    except ConnectionError:
        closed += 1
other = socket.socket()
other.bind(('127.0.0.10', 0))
other.connect(('127.0.0.1', port))
time.sleep(0.3)
other.setblocking(False)
try:
    other_ok = other.recv(1) != b''
except BlockingIOError:
    other_ok = True
assert closed == 5, ('closed', closed)
assert other_ok, 'another source was refused too'
print(closed)
PY
); then
	ok "--max-per-source 10: the 5 connections over it closed at once, another address still accepted"
else
	bad "per-source limit: $msg"
fi
# Deadlines (--hello-timeout 2s, --frame-timeout 1s, --min-rate 1024, the
# idle timeout 60 s): 3 connections of each kind, their lifetimes measured.
if msg=$(PYTHONPATH=$tmp $PY - "$H" "$MODEL" <<'PY'
import socket, sys, time, wire
port, sha = int(sys.argv[1]), wire.model_sha(sys.argv[2])
HELLO = wire.hello(sha)
REQ = wire.frame(2, bytes(64))
conns = []
for i, kind in enumerate(('idle', 'drip', 'half', 'frame-drip')):
    for _ in range(3):
        s = socket.create_connection(('127.0.0.1', port), source_address=('127.0.0.%d' % (11 + i), 0))
        if kind == 'half':
            s.sendall(HELLO[:len(HELLO) // 2])
        if kind == 'frame-drip':
            s.sendall(HELLO)
            assert wire.read_frame(s)[0] == 1
        s.setblocking(False)
        conns.append({'kind': kind, 's': s, 't0': time.monotonic(), 'sent': 0, 'end': None})
t_stop = time.monotonic() + 8
while time.monotonic() < t_stop and any(c['end'] is None for c in conns):
    for c in conns:
        if c['end'] is not None:
            continue
        try:
            if c['s'].recv(1) == b'':
                c['end'] = time.monotonic() - c['t0']
                continue
        except BlockingIOError:
            pass
        except ConnectionError:
            c['end'] = time.monotonic() - c['t0']
            continue
        data = HELLO if c['kind'] == 'drip' else REQ if c['kind'] == 'frame-drip' else b''
        if c['sent'] < len(data):
            try:
                c['s'].send(data[c['sent']:c['sent'] + 1]) # one byte per 0.25 s
                c['sent'] += 1
            except OSError:
                pass
    time.sleep(0.25)
life = {}
for c in conns:
    life.setdefault(c['kind'], []).append(c['end'])
for k, v in life.items():
    assert all(x is not None for x in v), (k, 'still open after 8 s', v)
for k in ('idle', 'drip', 'half'):
    assert all(1.9 <= x <= 3.0 for x in life[k]), (k, life[k])
# the frame starts with its first byte, a moment after HELLO
assert all(0.9 <= x <= 2.5 for x in life['frame-drip']), ('frame-drip', life['frame-drip'])
print(', '.join('%s %.1f s' % (k, max(v)) for k, v in life.items()))
PY
); then
	ok "deadlines: closed by the HELLO deadline (2 s) or the frame rate (1 s grace), not the idle timeout: $msg"
else
	bad "deadlines: $msg"
fi
scrape "$tmp/m1.txt"
th=$(metric "$tmp/m1.txt" 'jalad_connections_timed_out_total{reason="hello"}')
tf=$(metric "$tmp/m1.txt" 'jalad_connections_timed_out_total{reason="frame"}')
if [ "${th:-x}" = 9 ] && [ "${tf:-x}" = 3 ]; then
	ok "metrics: timed out at HELLO 9, at the frame rate 3"
else
	bad "metrics: timed out at HELLO ${th:-?} (want 9), at the frame rate ${tf:-?} (want 3)"
fi
hs0=$(metric "$tmp/m0.txt" jalad_handshakes_refused_total)
hs1=$(metric "$tmp/m1.txt" jalad_handshakes_refused_total)
ps1=$(metric "$tmp/m1.txt" 'jalad_connections_refused_total{reason="per_source"}')
if [ "${hs0:-x}" = 0 ] && [ "${hs1:-x}" = 5 ] && [ "${ps1:-x}" = 5 ]; then
	ok "metrics: handshakes refused 0 -> 5, per-source refusals 5"
else
	bad "metrics: handshakes refused $hs0 -> $hs1, per-source $ps1"
fi
stop_server "$SRV_PID"

# ---------------------------------------------------------------- metrics
# A calibration with a shared dictionary, so an edge uploads one.
"$JALAD" calibrate "$MODEL" --data fmnist --limit 50 --bits 4 --quant tensor --coders huffman-shared \
	-o "$tmp/calib.json" >"$tmp/calib.log" 2>&1 || bad "calibrate: $(tail -n 3 "$tmp/calib.log")"
start_server m --workers 2
M=$SRV_PORT
scrape "$tmp/a.txt"
edge --cloud 127.0.0.1:$M --plan k=5,c=8,coder=raw --limit 40 >"$tmp/e1.json" 2>"$tmp/e1.err"
edge --cloud 127.0.0.1:$M --plan k=5,c=4,coder=huffman-shared --calib "$tmp/calib.json" --limit 10 \
	>"$tmp/e2.json" 2>"$tmp/e2.err"
scrape "$tmp/b.txt"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$MET_PORT/nothing")
ctype=$(curl -s -o /dev/null -w '%{content_type}' --max-time 5 "http://127.0.0.1:$MET_PORT/metrics")
if msg=$($PY - "$tmp/a.txt" "$tmp/b.txt" <<'PY'
import re, sys
line = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*\})? '
                  r'(-?[0-9.e+-]+|\+Inf|NaN)$')
def parse(path):
    vals, types = {}, {}
    for l in open(path):
        l = l.rstrip('\n')
        if l.startswith('# HELP '):
            continue
        if l.startswith('# TYPE '):
            _, _, name, t = l.split(' ', 3)
            assert t in ('counter', 'gauge', 'histogram'), l
            types[name] = t
            continue
        assert line.match(l), 'not a sample line: %r' % l
        k, _, v = l.rpartition(' ')
        vals[k] = float(v)
    return vals, types
a, _ = parse(sys.argv[1])
b, types = parse(sys.argv[2])
def d(k):
    return b.get(k, 0) - a.get(k, 0)
req = 'jalad_requests_total{model="fmnist-vgg",payload="container"}'
assert d(req) == 50, ('requests', d(req))
assert d('jalad_responses_ok_total{model="fmnist-vgg"}') == 50, 'responses'
assert d('jalad_fallbacks_asked_total{model="fmnist-vgg"}') == 0, 'fallbacks asked'
assert d('jalad_bytes_received_total') > 50 * 500, ('bytes in', d('jalad_bytes_received_total'))
assert d('jalad_bytes_sent_total') > 50 * 80, ('bytes out', d('jalad_bytes_sent_total'))
assert b['jalad_hold_seconds_count{model="fmnist-vgg",cut="5"}'] == 50, 'histogram count'
assert b['jalad_hold_seconds_bucket{model="fmnist-vgg",cut="5",le="+Inf"}'] == 50, 'histogram +Inf'
buckets = [v for k, v in b.items() if k.startswith('jalad_hold_seconds_bucket{model="fmnist-vgg",cut="5"')]
assert buckets == sorted(buckets), 'buckets not cumulative'
assert b['jalad_hold_seconds_sum{model="fmnist-vgg",cut="5"}'] > 0, 'histogram sum'
assert d('jalad_dict_uploads_total') == 1 and d('jalad_dict_upload_bytes_total') > 0, 'dict uploads'
assert d('jalad_connections_accepted_total') == 2, ('accepted', d('jalad_connections_accepted_total'))
assert types.get('jalad_hold_seconds') == 'histogram' and types.get('jalad_requests_total') == 'counter'
for k in ('jalad_connections_open', 'jalad_connections_shed_total', 'jalad_handshakes_refused_total',
          'jalad_connections_timed_out_total{reason="hello"}', 'jalad_queue_length', 'jalad_memory_bytes',
          'jalad_dict_refused_total', 'jalad_connections_refused_total{reason="full"}'):
    assert k in b, 'missing ' + k
print('%d samples, %d metrics' % (len(b), len(types)))
PY
) && [ "$code" = 404 ] && case "$ctype" in text/plain*version=0.0.4*) true ;; *) false ;; esac; then
	ok "metrics scraped with curl: every line parses ($msg); requests, bytes, hold histogram, dictionary uploads moved"
else
	bad "metrics: $msg (other path: HTTP $code, content type '$ctype')"
fi
stop_server "$SRV_PID"

# With TLS the HELLO deadline counts from accept: a connection stuck in the
# TLS handshake (nothing sent, or 5 bytes of a record) is closed at it,
# while an edge with the key is served.
echo "jalad:$(openssl rand -hex 32)" >"$tmp/k.psk"
start_server t --psk-file "$tmp/k.psk" --hello-timeout 1s
if msg=$($PY - "$SRV_PORT" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
conns = []
for i in range(4):
    s = socket.create_connection(('127.0.0.1', port))
    if i % 2:
        s.sendall(bytes([22, 3, 1, 0, 200])) # a TLS record header, no record
    conns.append([s, time.monotonic(), None])
deadline = time.monotonic() + 5
while time.monotonic() < deadline and any(c[2] is None for c in conns):
    for c in conns:
        if c[2] is None:
            c[0].settimeout(0.05)
            try:
                if c[0].recv(64) == b'':
                    c[2] = time.monotonic() - c[1]
            except socket.timeout:
                pass
            except ConnectionError:
                c[2] = time.monotonic() - c[1]
life = [c[2] for c in conns]
assert all(x is not None and 0.9 <= x <= 2.0 for x in life), life
print(' '.join('%.1f' % x for x in life))
PY
) && edge --cloud 127.0.0.1:$SRV_PORT --psk-file "$tmp/k.psk" --plan k=5,c=8,coder=raw --limit 10 >"$tmp/t.json" 	2>"$tmp/t.err" && [ "$($PY -c "import json,sys; print([json.loads(l) for l in open(sys.argv[1])][-1]['fallbacks'])" "$tmp/t.json" 2>/dev/null)" = 0 ]; then
	ok "TLS: connections stuck in the handshake closed by the HELLO deadline of 1 s ($msg s); a PSK edge served"
else
	bad "TLS HELLO deadline: $msg; $(tail -n 2 "$tmp/t.err")"
fi
stop_server "$SRV_PID"

# Metrics are plain HTTP: a non-loopback address needs --allow-remote.
if "$JALAD" serve "$MODEL" --listen 127.0.0.1:0 --metrics 0.0.0.0:0 >/dev/null 2>"$tmp/mr.err"; then
	bad "--metrics 0.0.0.0:0 without --allow-remote was accepted"
elif grep -q "metrics: refusing" "$tmp/mr.err"; then
	ok "--metrics on a non-loopback address without --allow-remote: refused"
else
	bad "--metrics 0.0.0.0:0: $(tail -n 1 "$tmp/mr.err")"
fi

# ---------------------------------------------------------------- flood
# The hostile side: NCONN connections from 20 addresses (half of them from
# 127.0.0.2, so that one also meets the per-source limit), each kind in
# turn (idle; one byte of a HELLO a second; half a HELLO), reconnecting
# 0.2 s after the server closes one; plus 40 from 127.0.0.30 that finish
# HELLO and then drip a REQUEST frame. Runs until $tmp/stop appears (at most
# 150 s), then prints what it saw as JSON.
cat >"$tmp/flood.py" <<'PY'
import errno, json, os, selectors, socket, sys, time
import wire
port, sha, nconn, stop = int(sys.argv[1]), wire.model_sha(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
SOURCES = ['127.0.0.%d' % i for i in range(2, 22)]
HELLO = wire.hello(sha, name=b'hostile')
KINDS = ['idle', 'drip', 'half']
sel = selectors.DefaultSelector()
t_end = time.monotonic() + 150
stats = {k: {'connects': 0, 'closed_by_server': 0, 'lifetimes': [], 'connect_errors': 0}
         for k in KINDS + ['ready-drip']}

class H:
    pass

def open_one(slot):
    h = H()
    h.slot, h.kind, h.src = slot, slot['kind'], slot['src']
    s = socket.socket()
    s.setblocking(False)
    try:
        s.bind((h.src, 0))
        e = s.connect_ex(('127.0.0.1', port))
    except OSError:
        s.close()
        stats[h.kind]['connect_errors'] += 1
        slot['retry'] = time.monotonic() + 0.5
        return
    if e not in (0, errno.EINPROGRESS):
        s.close()
        stats[h.kind]['connect_errors'] += 1
        slot['retry'] = time.monotonic() + 0.5
        return
    h.s, h.t0, h.sent, h.next_drip, h.state = s, time.monotonic(), 0, 0.0, 'connecting'
    h.hello_in = b''
    stats[h.kind]['connects'] += 1
    slot['h'] = h
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, h)

def gone(h, by_server):
    try:
        sel.unregister(h.s)
    except (KeyError, ValueError):
        pass
    h.s.close()
    st = stats[h.kind]
    if by_server:
        st['closed_by_server'] += 1
        st['lifetimes'].append(time.monotonic() - h.t0)
    h.slot['h'] = None
    h.slot['retry'] = time.monotonic() + 0.2

slots = [{'kind': KINDS[i % 3], 'src': SOURCES[0] if i % 2 else SOURCES[1 + i % (len(SOURCES) - 1)], 'h': None,
          'retry': 0.0} for i in range(nconn)]
slots += [{'kind': 'ready-drip', 'src': '127.0.0.30', 'h': None, 'retry': 0.0} for _ in range(40)]
REQ = wire.frame(2, b'\0' * 64) # a REQUEST, never sent whole
while time.monotonic() < t_end and not os.path.exists(stop):
    now = time.monotonic()
    for slot in slots:
        if slot['h'] is None and now >= slot['retry']:
            open_one(slot)
    for key, ev in sel.select(timeout=0.05):
        h = key.data
        if ev & selectors.EVENT_WRITE and h.state == 'connecting':
            err = h.s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                stats[h.kind]['connect_errors'] += 1
                gone(h, False)
                continue
            h.state = 'open'
            sel.modify(h.s, selectors.EVENT_READ, h)
            try:
                if h.kind == 'half':
                    h.s.send(HELLO[:len(HELLO) // 2])
                elif h.kind == 'ready-drip':
                    h.s.send(HELLO)
            except OSError:
                gone(h, True)
                continue
        if ev & selectors.EVENT_READ:
            try:
                d = h.s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                d = b''
            if not d:
                gone(h, True)
                continue
            if h.kind == 'ready-drip' and h.state == 'open':
                h.hello_in += d
                if len(h.hello_in) >= 12 and h.hello_in[5] == 1:
                    h.state = 'ready'
                    h.next_drip = time.monotonic()
    now = time.monotonic()
    for slot in slots:
        h = slot['h']
        if h is None or h.state not in ('open', 'ready') or now < h.next_drip:
            continue
        if h.kind == 'drip':
            data = HELLO
        elif h.kind == 'ready-drip' and h.state == 'ready':
            data = REQ
        else:
            continue
        if h.sent < len(data):
            try:
                h.s.send(data[h.sent:h.sent + 1])
                h.sent += 1
            except OSError:
                gone(h, True)
                continue
        h.next_drip = now + 1.0
out = {}
for k, st in stats.items():
    lt = sorted(st['lifetimes'])
    out[k] = {'connects': st['connects'], 'closed_by_server': st['closed_by_server'],
              'connect_errors': st['connect_errors'],
              'life_p50': lt[len(lt) // 2] if lt else None, 'life_max': lt[-1] if lt else None}
out['open_at_end'] = sum(1 for s in slots if s['h'] is not None)
print(json.dumps(out))
PY

start_server f --workers 2 --max-conns 256 --max-per-source 64 --hello-timeout 5s --frame-timeout 2s
F=$SRV_PORT
NCONN=2000
NREQ=${FLOOD_REQUESTS:-250}
rm -f "$tmp/stop"
PYTHONPATH=$tmp $PY "$tmp/flood.py" "$F" "$MODEL" "$NCONN" "$tmp/stop" >"$tmp/flood.json" 2>"$tmp/flood.err" &
FLOOD_PID=$!
PIDS="$PIDS $FLOOD_PID"
# Wait (at most 20 s) until the table is full and shedding.
i=0
full=""
while [ $i -lt 100 ]; do
	scrape "$tmp/f0.txt"
	open=$(metric "$tmp/f0.txt" jalad_connections_open)
	shed=$(metric "$tmp/f0.txt" jalad_connections_shed_total)
	if [ "${open:-0}" -ge 250 ] && [ "${shed:-0}" -gt 0 ]; then
		full=1
		break
	fi
	sleep 0.2
	i=$((i + 1))
done
[ -n "$full" ] && ok "flood: the table of 256 filled ($open open) and sheds ($shed so far)" ||
	bad "flood: the table did not fill: open ${open:-?}, shed ${shed:-?}; $(tail -n 3 "$tmp/flood.err")"
# 8 real edges, each request 20 ms apart, while the flood goes on.
t0=$(date +%s)
EPIDS=""
for e in 1 2 3 4 5 6 7 8; do
	edge --cloud 127.0.0.1:$F --plan k=5,c=8,coder=raw --limit "$NREQ" --interval 20ms \
		>"$tmp/fe$e.json" 2>"$tmp/fe$e.err" &
	EPIDS="$EPIDS $!"
	PIDS="$PIDS $!"
done
# Bounded: edges that hang past 180 s are killed (and count as lost).
(
	i=0
	while [ $i -lt 180 ]; do
		sleep 1
		i=$((i + 1))
	done
	for p in $EPIDS; do kill "$p" 2>/dev/null; done
) &
WATCH=$!
PIDS="$PIDS $WATCH"
for p in $EPIDS; do
	wait "$p"
done
kill "$WATCH" 2>/dev/null
t1=$(date +%s)
scrape "$tmp/f1.txt"
touch "$tmp/stop"
wait "$FLOOD_PID"
if msg=$($PY - "$NREQ" "$tmp"/fe?.json <<'PY'
import json, sys
n = int(sys.argv[1])
lat, cloud, fb, lost = [], [], 0, 0
for path in sys.argv[2:]:
    rows = [json.loads(l) for l in open(path) if l.strip()]
    reqs = [r for r in rows if not r.get('summary')]
    summ = [r for r in rows if r.get('summary')]
    lost += n - len(reqs)
    fb += sum(1 for r in reqs if r['fallback'])
    assert summ and summ[0]['fallbacks'] == 0, (path, summ)
    lat += [r['total_ms'] for r in reqs]
    cloud += [r['cloud_ms'] for r in reqs]
assert lost == 0, ('lost', lost)
assert fb == 0, ('fallbacks', fb)
lat.sort()
cloud.sort()
p = lambda v, q: v[min(len(v) - 1, int(q * len(v)))]
print('%d requests, fallbacks 0, lost 0; total_ms p50 %.2f p99 %.2f max %.2f; cloud_ms p99 %.2f'
      % (len(lat), p(lat, .5), p(lat, .99), lat[-1], p(cloud, .99)))
PY
); then
	ok "flood: 8 edges x $NREQ requests all answered by the cloud: $msg ($((t1 - t0)) s)"
else
	bad "flood: real edges: $msg; $(tail -n 2 "$tmp/fe1.err")"
fi
if msg=$($PY - "$tmp/flood.json" "$tmp/f0.txt" "$tmp/f1.txt" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
def vals(path):
    v = {}
    for l in open(path):
        if not l.startswith('#'):
            k, _, x = l.rstrip('\n').rpartition(' ')
            v[k] = float(x)
    return v
m = vals(sys.argv[3])
total = sum(f[k]['connects'] for k in ('idle', 'drip', 'half', 'ready-drip'))
assert total >= 2000, ('hostile connects', total)
# Pre-HELLO kinds die by shedding or the 5 s HELLO deadline; never the 60 s idle timeout.
for k in ('idle', 'drip', 'half'):
    assert f[k]['closed_by_server'] > 0, (k, f[k])
    assert f[k]['life_max'] < 6.5, (k, 'lived', f[k]['life_max'])
# Past HELLO, a frame dripping 1 byte/s is cut by the rate rule (2 s grace).
rd = f['ready-drip']
assert rd['closed_by_server'] > 0 and rd['life_max'] < 6.5, rd
assert m['jalad_connections_shed_total'] > 0, 'shed'
assert m['jalad_connections_refused_total{reason="per_source"}'] > 0, 'per source'
assert m['jalad_connections_timed_out_total{reason="frame"}'] > 0, 'frame timeouts'
assert m['jalad_connections_timed_out_total{reason="idle"}'] == 0, 'idle timeouts'
assert m['jalad_fallbacks_asked_total{model="fmnist-vgg"}'] == 0, 'fallbacks asked'
print('%d hostile connects (idle %d, drip %d, half HELLO %d, HELLO + frame drip %d); shed %d, refused per source %d, '
      'HELLO deadline %d, frame rate %d; lifetime p50/max: idle %.1f/%.1f s, drip %.1f/%.1f s, half %.1f/%.1f s, '
      'frame drip %.1f/%.1f s' % (
      total, f['idle']['connects'], f['drip']['connects'], f['half']['connects'], rd['connects'],
      m['jalad_connections_shed_total'], m['jalad_connections_refused_total{reason="per_source"}'],
      m['jalad_connections_timed_out_total{reason="hello"}'], m['jalad_connections_timed_out_total{reason="frame"}'],
      f['idle']['life_p50'], f['idle']['life_max'], f['drip']['life_p50'], f['drip']['life_max'],
      f['half']['life_p50'], f['half']['life_max'], rd['life_p50'], rd['life_max']))
PY
); then
	ok "flood: $msg"
else
	bad "flood: hostile side: $msg; $(head -c 600 "$tmp/flood.json"; tail -n 2 "$tmp/flood.err")"
fi
# The server is still healthy: a new edge after the flood.
edge --cloud 127.0.0.1:$F --plan k=5,c=8,coder=raw --limit 20 >"$tmp/after.json" 2>"$tmp/after.err"
if [ "$($PY -c "import json,sys; print([json.loads(l) for l in open(sys.argv[1])][-1]['fallbacks'])" "$tmp/after.json" 2>/dev/null)" = 0 ]; then
	ok "flood: after it, a new edge is served (20 requests, no fallback)"
else
	bad "flood: after it: $(tail -n 2 "$tmp/after.err")"
fi
stop_server "$SRV_PID"
# The sanitizer build: no report from the servers or the edges.
if grep -q "ERROR: AddressSanitizer\|runtime error:" "$tmp"/*.log "$tmp"/*.err; then
	bad "sanitizer reports: $(grep -h -m3 'ERROR: AddressSanitizer\|runtime error:' "$tmp"/*.log "$tmp"/*.err)"
fi

echo "flood: $pass passed, $fail failed"
[ "$fail" = 0 ]
