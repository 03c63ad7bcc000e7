# Sourced by the integration scripts that need no cleanup of their own:
# the pass/fail counters, a temporary folder removed at exit, ok/bad, and
# expect. (The network scripts keep their own: they tear down servers and
# namespaces at exit.) It lives outside tests/integration, where
# tests/run.sh runs every *.sh as a test.
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect CODE PATTERN CMD...: exit status CODE and stderr matching the
# extended regular expression PATTERN (with EXPECT_ICASE=1: ignoring case).
expect() {
	code=$1; pat=$2; shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne "$code" ]; then
		bad "$* exited $rc, expected $code; stderr: $(head -c 400 "$tmp/err")"
	elif [ -n "$pat" ] && ! grep -qE ${EXPECT_ICASE:+-i} -e "$pat" "$tmp/err"; then
		bad "$*: stderr does not match '$pat': $(head -c 400 "$tmp/err")"
	else
		ok
	fi
}
