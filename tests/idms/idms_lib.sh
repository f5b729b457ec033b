# Shared by the IdMS end-to-end tests and scripts/bench-idms (sourced, POSIX sh): a certificate,
# a daemon configuration, a free loopback port, and starting / stopping mcx-idms.
#
# usage:
#   . /path/to/tests/idms/idms_lib.sh
#   tmp=$(mktemp -d); trap 'idms_cleanup; rm -rf "$tmp"' EXIT INT TERM
#   idms_cert "$tmp"                                    -> $tmp/cert.pem, $tmp/key.pem
#   port=$(idms_free_port)
#   idms_config "$tmp" police "$port" "sqlite:$tmp/police.db" '"code_ttl": 30'
#   "$MCX" idms init --config "$tmp/police.json"
#   idms_start "$IDMS" "$tmp/police.json" "$tmp/police.log"   -> $IDMS_PID, $IDMS_URL
#   ...
#   idms_stop                                           (or idms_stop PID)
# shellcheck shell=sh

IDMS_PID=
IDMS_PIDS=
IDMS_URL=

# idms_cert DIR [NAME]: a self-signed P-256 certificate for 127.0.0.1 and localhost (SAN), its own
# CA, so that it serves both as the daemon's tls_cert and as the clients' --cacert / curl --cacert.
# Files DIR/NAME.pem and DIR/NAME-key.pem; NAME defaults to "cert" with the key in DIR/key.pem.
idms_cert() {
    _dir=$1
    _name=${2:-cert}
    if [ "$_name" = cert ]; then _key=$_dir/key.pem; else _key=$_dir/$_name-key.pem; fi
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=mcxsec test IdMS $_name" \
        -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,digitalSignature,keyCertSign" \
        -keyout "$_key" -out "$_dir/$_name.pem" 2>"$_dir/openssl.err" || {
        echo "idms_cert: openssl failed:" >&2
        cat "$_dir/openssl.err" >&2
        return 1
    }
    chmod 600 "$_key"
}

# idms_free_port: a TCP port on 127.0.0.1 that nothing listens on right now, chosen at random
# below the kernel's ephemeral range: a port from that range (what binding port 0 gives) can be
# taken by any outgoing connection (curl, psql) before the daemon binds it, which made parallel
# tests fail now and then with "address in use".
idms_free_port() {
    python3 -c 'import random, socket
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    low = 32768
low = max(low, 12000)
for _ in range(200):
    port = random.randrange(10000, low)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
else:
    raise SystemExit("idms_free_port: no free port found")'
}

# idms_config DIR NAME PORT STORE_URL [EXTRA_JSON_FIELDS]: write DIR/NAME.json for a daemon with
# issuer https://127.0.0.1:PORT listening on 127.0.0.1:PORT, TLS from DIR/cert.pem + DIR/key.pem
# (or DIR/NAME.pem + DIR/NAME-key.pem when those exist), the given store, cheap argon2 costs so
# that logins are fast, and 2 threads. EXTRA_JSON_FIELDS (e.g. '"code_ttl": 5, "partners": [...]')
# are appended to the object and override nothing already written: do not repeat a key.
idms_config() {
    _dir=$1
    _name=$2
    _port=$3
    _store=$4
    _extra=${5:-}
    _cert=$_dir/cert.pem
    _key=$_dir/key.pem
    if [ -f "$_dir/$_name.pem" ]; then
        _cert=$_dir/$_name.pem
        _key=$_dir/$_name-key.pem
    fi
    [ -n "$_extra" ] && _extra=",
  $_extra"
    cat >"$_dir/$_name.json" <<EOF
{
  "issuer": "https://127.0.0.1:$_port",
  "listen": "127.0.0.1:$_port",
  "tls_cert": "$_cert",
  "tls_key": "$_key",
  "store": "$_store",
  "argon2": {"t_cost": 1, "m_cost_kib": 1024},
  "threads": 2$_extra
}
EOF
}

# idms_start BIN CONFIG LOGFILE [ARGS...]: start the daemon in the background (stdout and stderr
# to LOGFILE), wait up to 10 s for its "listening on https://..." line, set IDMS_PID and IDMS_URL
# (the URL it printed). On timeout or early exit: print the log, kill it, return 1.
idms_start() {
    _bin=$1
    _conf=$2
    _log=$3
    shift 3
    : >"$_log"
    "$_bin" --config "$_conf" "$@" >"$_log" 2>&1 &
    IDMS_PID=$!
    IDMS_PIDS="$IDMS_PIDS $IDMS_PID"
    _i=0
    while [ $_i -lt 100 ]; do
        IDMS_URL=$(sed -n 's/^mcx-idms: listening on \(https:\/\/[^ ]*\).*$/\1/p' "$_log" | head -n 1)
        [ -n "$IDMS_URL" ] && return 0
        if ! kill -0 "$IDMS_PID" 2>/dev/null; then
            wait "$IDMS_PID"
            echo "idms_start: $_bin exited (status $?) before listening; log:" >&2
            sed 's/^/    /' "$_log" >&2
            IDMS_PID=
            return 1
        fi
        sleep 0.1
        _i=$((_i + 1))
    done
    echo "idms_start: $_bin not listening after 10 s; log:" >&2
    sed 's/^/    /' "$_log" >&2
    kill "$IDMS_PID" 2>/dev/null
    wait "$IDMS_PID" 2>/dev/null
    IDMS_PID=
    return 1
}

# idms_stop [PID]: SIGTERM the daemon (default $IDMS_PID), wait for it (up to 10 s, then SIGKILL),
# and return 0 only if it exited with status 0 (graceful shutdown, STYLE.md #14).
idms_stop() {
    _pid=${1:-$IDMS_PID}
    [ -n "$_pid" ] || return 0
    kill -TERM "$_pid" 2>/dev/null || {
        echo "idms_stop: no process $_pid" >&2
        return 1
    }
    _i=0
    while kill -0 "$_pid" 2>/dev/null && [ $_i -lt 100 ]; do
        # a zombie still answers kill -0; wait reaps it below
        if ! ps -o stat= -p "$_pid" 2>/dev/null | grep -qv Z; then break; fi
        sleep 0.1
        _i=$((_i + 1))
    done
    if [ $_i -ge 100 ]; then
        echo "idms_stop: $_pid ignored SIGTERM for 10 s; killing it" >&2
        kill -KILL "$_pid" 2>/dev/null
    fi
    wait "$_pid"
    _rc=$?
    IDMS_PIDS=$(echo "$IDMS_PIDS" | sed "s/ $_pid\b//")
    [ "$_pid" = "$IDMS_PID" ] && IDMS_PID=
    if [ $_rc -ne 0 ]; then
        echo "idms_stop: daemon $_pid exited with status $_rc" >&2
        return 1
    fi
    return 0
}

# idms_cleanup: kill every daemon idms_start started that is still running (for an EXIT trap).
idms_cleanup() {
    for _p in $IDMS_PIDS; do
        kill -TERM "$_p" 2>/dev/null && wait "$_p" 2>/dev/null
    done
    IDMS_PIDS=
    IDMS_PID=
}

# ---- Test harness (the tests/idms/*_test.sh scripts) -------------------------------------------

# idms_test_init MCX IDMS TESTS_DIR BACKEND: the programs, a private scratch folder $tmp (removed
# at exit, daemons stopped), the store backend ("sqlite" or "postgresql": then the fixture's URL
# from $MCX_TEST_PG_URL_FILE), the check counters, and $MCX_STATE_DIR for mcx's token files.
idms_test_init() {
    MCX=${1:?usage: $0 MCX IDMS TESTS_DIR BACKEND}
    IDMS=${2:?usage: $0 MCX IDMS TESTS_DIR BACKEND}
    TDIR=${3:?usage: $0 MCX IDMS TESTS_DIR BACKEND}
    BACKEND=${4:-sqlite}
    TOOL="python3 $TDIR/idms_tool.py"
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/mcx-idms-test.XXXXXX") || exit 1
    # IDMS_KEEP=1 keeps the scratch folder (logs, stores, answers) for a post-mortem.
    if [ "${IDMS_KEEP:-0}" = 1 ]; then
        trap 'idms_cleanup; idms_pg_cleanup; echo "kept $tmp"' EXIT
    else
        trap 'idms_cleanup; idms_pg_cleanup; rm -rf "$tmp"' EXIT
    fi
    trap 'exit 1' INT TERM
    umask 077
    checks=0
    fails=0
    PG_URL=
    IDMS_PG_DBS=
    if [ "$BACKEND" = postgresql ]; then
        PG_URL=$(cat "${MCX_TEST_PG_URL_FILE:?PostgreSQL run without the fixture}") || exit 1
    fi
    MCX_STATE_DIR=$tmp/state
    export MCX_STATE_DIR
    idms_cert "$tmp" || exit 1
    printf '%s\n' 'correct horse battery staple' >"$tmp/alice.pw"
    printf '%s\n' 'bob-s3cret-pass' >"$tmp/bob.pw"
}

# idms_store NAME: a fresh, empty store URL for one daemon: an SQLite file in $tmp, or a new
# PostgreSQL database on the fixture's cluster (dropped at exit), so that tests running at the
# same time never share state.
idms_store() {
    if [ "$BACKEND" = postgresql ]; then
        _db="idms_$1_$$_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
        psql -XAtq -d "$PG_URL" -c "CREATE DATABASE $_db" >/dev/null || return 1
        IDMS_PG_DBS="$IDMS_PG_DBS $_db"
        echo "$PG_URL" | sed "s|/[^/?]*\(?.*\)\{0,1\}\$|/$_db\1|"
    else
        echo "sqlite:$tmp/$1.db"
    fi
}

idms_pg_cleanup() {
    for _db in $IDMS_PG_DBS; do
        psql -XAtq -d "$PG_URL" -c "DROP DATABASE IF EXISTS $_db WITH (FORCE)" >/dev/null 2>&1
    done
    IDMS_PG_DBS=
}

# idms_domain NAME [EXTRA_JSON_FIELDS [PORT]]: a complete IdMS: store, port (free if not given),
# config $tmp/NAME.json, `mcx idms init`, users alice (password $tmp/alice.pw, MCPTT ID
# sip:alice@NAME.example) and bob ($tmp/bob.pw), the client mcx-cli with the redirect URI mcx login
# uses. Sets $DOM_PORT, $DOM_URL, $DOM_STORE, $DOM_CONF. Does not start the daemon.
idms_domain() {
    DOM_STORE=$(idms_store "$1") || return 1
    DOM_PORT=${3:-$(idms_free_port)}
    DOM_URL=https://127.0.0.1:$DOM_PORT
    DOM_CONF=$tmp/$1.json
    idms_config "$tmp" "$1" "$DOM_PORT" "$DOM_STORE" "${2:-}"
    idms_admin "init $1" idms init --config "$DOM_CONF" || return 1
    idms_admin "add alice" idms user add --config "$DOM_CONF" --user alice \
        --password-file "$tmp/alice.pw" --mcptt-id "sip:alice@$1.example" || return 1
    idms_admin "add bob" idms user add --config "$DOM_CONF" --user bob \
        --password-file "$tmp/bob.pw" --mcptt-id "sip:bob@$1.example" || return 1
    idms_admin "add client" idms client add --config "$DOM_CONF" --client-id mcx-cli \
        --redirect-uri http://127.0.0.1/callback || return 1
}

# idms_admin WHAT ARGS...: run mcx ARGS; on failure print its output and count a failure.
idms_admin() {
    _what=$1
    shift
    checks=$((checks + 1))
    if ! "$MCX" "$@" >"$tmp/admin.out" 2>&1; then
        fail "$_what: mcx $* failed: $(cat "$tmp/admin.out")"
        return 1
    fi
}

fail() {
    fails=$((fails + 1))
    echo "FAIL: $*"
}

# expect_eq NAME GOT WANT
expect_eq() {
    checks=$((checks + 1))
    [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

# expect_ne NAME GOT UNWANTED
expect_ne() {
    checks=$((checks + 1))
    [ "$2" != "$3" ] || fail "$1: got '$2', expected anything else"
}

# expect_in NAME FILE FIXED-STRING: FILE contains the string.
expect_in() {
    checks=$((checks + 1))
    grep -qF -- "$3" "$2" || fail "$1: $(basename "$2") lacks '$3': $(head -c 600 "$2")"
}

# expect_not_in NAME FILE FIXED-STRING
expect_not_in() {
    checks=$((checks + 1))
    if grep -qF -- "$3" "$2"; then fail "$1: $(basename "$2") has '$3'"; fi
}

# expect_rc NAME GOT_RC WANT_RC [FILE-TO-SHOW]
expect_rc() {
    checks=$((checks + 1))
    if [ "$2" -ne "$3" ]; then
        fail "$1: exit $2, expected $3"
        [ -n "${4:-}" ] && sed 's/^/    /' "$4"
    fi
    return 0
}

# hcurl OUT ARGS...: curl trusting the test certificate; body to $tmp/OUT, headers to
# $tmp/OUT.h; prints the HTTP status (000 when no answer). $SRC, when set, is the local source
# address (e.g. 127.0.0.2, to appear as another client).
hcurl() {
    _o=$1
    shift
    curl -sS --cacert "$tmp/cert.pem" --max-time 15 ${SRC:+--interface "$SRC"} \
        -o "$tmp/$_o" -D "$tmp/$_o.h" \
        -w '%{http_code}' "$@" 2>"$tmp/$_o.err"
}

# finish: the summary line, and the exit status of the test; also stops the daemons (any that
# exits with a non-zero status is a failure).
finish() {
    for _p in $IDMS_PIDS; do
        idms_stop "$_p" || fail "daemon $_p did not shut down cleanly"
    done
    echo "$checks checks, $fails failed"
    [ "$fails" -eq 0 ]
}
