# idms.errors: raw HTTP against /authorize and /token for every error case (RFC 6749 §4.1.2.1,
# §5.2; RFC 7636 §4.4.1, §4.6; OAuth 2.0 Security BCP RFC 9700 §4.14 refresh token rotation), and
# that a refused request changes nothing in the store.
# usage: sh errors_test.sh MCX IDMS TESTS_DIR sqlite|postgresql
# shellcheck shell=sh
. "$(dirname "$0")/idms_lib.sh"
idms_test_init "$@"
RU=http://127.0.0.1/callback
S=openid%203gpp%3Amc%3Aptt_service

idms_domain police '"login_throttle": {"max_failures": 3, "window": 60, "lockout": 60}' ||
    { finish; exit 1; }
url=$DOM_URL
idms_start "$IDMS" "$DOM_CONF" "$tmp/police.log" || { fail "daemon did not start"; finish; exit 1; }

rows() { # TABLE -> row count in the daemon's store
    $TOOL count "$DOM_STORE" "$1"
}
snapshot() { # the rows a refused request must not add to
    echo "codes=$(rows codes) refresh=$(rows refresh_tokens) login=$(rows login_requests)"
}
location() { # HEADER_FILE -> the Location header's value
    sed -n 's/^[Ll]ocation: *//p' "$1" | tr -d '\r'
}
# expect_error NAME STATUS ERROR: the last answer ($tmp/r) has that status and RFC 6749 error.
expect_error() {
    expect_eq "$1: status" "$st" "$2"
    expect_eq "$1: error" "$($TOOL get "$tmp/r" error 2>/dev/null)" "$3"
    expect_in "$1: JSON content type" "$tmp/r.h" "application/json"
    expect_not_in "$1: no token" "$tmp/r" '"access_token"'
}

# login USER PASSWORD_FILE CHALLENGE STATE: the login page by GET, the form by POST; the 302's
# Location in $loc, the code in $code.
login() {
    code=
    loc=
    st=$(hcurl page "$url/authorize?response_type=code&client_id=mcx-cli&redirect_uri=$RU&scope=$S&state=$4&code_challenge=$3&code_challenge_method=S256")
    [ "$st" = 200 ] || { fail "GET /authorize: $st $(cat "$tmp/page")"; return 1; }
    hidden=$($TOOL hidden "$tmp/page") || { fail "login page has no hidden fields"; return 1; }
    st=$(hcurl post "$url/authorize" --data "$hidden" --data-urlencode "username=$1" \
        --data-urlencode "password=$(cat "$2")")
    loc=$(location "$tmp/post.h")
    code=$($TOOL urlparam "$loc" code 2>/dev/null)
}
token() { # ARGS... for curl: POST /token; status in $st, body $tmp/r
    st=$(hcurl r "$url/token" "$@")
}
set -- $($TOOL pkce)
V=$1
C=$2

# ---- TLS: 1.2 and 1.3 only (RFC 8996 deprecates 1.0 and 1.1) ---------------------------------
# The client side lowers OpenSSL's security level so that it would offer the old versions: a
# refusal then comes from the server.
tls() { # ARGS... for openssl s_client; exit status of the handshake
    openssl s_client -connect "${url#https://}" -CAfile "$tmp/cert.pem" "$@" </dev/null \
        >"$tmp/tls.out" 2>&1
}
for v in tls1 tls1_1; do
    tls "-$v" -cipher 'DEFAULT@SECLEVEL=0'
    rc=$?
    checks=$((checks + 1))
    [ "$rc" -ne 0 ] || fail "the server accepted a $v handshake"
done
for v in tls1_2 tls1_3; do
    tls "-$v" -verify_return_error
    expect_rc "$v handshake" $? 0 "$tmp/tls.out"
done

# ---- The happy path once, for reference ----------------------------------------------------------
login alice "$tmp/alice.pw" "$C" st1
expect_eq "login: 302" "$st" 302
case "$loc" in "$RU?"*) ;; *) fail "login redirect to '$loc'" ;; esac
expect_eq "login: state" "$($TOOL urlparam "$loc" state)" st1
expect_eq "login: iss (RFC 9207)" "$($TOOL urlparam "$loc" iss)" "$url"
expect_ne "login: code" "$code" ""
code1=$code

# ---- /token refusals that must not touch the code (it still works afterwards) -------------------
before=$(snapshot)
token --data "code=$code1&redirect_uri=$RU&client_id=mcx-cli&code_verifier=$V"
expect_error "missing grant_type" 400 invalid_request
token --data "grant_type=password&username=alice&password=x&client_id=mcx-cli"
expect_error "grant_type password" 400 unsupported_grant_type
token --data "grant_type=client_credentials&client_id=mcx-cli"
expect_error "grant_type client_credentials" 400 unsupported_grant_type
token --data "grant_type=authorization_code&code=$code1&redirect_uri=$RU&client_id=nobody&code_verifier=$V"
expect_error "unknown client" 401 invalid_client
token --data "grant_type=authorization_code&grant_type=authorization_code&code=$code1&redirect_uri=$RU&client_id=mcx-cli&code_verifier=$V"
expect_error "duplicate grant_type" 400 invalid_request
token --data "grant_type=authorization_code&code=$code1&code=$code1&redirect_uri=$RU&client_id=mcx-cli&code_verifier=$V"
expect_error "duplicate code" 400 invalid_request
token -H "Content-Type: application/json" \
    --data "{\"grant_type\":\"authorization_code\",\"code\":\"$code1\",\"code_verifier\":\"$V\"}"
expect_error "JSON body" 400 invalid_request
head -c 20000 /dev/zero | tr '\0' a >"$tmp/big"
st=$(hcurl r "$url/token" --data "grant_type=authorization_code&code=$code1&x=" \
    --data-binary "@$tmp/big")
expect_eq "oversized body: 413" "$st" 413
st=$(hcurl r -X PUT "$url/token" --data "grant_type=authorization_code")
checks=$((checks + 1))
case "$st" in 405 | 400) ;; *) fail "PUT /token: $st" ;; esac
expect_eq "refusals wrote nothing" "$(snapshot)" "$before"

# ---- Refusals that spend the code: PKCE and redirect URI are checked against the code -----------
login alice "$tmp/alice.pw" "$C" st2
token --data "grant_type=authorization_code&code=$code&redirect_uri=http://127.0.0.1/other&client_id=mcx-cli&code_verifier=$V"
expect_error "wrong redirect_uri" 400 invalid_grant
login alice "$tmp/alice.pw" "$C" st3
set -- $($TOOL pkce)
token --data "grant_type=authorization_code&code=$code&redirect_uri=$RU&client_id=mcx-cli&code_verifier=$1"
expect_error "wrong code_verifier" 400 invalid_grant
token --data "grant_type=authorization_code&code=$code&redirect_uri=$RU&client_id=mcx-cli"
expect_error "no code_verifier" 400 invalid_request
token --data "grant_type=authorization_code&code=not-a-code-at-all&redirect_uri=$RU&client_id=mcx-cli&code_verifier=$V"
expect_error "unknown code" 400 invalid_grant

# ---- The good exchange, then a replay of the code revokes what it gave (RFC 6749 §4.1.2) -------
before_rt=$(rows refresh_tokens)
token --data "grant_type=authorization_code&code=$code1&redirect_uri=$RU&client_id=mcx-cli&code_verifier=$V"
expect_eq "exchange: 200" "$st" 200
expect_in "exchange: no caching (RFC 6749 §5.1)" "$tmp/r.h" "no-store"
expect_eq "exchange: token_type" "$($TOOL get "$tmp/r" token_type)" Bearer
rt1=$($TOOL get "$tmp/r" refresh_token)
expect_ne "exchange: refresh token" "$rt1" ""
expect_eq "exchange: one refresh token row" "$(rows refresh_tokens)" $((before_rt + 1))
token --data "grant_type=authorization_code&code=$code1&redirect_uri=$RU&client_id=mcx-cli&code_verifier=$V"
expect_error "code replay" 400 invalid_grant
token --data "grant_type=refresh_token&refresh_token=$rt1&client_id=mcx-cli"
expect_error "refresh after code replay (family revoked)" 400 invalid_grant

# ---- Concurrent replay: one code presented 8 times at once ---------------------------------------
# One wins; every other use is a replay, also the ones that lose the race only at the final
# conditional UPDATE (PostgreSQL, READ COMMITTED): each revokes the family and is audited.
login alice "$tmp/alice.pw" "$C" par
pc=$code
replays_before=$($TOOL count "$DOM_STORE" audit "detail LIKE 'code replayed%'")
pids=
for i in 1 2 3 4 5 6 7 8; do
    hcurl "par$i" "$url/token" --data "grant_type=authorization_code&code=$pc&redirect_uri=$RU&client_id=mcx-cli&code_verifier=$V" >"$tmp/par$i.st" &
    pids="$pids $!"
done
# shellcheck disable=SC2086
wait $pids
won=0
for i in 1 2 3 4 5 6 7 8; do
    case "$(cat "$tmp/par$i.st")" in
    200) won=$((won + 1)); prt=$($TOOL get "$tmp/par$i" refresh_token) ;;
    400) expect_eq "concurrent use $i: error" "$($TOOL get "$tmp/par$i" error)" invalid_grant ;;
    *) fail "concurrent use $i: status $(cat "$tmp/par$i.st")" ;;
    esac
done
expect_eq "concurrent uses of one code: exactly one wins" "$won" 1
expect_eq "concurrent uses: 7 replays audited" \
    "$(($($TOOL count "$DOM_STORE" audit "detail LIKE 'code replayed%'") - replays_before))" 7
token --data "grant_type=refresh_token&refresh_token=${prt:-none}&client_id=mcx-cli"
expect_error "the winner's refresh token after concurrent replays (family revoked)" 400 invalid_grant

# The loser of the race, deterministically (PostgreSQL): another session spends the code and
# issues a refresh token of its family, holding the row lock, while /token runs; /token's SELECT
# still sees the code unused, its conditional UPDATE waits, then changes no row. That must count as
# a replay: the family revoked, the refusal audited.
if [ "$BACKEND" = postgresql ]; then
    login alice "$tmp/alice.pw" "$C" race
    # the concurrent uses above may already have produced such a line (which of the requests
    # loses is up to the scheduler): count this race's own
    concurrent_before=$($TOOL count "$DOM_STORE" audit "detail LIKE 'code replayed (concurrent use)%'")
    rh=$(printf '%s' "$code" | sha256sum | cut -d' ' -f1)
    mkfifo "$tmp/psql.in"
    psql -XAtq -v ON_ERROR_STOP=1 -d "$DOM_STORE" <"$tmp/psql.in" >"$tmp/psql.out" 2>&1 &
    psql_pid=$!
    exec 3>"$tmp/psql.in"
    printf '%s\n' "BEGIN;" "UPDATE codes SET used = 1 WHERE hash = '$rh';" \
        "INSERT INTO refresh_tokens (hash, family, username, client_id, scope, auth_time,
         created_at, expires_at, used, revoked) SELECT 'race-winner', family, username,
         client_id, scope, 0, 0, 9999999999, 0, 0 FROM codes WHERE hash = '$rh';" >&3
    sleep 0.5
    hcurl race "$url/token" --data "grant_type=authorization_code&code=$code&redirect_uri=$RU&client_id=mcx-cli&code_verifier=$V" >"$tmp/race.st" &
    race_pid=$!
    sleep 1
    echo "COMMIT;" >&3
    exec 3>&-
    wait "$race_pid" "$psql_pid"
    st=$(cat "$tmp/race.st")
    cp "$tmp/race" "$tmp/r"
    cp "$tmp/race.h" "$tmp/r.h"
    expect_error "the race's loser" 400 invalid_grant
    expect_eq "the race's loser revoked the winner's family" \
        "$($TOOL count "$DOM_STORE" refresh_tokens "hash = 'race-winner' AND revoked = 1")" 1
    expect_eq "the race's loser is audited as a replay" \
        "$(($($TOOL count "$DOM_STORE" audit "detail LIKE 'code replayed (concurrent use)%'") - concurrent_before))" 1
    if [ -s "$tmp/psql.out" ]; then fail "psql: $(cat "$tmp/psql.out")"; fi
fi

# ---- Refresh rotation: reusing a spent refresh token revokes the whole family -------------------
login alice "$tmp/alice.pw" "$C" st4
token --data "grant_type=authorization_code&code=$code&redirect_uri=$RU&client_id=mcx-cli&code_verifier=$V"
expect_eq "second exchange: 200" "$st" 200
rta=$($TOOL get "$tmp/r" refresh_token)
token --data "grant_type=refresh_token&refresh_token=$rta&client_id=mcx-cli"
expect_eq "refresh: 200" "$st" 200
rtb=$($TOOL get "$tmp/r" refresh_token)
expect_ne "refresh: rotated" "$rtb" "$rta"
token --data "grant_type=refresh_token&refresh_token=$rtb&client_id=other-client"
expect_error "refresh with another client_id" 401 invalid_client
token --data "grant_type=refresh_token&refresh_token=$rta&client_id=mcx-cli"
expect_error "reused refresh token" 400 invalid_grant
token --data "grant_type=refresh_token&refresh_token=$rtb&client_id=mcx-cli"
expect_error "newest refresh token after reuse (family revoked)" 400 invalid_grant
token --data "grant_type=refresh_token&refresh_token=garbage&client_id=mcx-cli"
expect_error "unknown refresh token" 400 invalid_grant

# ---- /authorize ------------------------------------------------------------------------------
before=$(snapshot)
st=$(hcurl page "$url/authorize?response_type=code&client_id=mcx-cli&redirect_uri=$RU&scope=$S&state=p&code_challenge=$V&code_challenge_method=plain")
expect_eq "plain PKCE: redirect" "$st" 302
loc=$(location "$tmp/page.h")
case "$loc" in "$RU?"*) ;; *) fail "plain PKCE: redirect to '$loc'" ;; esac
expect_eq "plain PKCE: error" "$($TOOL urlparam "$loc" error 2>/dev/null)" invalid_request
expect_eq "plain PKCE: state" "$($TOOL urlparam "$loc" state 2>/dev/null)" p
st=$(hcurl page "$url/authorize?response_type=code&client_id=mcx-cli&redirect_uri=$RU&scope=$S&state=p")
expect_eq "no PKCE: redirect" "$st" 302
expect_eq "no PKCE: error" "$($TOOL urlparam "$(location "$tmp/page.h")" error 2>/dev/null)" \
    invalid_request
st=$(hcurl page "$url/authorize?response_type=token&client_id=mcx-cli&redirect_uri=$RU&scope=$S&state=p&code_challenge=$C&code_challenge_method=S256")
expect_eq "implicit flow: redirect" "$st" 302
expect_eq "implicit flow: error" "$($TOOL urlparam "$(location "$tmp/page.h")" error 2>/dev/null)" \
    unsupported_response_type
for bad in "http://evil.example/cb" "http://127.0.0.1/callback/x" "http://127.0.0.1/callback?x=1"; do
    st=$(hcurl page -G "$url/authorize" --data "response_type=code&client_id=mcx-cli&scope=$S&state=p&code_challenge=$C&code_challenge_method=S256" --data-urlencode "redirect_uri=$bad")
    expect_eq "redirect_uri $bad: 400 page" "$st" 400
    expect_eq "redirect_uri $bad: no Location" "$(location "$tmp/page.h")" ""
    expect_in "redirect_uri $bad: HTML" "$tmp/page.h" "text/html"
done
st=$(hcurl page "$url/authorize?response_type=code&client_id=nobody&redirect_uri=$RU&scope=$S&state=p&code_challenge=$C&code_challenge_method=S256")
expect_eq "unknown client at /authorize: 400 page" "$st" 400
expect_eq "unknown client at /authorize: no Location" "$(location "$tmp/page.h")" ""
expect_eq "/authorize refusals wrote nothing" "$(snapshot)" "$before"
# Request bytes that are not UTF-8 still make an audit row (PostgreSQL refuses invalid UTF-8 text:
# the row is stored as printable ASCII).
audit_uc=$($TOOL count "$DOM_STORE" audit "outcome = 'unauthorized_client'")
st=$(hcurl page "$url/authorize?response_type=code&client_id=%FF%FEbad&redirect_uri=$RU&scope=$S&state=p&code_challenge=$C&code_challenge_method=S256")
expect_eq "non-UTF-8 client_id: 400 page" "$st" 400
expect_eq "non-UTF-8 client_id: audited" \
    "$($TOOL count "$DOM_STORE" audit "outcome = 'unauthorized_client' AND client_id = '??bad'")" 1
expect_eq "  one row more" "$($TOOL count "$DOM_STORE" audit "outcome = 'unauthorized_client'")" \
    $((audit_uc + 1))
# A state or nonce outside VSCHAR (RFC 6749 Appendix A.5) is refused, not stored.
st=$(hcurl page "$url/authorize?response_type=code&client_id=mcx-cli&redirect_uri=$RU&scope=$S&state=%FF&code_challenge=$C&code_challenge_method=S256")
expect_eq "non-ASCII state: redirect" "$st" 302
expect_eq "non-ASCII state: error" "$($TOOL urlparam "$(location "$tmp/page.h")" error 2>/dev/null)" \
    invalid_request
st=$(hcurl page "$url/authorize?response_type=code&client_id=mcx-cli&redirect_uri=$RU&scope=$S&state=p&nonce=%C3%28&code_challenge=$C&code_challenge_method=S256")
expect_eq "non-UTF-8 nonce: redirect" "$st" 302
# The refused scope is not echoed back.
st=$(hcurl page "$url/authorize?response_type=code&client_id=mcx-cli&redirect_uri=$RU&scope=openid%20%3Cb%3Ex%FF&state=p&code_challenge=$C&code_challenge_method=S256")
expect_eq "unknown scope: redirect" "$st" 302
desc=$($TOOL urlparam "$(location "$tmp/page.h")" error_description 2>/dev/null)
case "$desc" in *"<b>"* | *x?*) fail "unknown scope: description echoes the value: $desc" ;; esac
checks=$((checks + 1))

# ---- Failures are counted atomically (PostgreSQL): another session's uncommitted failure for the
# same address holds the row; the daemon's count waits for it and adds to it, never overwrites it.
if [ "$BACKEND" = postgresql ]; then
    psql -XAtq -d "$DOM_STORE" -c "INSERT INTO throttle (key, failures, window_start, locked_until)
        VALUES ('addr:127.0.0.5', 0, $(date +%s), 0)" >/dev/null
    st=$(SRC=127.0.0.5 hcurl page "$url/authorize?response_type=code&client_id=mcx-cli&redirect_uri=$RU&scope=$S&state=t5&code_challenge=$C&code_challenge_method=S256")
    hidden=$($TOOL hidden "$tmp/page")
    mkfifo "$tmp/psql2.in"
    psql -XAtq -v ON_ERROR_STOP=1 -d "$DOM_STORE" <"$tmp/psql2.in" >"$tmp/psql2.out" 2>&1 &
    psql_pid=$!
    exec 3>"$tmp/psql2.in"
    printf '%s\n' "BEGIN;" \
        "UPDATE throttle SET failures = failures + 1 WHERE key = 'addr:127.0.0.5';" >&3
    sleep 0.5
    SRC=127.0.0.5 hcurl post5 "$url/authorize" --data "$hidden" --data-urlencode "username=nobody5" \
        --data-urlencode "password=wrong" >"$tmp/post5.st" &
    post_pid=$!
    sleep 1
    echo "COMMIT;" >&3
    exec 3>&-
    wait "$post_pid" "$psql_pid"
    expect_eq "failure during another's: page again" "$(cat "$tmp/post5.st")" 200
    expect_eq "both failures counted" \
        "$($TOOL count "$DOM_STORE" throttle "key = 'addr:127.0.0.5' AND failures = 2")" 1
    if [ -s "$tmp/psql2.out" ]; then fail "psql: $(cat "$tmp/psql2.out")"; fi
fi

# ---- Wrong passwords: the uniform message, then lockout (429) ---------------------------------
# Failures count per user and per client address (src/idms/throttle.c), so the cases come from
# different loopback source addresses (127.0.0.0/8 is all local on Linux).
printf 'wrong\n' >"$tmp/wrong.pw"
for i in 1 2 3; do
    SRC=127.0.0.2 login bob "$tmp/wrong.pw" "$C" "w$i"
    expect_eq "wrong password $i: page again" "$st" 200
    expect_in "wrong password $i: uniform error" "$tmp/post" \
        '<p class="error" role="alert">Invalid username or password.</p>'
    expect_eq "wrong password $i: no redirect" "$loc" ""
done
before=$(snapshot)
SRC=127.0.0.3 login bob "$tmp/bob.pw" "$C" w5
expect_eq "user locked out, even with the right password from elsewhere: 429" "$st" 429
expect_in "lockout page" "$tmp/post" 'role="alert"'
expect_in "lockout: Retry-After (RFC 6585 §4)" "$tmp/post.h" "Retry-After: "
expect_eq "locked out: no redirect" "$loc" ""
expect_eq "lockout wrote no code" "$(rows codes)" "$(echo "$before" | sed 's/codes=\([0-9]*\).*/\1/')"
SRC=127.0.0.3 login alice "$tmp/alice.pw" "$C" st5
expect_eq "another user from another address still logs in" "$st" 302
SRC=127.0.0.2 login alice "$tmp/alice.pw" "$C" st6
expect_eq "the guessing address is locked out for every user" "$st" 429
# An unknown user gets the very same page as a wrong password (no user enumeration).
SRC=127.0.0.4 login nosuchuser "$tmp/wrong.pw" "$C" w6
expect_eq "unknown user: page again" "$st" 200
expect_in "unknown user: same error" "$tmp/post" \
    '<p class="error" role="alert">Invalid username or password.</p>'

finish
