# idms.jose_interop: tokens issued by mcx-idms verify with an independent JOSE implementation,
# Debian's `jose` (José, the latchset C library), using the key the daemon publishes at /jwks
# picked by the token's kid (RFC 7515 §4.1.4, RFC 7517); one changed signature character, a
# changed payload, or another key make it fail.
# usage: sh jose_interop_test.sh MCX IDMS TESTS_DIR sqlite|postgresql
# shellcheck shell=sh
. "$(dirname "$0")/idms_lib.sh"
idms_test_init "$@"

idms_domain police || { finish; exit 1; }
idms_start "$IDMS" "$DOM_CONF" "$tmp/police.log" || { fail "daemon did not start"; finish; exit 1; }
"$MCX" login --idms "$DOM_URL" --user alice --password-file "$tmp/alice.pw" \
    --cacert "$tmp/cert.pem" >"$tmp/out" 2>"$tmp/err"
expect_rc "mcx login" $? 0 "$tmp/err"
tf=$MCX_STATE_DIR/tokens.json

expect_eq "GET /jwks" "$(hcurl jwks "$DOM_URL/jwks")" 200
expect_in "/jwks content type (RFC 7517 §8.5)" "$tmp/jwks.h" "application/jwk-set+json"
# The JWK Set holds only public keys (RFC 7518 §6.2.2: "d" is the private part).
expect_not_in "no private key in /jwks" "$tmp/jwks" '"d"'

for kind in access_token id_token; do
    tok=$($TOOL get "$tf" $kind)
    kid=$($TOOL jwt "$tok" header | $TOOL get - kid)
    $TOOL jwk "$tmp/jwks" "$kid" >"$tmp/jwk"
    expect_rc "$kind: kid $kid in /jwks" $? 0
    expect_eq "$kind: key type" "$($TOOL get "$tmp/jwk" kty)/$($TOOL get "$tmp/jwk" crv)" EC/P-256
    # jose's own thumbprint of the published key is the kid (RFC 7638, SHA-256).
    expect_eq "$kind: kid is the RFC 7638 thumbprint" "$(jose jwk thp -i "$tmp/jwk" -a S256)" "$kid"

    printf '%s' "$tok" >"$tmp/tok"
    jose jws ver -i "$tmp/tok" -k "$tmp/jwk" -O "$tmp/payload" 2>"$tmp/err"
    expect_rc "$kind: jose jws ver" $? 0 "$tmp/err"
    expect_eq "$kind: verified payload is the token's claims" \
        "$($TOOL get "$tmp/payload" sub)/$($TOOL get "$tmp/payload" iss)" "alice/$DOM_URL"

    $TOOL flip "$tok" >"$tmp/bad"
    expect_ne "$kind: flipped token differs" "$(cat "$tmp/bad")" "$tok"
    jose jws ver -i "$tmp/bad" -k "$tmp/jwk" >/dev/null 2>&1
    rc=$?
    checks=$((checks + 1))
    [ "$rc" -ne 0 ] || fail "$kind: jose accepted a token with a flipped signature character"

    # The same signature over other claims (sub changed) fails too.
    h=${tok%%.*}
    s=${tok##*.}
    p=$($TOOL jwt "$tok" claims | sed 's/"sub": *"alice"/"sub":"mallory"/' | jose b64 enc -I -)
    printf '%s.%s.%s' "$h" "$p" "$s" >"$tmp/bad2"
    jose jws ver -i "$tmp/bad2" -k "$tmp/jwk" >/dev/null 2>&1
    rc=$?
    checks=$((checks + 1))
    [ "$rc" -ne 0 ] || fail "$kind: jose accepted changed claims"
done

# A key the daemon never used does not verify its tokens.
jose jwk gen -i '{"alg":"ES256"}' | jose jwk pub -i - -o "$tmp/other.jwk"
jose jws ver -i "$tmp/tok" -k "$tmp/other.jwk" >/dev/null 2>&1
rc=$?
checks=$((checks + 1))
[ "$rc" -ne 0 ] || fail "jose verified the token with an unrelated key"

finish
