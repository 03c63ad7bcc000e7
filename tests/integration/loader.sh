#!/bin/sh
# Loading scales with the model: a chain of 100k nodes (make_chain.py)
# loads, plans and runs, on both backends, within generous bounds (the
# quadratic loader took over 30 s to load it). Timing itself lives in
# bench/loader/run.sh; the bound here only catches a return to O(n^2).
set -u
JALAD=${JALAD:-build/jalad}
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# within SECONDS CMD...: CMD exits 0 within SECONDS (killed after).
within() {
	limit=$1; shift
	if timeout "$limit" "$@" >"$tmp/out" 2>"$tmp/err"; then
		ok
	else
		bad "$* (limit ${limit}s) exited $?: $(head -c 300 "$tmp/err")"
	fi
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
within 10 "$JALAD" run "$tmp/chain.onnx" --backend ref --repeat 2
within 60 "$JALAD" run "$tmp/chain.onnx" --repeat 2
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
