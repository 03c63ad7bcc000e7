#!/bin/sh
# Safe output: names from a model (quotes, backslashes, control characters,
# bytes that are not UTF-8) never reach the terminal as themselves, and
# every --json output parses, with the names intact. The model is built
# here with the onnx Python package; the invalid UTF-8 is patched into the
# serialized bytes (the onnx API only takes valid strings; protobuf-c
# does not check). The loader shows such bytes as U+FFFD.
set -u
JALAD=${JALAD:-build/jalad}
. "$(dirname "$0")/../integration_lib.sh"

if ! /usr/bin/python3 -c 'import onnx' 2>/dev/null; then
	echo "names: skipped, no onnx Python package (apt-get install python3-onnx)"
	echo "0 passed, 0 failed"
	exit 0
fi

# The node names, as bytes; the same list is checked below.
cat >"$tmp/names.py" <<'PY'
NAMES = [b'esc\x1b[31mred\x1b[0m', b'quote"d', b'back\\slash', b'new\nline\r', b'bell\x07tab\t',
         b'del\x7f', b'c1\xc2\x9bcsi', b'ok \xc3\xa9\xe2\x82\xac',
         b'bad\xff\xfe\xc3(utf8']
PY
/usr/bin/python3 - "$tmp" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from names import NAMES
from onnx import helper, TensorProto
F = TensorProto.FLOAT
# Placeholders of the same byte length, replaced after serializing.
ph = [b"%c" % (65 + i) * len(n) for i, n in enumerate(NAMES)]
nodes, prev = [], "X"
for i, p in enumerate(ph):
    out = "Y" if i == len(ph) - 1 else "t%d" % i
    nodes.append(helper.make_node("Relu", [prev], [out], name=p.decode()))
    prev = out
g = helper.make_graph(nodes, "names", [helper.make_tensor_value_info("X", F, [1, 8])],
                      [helper.make_tensor_value_info("Y", F, [1, 8])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
helper.set_model_props(m, {"KEYKEY": "VALVALVALVAL"})
b = m.SerializeToString()
for p, n in zip(ph, NAMES):
    assert b.count(p) == 1
    b = b.replace(p, n)
b = b.replace(b"KEYKEY", b"k\x1b]0;\x07").replace(b"VALVALVALVAL", b"v\"\\\n\x1b[2Jxyzw")
open(sys.argv[1] + "/names.onnx", "wb").write(b)
# A model that fails to load, naming a node with an escape sequence.
b2 = b.replace(b"Relu", b"Relx", 1)
open(sys.argv[1] + "/broken.onnx", "wb").write(b2)
PY
[ $? -eq 0 ] || bad "building the model"

# check_text FILE WHAT: UTF-8, no control character but newline (and the
# tab and newline of the layout), no DEL, no C1.
check_text() {
	if /usr/bin/python3 - "$1" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
try:
    s = b.decode("utf-8")
except UnicodeDecodeError as e:
    sys.exit("not UTF-8: %s" % e)
bad = [c for c in s if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) < 0xa0]
if bad:
    sys.exit("raw control characters: %r" % bad[:5])
PY
	then ok; else bad "$2: $(head -c 300 "$1" | od -c | head -3)"; fi
}

# check_json FILE WHAT: parses, and (for info) carries the names.
check_json() {
	if /usr/bin/python3 - "$1" "$tmp" "$3" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[2])
from names import NAMES
b = open(sys.argv[1], "rb").read()
try:
    doc = json.loads(b.decode("utf-8"))
except (UnicodeDecodeError, ValueError) as e:
    sys.exit("not JSON: %s" % e)
if sys.argv[3] == "info":
    want = [n.decode("utf-8", "replace") for n in NAMES]
    got = [n["name"] for n in doc["nodes"]]
    if got != want:
        sys.exit("names %r, expected %r" % (got, want))
    if doc["metadata"] != {"k\x1b]0;\x07": "v\"\\\n\x1b[2Jxyzw"}:
        sys.exit("metadata %r" % doc["metadata"])
if sys.argv[3] == "profile":
    want = [n.decode("utf-8", "replace") for n in NAMES]
    got = [n.get("name") for n in doc["nodes"]]
    if got != want:
        sys.exit("names %r, expected %r" % (got, want))
PY
	then ok; else bad "$2"; fi
}

m="$tmp/names.onnx"
"$JALAD" info "$m" >"$tmp/info.txt" 2>"$tmp/info.err" && ok || bad "info exited $?: $(cat "$tmp/info.err")"
check_text "$tmp/info.txt" "info: output"
"$JALAD" info "$m" --json >"$tmp/info.json" 2>"$tmp/info.err" && ok || bad "info --json exited $?"
check_json "$tmp/info.json" "info --json" info
check_text "$tmp/info.json" "info --json: output"
# A model path with a quote, a backslash, a newline and an escape in it.
weird="$tmp/we\"ird\\
$(printf '\033')[1mname$(printf '\377').onnx"
cp "$m" "$weird"
"$JALAD" run "$weird" --repeat 1 --json >"$tmp/run.json" 2>"$tmp/run.err" && ok || bad "run --json exited $?: $(cat "$tmp/run.err")"
check_json "$tmp/run.json" "run --json" run
"$JALAD" run "$weird" --repeat 1 >"$tmp/run.txt" 2>"$tmp/run.err" && ok || bad "run exited $?"
check_text "$tmp/run.txt" "run: output"
"$JALAD" info "$weird" --json >"$tmp/info2.json" 2>&1 && ok || bad "info --json on the odd path"
check_json "$tmp/info2.json" "info --json on the odd path" info
"$JALAD" profile "$m" --repeat 2 >"$tmp/prof.json" 2>"$tmp/prof.err" && ok || bad "profile exited $?: $(cat "$tmp/prof.err")"
check_json "$tmp/prof.json" "profile JSON" profile
check_text "$tmp/prof.err" "profile: summary table"
# Errors quote names too.
"$JALAD" info "$tmp/broken.onnx" >/dev/null 2>"$tmp/broken.err"
[ $? -eq 1 ] && grep -q "unsupported op 'Relx'" "$tmp/broken.err" && ok || bad "broken model: $(cat "$tmp/broken.err")"
check_text "$tmp/broken.err" "an error naming the node"
"$JALAD" run "$tmp/broken.onnx" >/dev/null 2>"$tmp/broken.err"
check_text "$tmp/broken.err" "run: an error naming the node"
grep -q 'esc\\x1b\[31mred' "$tmp/broken.err" && ok || bad "the escaped name is not in: $(cat "$tmp/broken.err")"

echo "names: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
