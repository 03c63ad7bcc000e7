#!/bin/sh
# Loading scales with the model: a chain of 100k nodes (make_chain.py)
# loads, plans and runs, on both backends, within generous bounds (the
# quadratic loader took over 30 s to load it), and `run` peaks under
# 300 MB on each (the oneDNN backend, the default, took 965 MB before it
# shared primitives and descriptors between nodes). Timing itself lives
# in bench/loader/run.sh; the bound here only catches a return to O(n^2).
set -u
JALAD=${JALAD:-build/jalad}
. "$(dirname "$0")/../integration_lib.sh"

# within SECONDS CMD...: CMD exits 0 within SECONDS (killed after).
within() {
	limit=$1; shift
	if timeout "$limit" "$@" >"$tmp/out" 2>"$tmp/err"; then
		ok
	else
		bad "$* (limit ${limit}s) exited $?: $(head -c 300 "$tmp/err")"
	fi
}

# within_rss SECONDS MB CMD...: as within, and CMD's peak RSS (GNU time)
# stays under MB. AddressSanitizer's shadow and quarantine take about
# 3.5x as much, so a sanitized build (BUILD=*san*) gets 4x the bound.
# Without /usr/bin/time only the time is checked.
within_rss() {
	limit=$1 mb=$2; shift 2
	case "${BUILD:-build}" in *san*) mb=$((mb * 4)) ;; esac
	if [ ! -x /usr/bin/time ]; then
		echo "note: no /usr/bin/time, peak RSS of $* not checked"
		within "$limit" "$@"
		return
	fi
	within "$limit" /usr/bin/time -f %M -o "$tmp/rss" "$@"
	kb=$(tail -n 1 "$tmp/rss" 2>/dev/null)
	case "$kb" in
	''|*[!0-9]*) bad "$*: no peak RSS from /usr/bin/time: $(head -c 200 "$tmp/rss")" ;;
	*) [ "$kb" -lt $((mb * 1024)) ] && ok || bad "$*: peak RSS $((kb / 1024)) MB, over $mb MB" ;;
	esac
}

n=100000
/usr/bin/python3 tests/integration/make_chain.py $n "$tmp/chain.onnx" || bad "make_chain.py"
within 10 "$JALAD" info "$tmp/chain.onnx"
tail -n 1 "$tmp/out" | grep -q "total: $n nodes" && ok || bad "info: $(tail -n 1 "$tmp/out")"
within 10 "$JALAD" info "$tmp/chain.onnx" --json
/usr/bin/python3 -c "
import json, sys
d = json.load(open('$tmp/out'))
assert len(d['nodes']) == $n and all(x['crossing_after'] == 1 for x in d['nodes'])
" && ok || bad "info --json: $n nodes, one tensor crossing every cut"
within_rss 10 300 "$JALAD" run "$tmp/chain.onnx" --backend ref --repeat 2
within_rss 60 300 "$JALAD" run "$tmp/chain.onnx" --repeat 2
# Every value went through n/2 (Add 0.001, Relu) pairs: Y = relu(X) + 50
# for the positive inputs, so the top value is above 50.
grep -q "top1: class [0-9]* *5[0-9]\." "$tmp/out" && ok || bad "run: $(cat "$tmp/out")"
# A chain where every node also reads the graph input: that input crosses
# every cut (the crossing and arena queries return what they find).
/usr/bin/python3 - "$tmp/wide.onnx" <<'PY' || bad "wide model"
import sys
from onnx import helper, TensorProto
F = TensorProto.FLOAT
n = 20000
nodes, prev = [], "X"
for i in range(n):
    out = "Y" if i == n - 1 else "t%d" % i
    nodes.append(helper.make_node("Add", [prev, "X"], [out], name="add%d" % i))
    prev = out
g = helper.make_graph(nodes, "wide", [helper.make_tensor_value_info("X", F, [1, 4])],
                      [helper.make_tensor_value_info("Y", F, [1, 4])])
open(sys.argv[1], "wb").write(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
PY
within 20 "$JALAD" info "$tmp/wide.onnx" --json
/usr/bin/python3 -c "
import json
d = json.load(open('$tmp/out'))
c = [x['crossing_after'] for x in d['nodes']]
assert c[:-1] == [2] * (len(c) - 1) and c[-1] == 1, c[:5]
" && ok || bad "wide: X and the running sum cross every cut"
within 20 "$JALAD" run "$tmp/wide.onnx" --backend ref --repeat 1

echo "loader: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
