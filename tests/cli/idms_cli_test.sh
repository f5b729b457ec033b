#!/bin/sh
# End-to-end test of `mcx idms`, `mcx login` and `mcx token`: the real mcx against a real mcx-idms
# daemon on 127.0.0.1 over HTTPS (self-signed certificate), with a real SQLite store, driven with
# the documented flags and checked on exit codes, JSON output, stderr and the token files.
# usage: idms_cli_test.sh PATH/TO/mcx PATH/TO/tests/vectors PATH/TO/mcx-idms
set -u

IDMS_BIN=${3:?usage: $0 MCX VECTOR_DIR MCX_IDMS}
# The IdMS helpers (certificate, configuration, start/stop); then cli_lib.sh, whose checks
# (fail, expect_eq, finish) are the ones this test uses.
. "$(dirname "$0")/../idms/idms_lib.sh"
. "$(dirname "$0")/cli_lib.sh" "$@"
trap 'idms_cleanup; rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

MCX_STATE_DIR=$tmp/state # does not exist yet: mcx login creates it 0700
export MCX_STATE_DIR
unset XDG_STATE_HOME

# mode PATH: the permission bits in octal, e.g. 600.
mode() {
    stat -c %a "$1"
}

# json_str FILE KEY: a string member of a JSON file (the token file, one member per line).
json_str() {
    sed -n "s/^ *\"$2\": *\"\([^\"]*\)\".*\$/\1/p" "$1" | head -n 1
}

idms_cert "$tmp" || exit 1
port=$(idms_free_port)
# A relative SQLite file: relative to the configuration's folder, for the daemon and for mcx.
idms_config "$tmp" police "$port" "sqlite:police.db"
conf=$tmp/police.json
db=$tmp/police.db
printf 'alice-pass-1\n' >"$tmp/alice.pw"
printf 'wrong-pass\n' >"$tmp/wrong.pw"
printf 'bob-pass-2\n' >"$tmp/bob2.pw"

# ---- usage errors (exit 2, nothing on stdout) ----
run "init without a store" 2 idms init && expect_err "init without a store" "--store"
run "init with both" 2 idms init --store "sqlite:$db" --config "$conf"
run "user add without --user" 2 idms user add --store "sqlite:$db" --password-file "$tmp/alice.pw" &&
    expect_err "user add without --user" "missing required flag --user"
run "client add without --redirect-uri" 2 idms client add --client-id x --store "sqlite:$db"
run "login without --idms" 2 login --user alice --password-file "$tmp/alice.pw" &&
    expect_err "login without --idms" "missing required flag --idms"
run "login without --user" 2 login --idms "https://127.0.0.1:$port"
run "exchange without --partner" 2 token exchange && expect_err "exchange without --partner" "--partner"
run "unknown idms command" 2 idms user frob && expect_err "unknown idms command" "frob"
run "idms user alone" 2 idms user && expect_err "idms user alone" "missing command"
run "unknown flag" 2 login --idms x --user a --password x && expect_err "unknown flag" "--password"
run "bad label" 2 token show --label ../x
run "password file missing" 2 idms user add --user carol --password-file "$tmp/none" --store "sqlite:$db"
: >"$tmp/empty.pw"
run "empty password" 2 idms user add --user carol --password-file "$tmp/empty.pw" --store "sqlite:$db" &&
    expect_err "empty password" "empty password"

# ---- help at every level ----
for args in "idms --help" "idms user --help" "idms user add --help" "idms key rotate --help" \
    "login --help" "token --help" "token show --help" "token exchange --help"; do
    # shellcheck disable=SC2086
    run "mcx $args" 0 $args && expect_out "mcx $args" "usage: mcx ${args% --help}"
done

# ---- administration ----
if run "init" 0 idms init --store "sqlite:$db"; then
    expect_out "init" '"initialized": true'
    expect_out "init" '"store": "sqlite"'
fi
run "init again (no-op)" 0 idms init --config "$conf"
expect_eq "store mode" "$(mode "$db")" 600
if run "user add (password file)" 0 idms user add --config "$conf" --user alice \
    --password-file "$tmp/alice.pw" --mcptt-id sip:alice@police.example \
    --mcdata-id sip:alice-data@police.example; then
    expect_out "user add (password file)" '"user": "alice"'
    expect_out "user add (password file)" '"mcptt_id": "sip:alice@police.example"'
    expect_out "user add (password file)" '"enabled": true'
fi
# --config: the hash is made with the daemon's configured argon2 costs (idms_config: t=1, 1 MiB)
if command -v sqlite3 >/dev/null; then
    expect_eq "argon2 costs of --config" \
        "$(sqlite3 "$db" "SELECT substr(password_hash, 1, 30) FROM users WHERE username='alice'")" \
        '$argon2id$v=19$m=1024,t=1,p=1$'
fi
checks=$((checks + 1))
printf 'bob-pass-2\n' | "$MCX" idms user add --config "$conf" --user bob \
    --mcptt-id sip:bob@police.example >"$tmp/out" 2>"$tmp/err" ||
    fail "user add (stdin): exit $?: $(cat "$tmp/err")"
expect_out "user add (stdin)" '"user": "bob"'
# the password is never in the store in clear
checks=$((checks + 1))
if grep -qa 'alice-pass-1\|bob-pass-2' "$db"; then fail "a password is in the store in clear"; fi
run "user add of an existing user" 1 idms user add --config "$conf" --user alice \
    --password-file "$tmp/alice.pw" && expect_err "user add of an existing user" "MCX_E_EXISTS"
run "user add, bad name" 2 idms user add --config "$conf" --user 'a b' --password-file "$tmp/alice.pw"
run "disable unknown user" 1 idms user disable --config "$conf" --user nobody &&
    expect_err "disable unknown user" "MCX_E_NOT_FOUND"
if run "client add" 0 idms client add --config "$conf" --client-id mcx-cli \
    --redirect-uri http://127.0.0.1/callback,http://127.0.0.1:8080/cb; then
    expect_out "client add" '"client_id": "mcx-cli"'
    expect_out "client add" '"http://127.0.0.1:8080/cb"'
fi
run "client add again" 1 idms client add --config "$conf" --client-id mcx-cli \
    --redirect-uri http://127.0.0.1/callback
run "store that cannot open" 3 idms init --store "sqlite:$tmp/no/such/dir/x.db"

# ---- the password asked on a terminal (script(1) gives mcx a pseudo-terminal): twice, never
# echoed; two different answers are a usage error ----
have_tty=0
if command -v script >/dev/null 2>&1; then
    have_tty=1
    checks=$((checks + 1))
    (sleep 0.5; printf 'carol-tty-pass\n'; sleep 0.3; printf 'carol-tty-pass\n'; sleep 0.5) |
        script -qec "'$MCX' idms user add --user carol --config '$conf'" /dev/null >"$tmp/tty.out" 2>&1 ||
        fail "user add on a terminal: $(cat "$tmp/tty.out")"
    expect_eq "terminal prompts" "$(grep -c 'New password for carol' "$tmp/tty.out")" 2
    checks=$((checks + 1))
    grep -q '"user": "carol"' "$tmp/tty.out" || fail "user add on a terminal: no result: $(cat "$tmp/tty.out")"
    checks=$((checks + 1))
    if grep -q 'carol-tty-pass' "$tmp/tty.out"; then fail "the password was echoed"; fi
    checks=$((checks + 1))
    (sleep 0.5; printf 'one-pass\n'; sleep 0.3; printf 'another\n'; sleep 0.5) |
        script -qec "'$MCX' idms user add --user dave --config '$conf'" /dev/null >"$tmp/tty.out" 2>&1
    grep -q 'the two passwords differ' "$tmp/tty.out" || fail "different passwords accepted: $(cat "$tmp/tty.out")"
fi

# ---- the daemon ----
idms_start "$IDMS_BIN" "$conf" "$tmp/idms.log" || {
    finish
    exit 1
}
url=$IDMS_URL
expect_eq "daemon URL" "$url" "https://127.0.0.1:$port"
tokens=$MCX_STATE_DIR/tokens.json

# ---- login: the whole PKCE flow ----
if run "login" 0 login --idms "$url" --user alice --password-file "$tmp/alice.pw" \
    --cacert "$tmp/cert.pem"; then
    expect_out "login" "\"issuer\": \"$url\""
    expect_out "login" '"user": "alice"'
    expect_out "login" '3gpp:mc:ptt_service'
    expect_out "login" "\"token_file\": \"$tokens\""
    expect_out "login" '"expires_at": '
    checks=$((checks + 1))
    if grep -q 'eyJ\|access_token\|refresh_token' "$tmp/out"; then fail "login printed a token"; fi
fi
checks=$((checks + 1))
[ -f "$tokens" ] || fail "no token file $tokens"
expect_eq "token file mode" "$(mode "$tokens")" 600
expect_eq "token folder mode" "$(mode "$MCX_STATE_DIR")" 700
expect_eq "no temporary files" "$(ls -A "$MCX_STATE_DIR" | wc -l | tr -d ' ')" 1
rt1=$(json_str "$tokens" refresh_token)
at1=$(json_str "$tokens" access_token)
checks=$((checks + 1))
[ -n "$rt1" ] && [ -n "$at1" ] || fail "token file lacks the tokens"

# ---- token show ----
if run "token show" 0 token show; then
    expect_out "token show" '"mcptt_id": "sip:alice@police.example"'
    expect_out "token show" '"scope": "openid 3gpp:mc:ptt_service'
    expect_out "token show" '"typ": "at+jwt"'
    expect_out "token show" '"sub": "alice"'
    expect_out "token show" '"aud": "mcx-cli"'
    expect_out "token show" '"expired": false'
    expect_out "token show" '"refresh_token": true'
    checks=$((checks + 1))
    if grep -qF -- "$rt1" "$tmp/out"; then fail "token show printed the refresh token"; fi
    checks=$((checks + 1))
    if grep -qF -- "${at1##*.}" "$tmp/out"; then fail "token show printed a signature"; fi
fi
run "token show --file" 0 token show --file "$tokens" && expect_out "token show --file" '"sub": "alice"'
run "token show, no such label" 1 token show --label nobody && expect_err "token show, no such label" "mcx login"

# ---- refused logins ----
run "wrong password" 1 login --idms "$url" --user alice --password-file "$tmp/wrong.pw" \
    --cacert "$tmp/cert.pem" && expect_err "wrong password" "Invalid username or password"
run "unknown user" 1 login --idms "$url" --user mallory --password-file "$tmp/wrong.pw" \
    --cacert "$tmp/cert.pem" && expect_err "unknown user" "Invalid username or password"
expect_eq "refused login keeps the tokens" "$(json_str "$tokens" refresh_token)" "$rt1"
run "untrusted certificate" 3 login --idms "$url" --user alice --password-file "$tmp/alice.pw" &&
    expect_err "untrusted certificate" "MCX_E_IO"
# the certificate is valid for localhost too, but the issuer is https://127.0.0.1:PORT (OIDC
# Discovery §4.3)
run "issuer mismatch" 1 login --idms "https://localhost:$port" --user alice \
    --password-file "$tmp/alice.pw" --cacert "$tmp/cert.pem" && expect_err "issuer mismatch" "issuer"
run "plain http" 2 login --idms "http://127.0.0.1:$port" --user alice \
    --password-file "$tmp/alice.pw" && expect_err "plain http" "https"
run "unregistered redirect URI" 1 login --idms "$url" --user alice --password-file "$tmp/alice.pw" \
    --cacert "$tmp/cert.pem" --redirect-uri http://127.0.0.1:9/evil
run "unknown client" 1 login --idms "$url" --user alice --password-file "$tmp/alice.pw" \
    --cacert "$tmp/cert.pem" --client-id nobody

# ---- bob, password from standard input, under a label ----
checks=$((checks + 1))
printf 'bob-pass-2\n' | "$MCX" login --idms "$url" --user bob --cacert "$tmp/cert.pem" \
    --label bob >"$tmp/out" 2>"$tmp/err" || fail "login bob (stdin): $(cat "$tmp/err")"
run "token show --label bob" 0 token show --label bob &&
    expect_out "token show --label bob" '"mcptt_id": "sip:bob@police.example"'
expect_eq "bob's token file mode" "$(mode "$MCX_STATE_DIR/tokens-bob.json")" 600

# ---- carol, whose password was typed on a terminal; mcx login asks it once ----
if [ "$have_tty" = 1 ]; then
    checks=$((checks + 1))
    (sleep 0.5; printf 'carol-tty-pass\n'; sleep 0.5) |
        script -qec "'$MCX' login --idms '$url' --user carol --cacert '$tmp/cert.pem' --label carol" \
            /dev/null >"$tmp/tty.out" 2>&1
    grep -q '"user": "carol"' "$tmp/tty.out" || fail "login on a terminal: $(cat "$tmp/tty.out")"
    expect_eq "login prompts once" "$(grep -c 'Password for carol' "$tmp/tty.out")" 1
    checks=$((checks + 1))
    if grep -q 'carol-tty-pass' "$tmp/tty.out"; then fail "the login password was echoed"; fi
fi

# ---- refresh: the refresh token rotates ----
cp -p "$tokens" "$tmp/tokens-before.json"
if run "token refresh" 0 token refresh --cacert "$tmp/cert.pem"; then
    expect_out "token refresh" '"rotated": true'
    expect_out "token refresh" "\"issuer\": \"$url\""
fi
rt2=$(json_str "$tokens" refresh_token)
checks=$((checks + 1))
if cmp -s "$tokens" "$tmp/tokens-before.json"; then fail "refresh left the token file as it was"; fi
checks=$((checks + 1))
[ -n "$rt2" ] && [ "$rt2" != "$rt1" ] || fail "refresh token not rotated"
expect_eq "token file mode after refresh" "$(mode "$tokens")" 600
run "token show after refresh" 0 token show && expect_out "token show after refresh" '"sub": "alice"'
# the old refresh token, used again, is refused (RFC 9700 §4.14.2: reuse detection)
cp -p "$tmp/tokens-before.json" "$MCX_STATE_DIR/tokens-old.json"
run "reused refresh token" 1 token refresh --cacert "$tmp/cert.pem" --label old &&
    expect_err "reused refresh token" "invalid_grant"

# ---- a token file others can read is refused ----
chmod 644 "$MCX_STATE_DIR/tokens-bob.json"
run "token file 0644" 1 token show --label bob && expect_err "token file 0644" "0600"
chmod 600 "$MCX_STATE_DIR/tokens-bob.json"

# ---- disabled user ----
if run "disable alice" 0 idms user disable --config "$conf" --user alice; then
    expect_out "disable alice" '"user": "alice"'
    expect_out "disable alice" '"enabled": false'
fi
run "disabled user login" 1 login --idms "$url" --user alice --password-file "$tmp/alice.pw" \
    --cacert "$tmp/cert.pem" --label alice2
checks=$((checks + 1))
[ -f "$MCX_STATE_DIR/tokens-alice2.json" ] && fail "a refused login wrote a token file"
run "disabled user refresh" 1 token refresh --cacert "$tmp/cert.pem"
run "enable alice" 0 idms user enable --config "$conf" --user alice &&
    expect_out "enable alice" '"enabled": true'
run "login after enable" 0 login --idms "$url" --user alice --password-file "$tmp/alice.pw" \
    --cacert "$tmp/cert.pem"

# ---- password change ----
printf 'alice-pass-NEW\n' >"$tmp/alice2.pw"
run "user password" 0 idms user password --config "$conf" --user alice --password-file "$tmp/alice2.pw" &&
    expect_out "user password" '"password_changed": true'
run "old password refused" 1 login --idms "$url" --user alice --password-file "$tmp/alice.pw" \
    --cacert "$tmp/cert.pem" && expect_err "old password refused" "Invalid username or password"
run "new password" 0 login --idms "$url" --user alice --password-file "$tmp/alice2.pw" \
    --cacert "$tmp/cert.pem"

# ---- key rotation: new tokens are signed with the new key, and verified by mcx login ----
if run "key rotate" 0 idms key rotate --config "$conf"; then
    kid=$(field kid)
    checks=$((checks + 1))
    [ -n "$kid" ] || fail "key rotate printed no kid"
    kill -HUP "$IDMS_PID"
    sleep 0.3
    run "login after rotation" 0 login --idms "$url" --user alice --password-file "$tmp/alice2.pw" \
        --cacert "$tmp/cert.pem"
    run "token show after rotation" 0 token show && expect_out "token show after rotation" "\"kid\": \"$kid\""
fi

# ---- throttling (last: it locks this address out): repeated failures end in HTTP 429, which
# mcx reports as a refusal ----
checks=$((checks + 1))
locked=0
i=0
while [ $i -lt 10 ] && [ $locked = 0 ]; do
    "$MCX" login --idms "$url" --user bob --password-file "$tmp/wrong.pw" \
        --cacert "$tmp/cert.pem" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    [ $rc -eq 1 ] || fail "throttled login $i: exit $rc"
    grep -q 'too many failed attempts' "$tmp/err" && locked=1
    i=$((i + 1))
done
[ $locked = 1 ] || fail "no lockout after 10 failed logins: $(cat "$tmp/err")"
run "locked out, right password" 1 login --idms "$url" --user bob --password-file "$tmp/bob2.pw" \
    --cacert "$tmp/cert.pem" && expect_err "locked out, right password" "too many failed attempts"

checks=$((checks + 1))
idms_stop || fail "the daemon did not shut down cleanly"
finish
