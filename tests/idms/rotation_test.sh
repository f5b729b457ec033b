# idms.rotation: signing-key rotation on a running daemon. `mcx idms key rotate` makes a new active
# key in the store; after SIGHUP the daemon signs with it, /jwks lists both keys, and tokens of
# both keys verify; once every token the old key signed has expired (retired_at + the longest
# token lifetime, tiny here) the old key leaves /jwks.
# usage: sh rotation_test.sh MCX IDMS TESTS_DIR sqlite|postgresql
# shellcheck shell=sh
. "$(dirname "$0")/idms_lib.sh"
idms_test_init "$@"
TTL=3

idms_domain police "\"access_token_ttl\": $TTL, \"id_token_ttl\": $TTL, \"refresh_token_ttl\": $TTL" ||
    { finish; exit 1; }
idms_start "$IDMS" "$DOM_CONF" "$tmp/police.log" || { fail "daemon did not start"; finish; exit 1; }

login() { # LABEL -> the access token's kid on stdout
    "$MCX" login --idms "$DOM_URL" --user alice --password-file "$tmp/alice.pw" \
        --cacert "$tmp/cert.pem" --label "$1" >"$tmp/out" 2>"$tmp/err"
    expect_rc "login $1" $? 0 "$tmp/err"
    printf '%s' "$($TOOL get "$MCX_STATE_DIR/tokens-$1.json" access_token)" >"$tmp/$1.jws"
    $TOOL jwt "$(cat "$tmp/$1.jws")" header | $TOOL get - kid
}
verifies() { # NAME TOKEN_FILE JWKS_FILE: jose verifies with the key of the token's kid
    _kid=$($TOOL jwt "$(cat "$2")" header | $TOOL get - kid)
    checks=$((checks + 1))
    if ! $TOOL jwk "$3" "$_kid" >"$tmp/k.jwk"; then
        fail "$1: kid $_kid not in /jwks"
        return
    fi
    jose jws ver -i "$2" -k "$tmp/k.jwk" >/dev/null 2>"$tmp/err" || fail "$1: jose: $(cat "$tmp/err")"
}

kid_a=$(login a)
expect_ne "token A has a kid" "$kid_a" ""
expect_eq "GET /jwks" "$(hcurl jwks1 "$DOM_URL/jwks")" 200
expect_eq "one key before rotation" "$($TOOL kids "$tmp/jwks1")" "$kid_a"

# Rotate in the store; the running daemon reloads on SIGHUP.
"$MCX" idms key rotate --config "$DOM_CONF" >"$tmp/out" 2>"$tmp/err"
expect_rc "mcx idms key rotate" $? 0 "$tmp/err"
expect_not_in "rotate prints no private key" "$tmp/out" "PRIVATE KEY"
kill -HUP "$IDMS_PID"
sleep 0.3
kid_b=$(login b)
expect_ne "token B has a kid" "$kid_b" ""
expect_ne "token B signed by the new key" "$kid_b" "$kid_a"
expect_eq "GET /jwks after rotation" "$(hcurl jwks2 "$DOM_URL/jwks")" 200
expect_eq "both keys published" "$($TOOL kids "$tmp/jwks2")" \
    "$(printf '%s\n%s\n' "$kid_a" "$kid_b" | sort)"
if command -v jose >/dev/null; then
    verifies "token A after rotation" "$tmp/a.jws" "$tmp/jwks2"
    verifies "token B" "$tmp/b.jws" "$tmp/jwks2"
fi
kill -0 "$IDMS_PID" 2>/dev/null || fail "the daemon died on SIGHUP"

# A second rotation without SIGHUP: the daemon notices the new active key by itself (it checks
# every few seconds).
"$MCX" idms key rotate --config "$DOM_CONF" >"$tmp/out" 2>"$tmp/err"
expect_rc "second rotate" $? 0 "$tmp/err"
i=0
kid_c=$kid_b
while [ $i -lt 15 ] && [ "$kid_c" = "$kid_b" ]; do
    sleep 1
    kid_c=$(login "c$i")
    i=$((i + 1))
done
expect_ne "new key picked up without SIGHUP" "$kid_c" "$kid_b"

# The retired key A stays published only until its tokens have expired (retired_at + the longest
# token lifetime, $TTL s here). The daemon rebuilds its key set on SIGHUP (else once a minute):
# poll with SIGHUP until A is gone.
i=0
while [ $i -lt 20 ]; do
    kill -HUP "$IDMS_PID"
    sleep 0.5
    hcurl jwks3 "$DOM_URL/jwks" >/dev/null
    $TOOL kids "$tmp/jwks3" >"$tmp/kids3"
    grep -qxF -e "$kid_a" "$tmp/kids3" || break
    i=$((i + 1))
done
checks=$((checks + 1))
grep -qxF -e "$kid_a" "$tmp/kids3" && fail "retired key A still in /jwks 10 s after its tokens (ttl $TTL s) expired"
checks=$((checks + 1))
grep -qxF -e "$kid_c" "$tmp/kids3" || fail "the active key left /jwks"
kill -0 "$IDMS_PID" 2>/dev/null || fail "the daemon died on SIGHUP"

finish
