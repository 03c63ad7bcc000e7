#!/bin/sh
# Loader scaling: a chain model (tests/integration/make_chain.py: Add and
# Relu on [1, 16], alternating) of 10k, 100k and 1M nodes; prints a
# Markdown table of the wall time (user + system CPU time in brackets: on
# a busy machine under nice the wall time waits for a core) and peak RSS
# of `jalad info` and of `jalad run --repeat 1` on each backend (GNU time).
# usage: nice -n 19 sh bench/loader/run.sh [SIZES]   (default "10000 100000 1000000")
# The 1M row takes about 2 GB on the oneDNN backend (1.4 KB per node over
# the reference backend's 0.8: a unit, its arguments and a memory object
# per node; the primitives and descriptors are shared).
set -u
JALAD=${JALAD:-build/jalad}
SIZES=${1:-10000 100000 1000000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# measure CMD...: "wall-s kilobytes user-s sys-s" of one run, or "fail".
measure() {
	if /usr/bin/time -f "%e %M %U %S" -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err"; then
		cat "$tmp/time"
	else
		echo "fail"
	fi
}

cell() { # "wall kb user sys" -> "wall s (cpu s) / MB MB"
	case "$1" in
	fail|skip*) echo "$1" ;;
	*) echo "$1" | awk '{ printf "%.2f s (%.2f s) / %.0f MB", $1, $3 + $4, $2 / 1024 }' ;;
	esac
}

echo "| nodes | file MB | info | run, ref backend | run, dnnl backend |"
echo "|---|---|---|---|---|"
for n in $SIZES; do
	/usr/bin/python3 tests/integration/make_chain.py "$n" "$tmp/chain.onnx"
	mb=$(du -m "$tmp/chain.onnx" | cut -f1)
	info=$(measure "$JALAD" info "$tmp/chain.onnx")
	ref=$(measure "$JALAD" run "$tmp/chain.onnx" --backend ref --repeat 1)
	dnnl=$(measure "$JALAD" run "$tmp/chain.onnx" --backend dnnl --repeat 1)
	echo "| $n | $mb | $(cell "$info") | $(cell "$ref") | $(cell "$dnnl") |"
done
