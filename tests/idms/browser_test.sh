# idms.browser: the login page in a real browser. Headless Chromium, driven over the W3C WebDriver
# protocol (chromedriver; browser_login.py), opens /authorize with a PKCE challenge computed here,
# types a wrong password (the uniform error, no redirect), then the right one, and follows the
# 302 to a loopback redirect target; the code from the browser's URL is then exchanged at /token
# with curl and the code verifier.
# usage: sh browser_test.sh MCX IDMS TESTS_DIR sqlite   ($MCX_CHROMIUM, $MCX_CHROMEDRIVER optional)
# The screenshot of the login page is left in ${MCX_SCREENSHOT_DIR:-.}/idms-login.png.
# shellcheck shell=sh
. "$(dirname "$0")/idms_lib.sh"
idms_test_init "$@"
CHROMIUM=${MCX_CHROMIUM:-/usr/bin/chromium}
CHROMEDRIVER=${MCX_CHROMEDRIVER:-/usr/bin/chromedriver}
SHOT=${MCX_SCREENSHOT_DIR:-$PWD}/idms-login.png

idms_domain police || { finish; exit 1; }
rport=$(idms_free_port)
RU=http://127.0.0.1:$rport/callback
idms_admin "add browser client" idms client add --config "$DOM_CONF" --client-id browser-test \
    --redirect-uri "$RU"
idms_start "$IDMS" "$DOM_CONF" "$tmp/police.log" || { fail "daemon did not start"; finish; exit 1; }

set -- $($TOOL pkce)
V=$1
C=$2
state=$($TOOL pkce | cut -c1-16)
nonce=n-$state
auth="$DOM_URL/authorize?response_type=code&client_id=browser-test&redirect_uri=$RU&scope=openid%203gpp%3Amc%3Aptt_service&state=$state&nonce=$nonce&code_challenge=$C&code_challenge_method=S256"
rm -f "$SHOT"
python3 "$TDIR/browser_login.py" --chromedriver "$CHROMEDRIVER" --chromium "$CHROMIUM" \
    --authorize-url "$auth" --redirect-port "$rport" --user alice \
    --password-file "$tmp/alice.pw" --wrong-password "not the password" \
    --screenshot "$SHOT" --profile "$tmp/profile" >"$tmp/b.json" 2>"$tmp/b.err"
rc=$?
expect_rc "browser_login.py" $rc 0 "$tmp/b.err"
[ $rc -eq 0 ] || { sed 's/^/    /' "$tmp/profile.chromedriver.log" | tail -n 20; finish; exit 1; }
cat "$tmp/b.json"

checks=$((checks + 1))
[ -s "$SHOT" ] && [ "$(head -c 8 "$SHOT" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
    fail "no PNG screenshot at $SHOT"
expect_eq "password input type" "$($TOOL get "$tmp/b.json" password_type)" password
expect_eq "wrong password: uniform error" "$($TOOL get "$tmp/b.json" wrong_alert)" \
    "Invalid username or password."
wrong_url=$($TOOL get "$tmp/b.json" wrong_url)
case "$wrong_url" in "$DOM_URL/authorize"*) ;; *) fail "wrong password left the IdMS: $wrong_url" ;; esac
final=$($TOOL get "$tmp/b.json" final_url)
case "$final" in "$RU?"*) ;; *) fail "browser ended at '$final', not $RU" ;; esac
expect_eq "redirect target page shown" "$($TOOL get "$tmp/b.json" landed)" "Signed in"
expect_eq "redirect target served the callback" "$($TOOL get "$tmp/b.json" callback_path)" \
    "${final#http://127.0.0.1:$rport}"
expect_eq "state returned" "$($TOOL urlparam "$final" state)" "$state"
expect_eq "iss returned (RFC 9207)" "$($TOOL urlparam "$final" iss)" "$DOM_URL"
code=$($TOOL urlparam "$final" code)
expect_ne "code returned" "$code" ""

# The code, exchanged by curl with the verifier only this test knows.
st=$(hcurl r "$DOM_URL/token" --data-urlencode grant_type=authorization_code \
    --data-urlencode "code=$code" --data-urlencode "redirect_uri=$RU" \
    --data-urlencode client_id=browser-test --data-urlencode "code_verifier=$V")
expect_eq "code exchange" "$st" 200
at=$($TOOL get "$tmp/r" access_token)
it=$($TOOL get "$tmp/r" id_token)
$TOOL jwt "$at" claims >"$tmp/atc" && $TOOL jwt "$it" claims >"$tmp/idc"
expect_rc "tokens decode" $? 0 "$tmp/r"
expect_eq "access sub" "$($TOOL get "$tmp/atc" sub)" alice
expect_eq "access client_id" "$($TOOL get "$tmp/atc" client_id)" browser-test
expect_eq "access mcptt_id" "$($TOOL get "$tmp/atc" mcptt_id)" sip:alice@police.example
expect_eq "ID aud" "$($TOOL get "$tmp/idc" aud)" browser-test
expect_eq "ID nonce" "$($TOOL get "$tmp/idc" nonce)" "$nonce"
expect_eq "ID iss" "$($TOOL get "$tmp/idc" iss)" "$DOM_URL"
# Signature, by an independent JOSE implementation.
if command -v jose >/dev/null; then
    hcurl jwks "$DOM_URL/jwks" >/dev/null
    $TOOL jwk "$tmp/jwks" "$($TOOL jwt "$at" header | $TOOL get - kid)" >"$tmp/jwk"
    printf '%s' "$at" >"$tmp/at"
    jose jws ver -i "$tmp/at" -k "$tmp/jwk" >/dev/null 2>"$tmp/err"
    expect_rc "jose verifies the browser's access token" $? 0 "$tmp/err"
fi
# The same code again: refused.
st=$(hcurl r "$DOM_URL/token" --data-urlencode grant_type=authorization_code \
    --data-urlencode "code=$code" --data-urlencode "redirect_uri=$RU" \
    --data-urlencode client_id=browser-test --data-urlencode "code_verifier=$V")
expect_eq "code used twice" "$st" 400

finish
