#!/bin/sh
# Operator conformance: every ONNX backend test case Debian ships under
# node/ and pytorch-converted/ (package libonnx-testdata), on the reference
# backend, then on the oneDNN backend at 1 and 2 threads (its native ops and
# their fallbacks must give the expected outputs too). Prints each run's
# "N passed, N failed, N skipped", then the sums.
set -u
JALAD=${JALAD:-build/jalad}
DATA=/usr/share/libonnx-testdata/data
tp=0 tf=0 rc=0
for run in "ref 1" "dnnl 1" "dnnl 2"; do
	set -- $run
	out=$("$JALAD" conform --backend "$1" --threads "$2" --quiet "$DATA/node" "$DATA/pytorch-converted")
	code=$?
	[ $code -ne 0 ] && rc=$code
	printf '%s\n' "$out" | sed "s/^/$1 $2t: /"
	line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
	p=$(printf '%s\n' "$line" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed.*/\1/p')
	f=$(printf '%s\n' "$line" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed.*/\2/p')
	if [ -z "$p" ]; then
		echo "$1 $2t: no summary line"
		f=1 p=0
	fi
	tp=$((tp + p)) tf=$((tf + f))
done
echo "$tp passed, $tf failed"
[ $rc -eq 0 ] && [ $tf -eq 0 ]
