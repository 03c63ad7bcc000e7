#!/bin/sh
# Runs every test program given as arguments, then the shell suites in
# tests/onnx and tests/integration. Each prints a last line
# "... N passed, N failed"; this script sums them and ends with one line
# "N passed, N failed". A program that exits non-zero without such a line
# counts as one failure.
BUILD=${BUILD:-build}
export BUILD JALAD="$BUILD/jalad"
total_p=0
total_f=0
logdir=$BUILD/test-logs
mkdir -p "$logdir"

run_one() {
	for last in "$@"; do :; done
	name=$(basename "$last" .sh)
	log="$logdir/$name.log"
	"$@" >"$log" 2>&1
	rc=$?
	line=$(grep -aE '[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	p=$(printf '%s\n' "$line" | sed -nE 's/.*([^0-9]|^)([0-9]+) passed, ([0-9]+) failed.*/\2/p')
	f=$(printf '%s\n' "$line" | sed -nE 's/.*([^0-9]|^)([0-9]+) passed, ([0-9]+) failed.*/\3/p')
	[ -n "$p" ] || p=0
	[ -n "$f" ] || f=0
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	total_p=$((total_p + p))
	total_f=$((total_f + f))
	if [ "$f" -ne 0 ]; then
		echo "FAIL $name ($p passed, $f failed, exit $rc); last lines of $log:"
		grep -a -E 'FAIL|fail|error' "$log" | tail -n 25 | cut -c1-400 | sed 's/^/    /'
	else
		echo "ok   $name ($p passed)"
	fi
}

for t in "$@"; do
	run_one "$t"
done
for s in tests/onnx/*.sh tests/integration/*.sh; do
	[ -f "$s" ] || continue
	run_one sh "$s"
done
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
