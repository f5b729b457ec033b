# Shared by the CLI tests (sourced): arguments, a private scratch folder, and the checks.
# usage in a test: . "$(dirname "$0")/cli_lib.sh" "$@"   (arguments: PATH/TO/mcx PATH/TO/tests/vectors)
# shellcheck shell=sh

MCX=${1:?usage: $0 MCX VECTOR_DIR}
VEC=${2:?usage: $0 MCX VECTOR_DIR}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mcx-cli-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
umask 077 # the commands that print secret keys refuse files that others can read

checks=0
fails=0

# field NAME: a string value from the last command's JSON output.
field() {
    sed -n "s/^.*\"$1\": *\"\([^\"]*\)\".*\$/\1/p" "$tmp/out" | head -n 1
}

fail() {
    fails=$((fails + 1))
    echo "FAIL: $*"
}

# run NAME EXPECTED_EXIT ARGS...: run mcx, keep stdout and stderr in $tmp/out and $tmp/err.
run() {
    name=$1
    want=$2
    shift 2
    checks=$((checks + 1))
    "$MCX" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -ne "$want" ]; then
        fail "$name: exit $rc, expected $want"
        sed 's/^/    stderr: /' "$tmp/err"
        return 1
    fi
    if [ "$want" -ne 0 ] && [ -s "$tmp/out" ]; then
        fail "$name: stdout not empty on failure"
    fi
    return 0
}

# expect_eq NAME GOT WANT
expect_eq() {
    checks=$((checks + 1))
    if [ "$2" != "$3" ]; then
        fail "$1: got '$2', expected '$3'"
    fi
}

# expect_out NAME FIXED-STRING: stdout contains the string.
expect_out() {
    checks=$((checks + 1))
    grep -qF -- "$2" "$tmp/out" || fail "$1: stdout lacks '$2': $(cat "$tmp/out")"
}

# expect_err NAME FIXED-STRING: stderr contains the string.
expect_err() {
    checks=$((checks + 1))
    grep -qF -- "$2" "$tmp/err" || fail "$1: stderr lacks '$2': $(cat "$tmp/err")"
}

# finish: the summary line, and the exit status of the test.
finish() {
    echo "$checks checks, $fails failed"
    [ "$fails" -eq 0 ]
}
