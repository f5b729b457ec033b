# idms.pkce_cli: `mcx login` runs the whole OpenID Connect code flow with PKCE against a real
# mcx-idms on loopback (discovery, login page, form post, code, /token), keeps the tokens in a
# private file, and `mcx token show` reads them back; a wrong password logs in nobody.
# usage: sh pkce_cli_test.sh MCX IDMS TESTS_DIR sqlite|postgresql
# shellcheck shell=sh
. "$(dirname "$0")/idms_lib.sh"
idms_test_init "$@"

idms_domain police || { finish; exit 1; }
idms_start "$IDMS" "$DOM_CONF" "$tmp/police.log" || { fail "daemon did not start"; finish; exit 1; }
expect_eq "printed URL" "$IDMS_URL" "$DOM_URL"

# The login.
"$MCX" login --idms "$DOM_URL" --user alice --password-file "$tmp/alice.pw" \
    --cacert "$tmp/cert.pem" >"$tmp/out" 2>"$tmp/err"
expect_rc "mcx login" $? 0 "$tmp/err"
tf=$MCX_STATE_DIR/tokens.json
checks=$((checks + 1))
[ -f "$tf" ] || fail "no token file $tf"
expect_eq "token file mode" "$(stat -c %a "$tf" 2>/dev/null)" 600

at=$($TOOL get "$tf" access_token)
it=$($TOOL get "$tf" id_token)
rt=$($TOOL get "$tf" refresh_token)
expect_ne "refresh token kept" "$rt" ""
$TOOL jwt "$at" header >"$tmp/ath" && $TOOL jwt "$at" claims >"$tmp/atc"
expect_rc "access token decodes" $? 0
expect_eq "access alg" "$($TOOL get "$tmp/ath" alg)" ES256
expect_eq "access typ" "$($TOOL get "$tmp/ath" typ)" at+jwt
expect_ne "access kid" "$($TOOL get "$tmp/ath" kid)" ""
expect_eq "access iss" "$($TOOL get "$tmp/atc" iss)" "$DOM_URL"
expect_eq "access sub" "$($TOOL get "$tmp/atc" sub)" alice
expect_eq "access mcptt_id" "$($TOOL get "$tmp/atc" mcptt_id)" sip:alice@police.example
expect_eq "access client_id" "$($TOOL get "$tmp/atc" client_id)" mcx-cli
expect_in "access scope" "$tmp/atc" 3gpp:mc:ptt_service
$TOOL jwt "$it" header >"$tmp/idh" && $TOOL jwt "$it" claims >"$tmp/idc"
expect_rc "ID token decodes" $? 0
expect_eq "ID typ" "$($TOOL get "$tmp/idh" typ)" JWT
expect_eq "ID iss" "$($TOOL get "$tmp/idc" iss)" "$DOM_URL"
expect_eq "ID aud" "$($TOOL get "$tmp/idc" aud)" mcx-cli
expect_eq "ID sub" "$($TOOL get "$tmp/idc" sub)" alice
exp=$($TOOL get "$tmp/atc" exp)
iat=$($TOOL get "$tmp/atc" iat)
checks=$((checks + 1))
[ "$exp" -gt "$iat" ] 2>/dev/null || fail "access exp $exp not after iat $iat"

# mcx token show reads the file back.
"$MCX" token show >"$tmp/out" 2>"$tmp/err"
expect_rc "mcx token show" $? 0 "$tmp/err"
expect_in "show names the user" "$tmp/out" alice
expect_in "show names the issuer" "$tmp/out" "$DOM_URL"

# The signature verifies with an independent JOSE implementation against the daemon's /jwks.
if command -v jose >/dev/null; then
    expect_eq "GET /jwks" "$(hcurl jwks "$DOM_URL/jwks")" 200
    $TOOL jwk "$tmp/jwks" "$($TOOL get "$tmp/ath" kid)" >"$tmp/jwk"
    expect_rc "kid listed in /jwks" $? 0
    printf '%s' "$at" >"$tmp/at.jws"
    jose jws ver -i "$tmp/at.jws" -k "$tmp/jwk" >/dev/null 2>"$tmp/err"
    expect_rc "jose verifies the access token" $? 0 "$tmp/err"
fi

# A wrong password: non-zero exit, no token file for that label.
printf 'not-the-password\n' >"$tmp/wrong.pw"
"$MCX" login --idms "$DOM_URL" --user alice --password-file "$tmp/wrong.pw" \
    --cacert "$tmp/cert.pem" --label wrong >"$tmp/out" 2>"$tmp/err"
rc=$?
checks=$((checks + 1))
[ "$rc" -ne 0 ] || fail "login with a wrong password succeeded"
checks=$((checks + 1))
[ ! -e "$MCX_STATE_DIR/tokens-wrong.json" ] || fail "a failed login wrote a token file"

# A certificate the client does not trust: refused before any credential is sent.
idms_cert "$tmp" other
"$MCX" login --idms "$DOM_URL" --user alice --password-file "$tmp/alice.pw" \
    --cacert "$tmp/other.pem" --label untrusted >"$tmp/out" 2>"$tmp/err"
rc=$?
checks=$((checks + 1))
[ "$rc" -ne 0 ] || fail "login against an untrusted certificate succeeded"

finish
