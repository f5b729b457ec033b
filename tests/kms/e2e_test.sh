# kms.e2e: the real mcx-kms daemon on loopback behind a real mcx-idms. `mcx login` as alice, then
# `mcx keys fetch` provisions her key sets over HTTPS (init, keyprov/<uri>/<NTP-64>) and `mcx keys
# show` lists them; refusals checked with curl: another user's token (403 KmsError), no token or a
# forged one (401, WWW-Authenticate: Bearer), a revoked user (KmsError), malformed and mismatched
# KmsRequests (400 KmsError), unknown path (404), wrong method (405), oversize body (413); and that
# no refused request stored a key set while every issue is in the audit log with its request ID,
# token subject and address.
# usage: sh e2e_test.sh MCX IDMS KMS TESTS_DIR sqlite|postgresql
# shellcheck shell=sh
KMSD=${3:?usage: $0 MCX IDMS KMS TESTS_DIR BACKEND}
. "$4/../idms/idms_lib.sh"
idms_test_init "$1" "$2" "$4/../idms" "$5"
# kms_valid and $KTOOL (this script defines its own setup, kreq and post below)
. "$4/kms_lib.sh"

# ---- the IdMS: users alice (sip:alice@fire.example) and bob, client mcx-cli --------------------
idms_domain fire || { finish; exit 1; }
idms_start "$IDMS" "$DOM_CONF" "$tmp/idms.log" || { fail "IdMS did not start"; finish; exit 1; }

# ---- the KMS: key-file sealing, trusting the IdMS through its jwks_uri ---------------------------
KMS_STORE=$(idms_store kms) || { finish; exit 1; }
KMS_PORT=$(idms_free_port)
KMS_URL=https://127.0.0.1:$KMS_PORT
cat >"$tmp/kms.json" <<JSON
{
  "store": "$KMS_STORE",
  "secrets": "$tmp/kms.sealed",
  "key_file": "$tmp/kms.key",
  "listen": "127.0.0.1:$KMS_PORT",
  "tls_cert": "$tmp/cert.pem", "tls_key": "$tmp/key.pem",
  "issuer": "$DOM_URL",
  "jwks_uri": "$DOM_URL/jwks", "ca_file": "$tmp/cert.pem",
  "threads": 2,
  "next_period_window": 86400
}
JSON
# a one-day period with a one-day "next period" window: every answer carries the next period too
idms_admin "kms init" kms init --config "$tmp/kms.json" --kms-uri kms.fire.example \
    --period 86400 || { finish; exit 1; }
idms_admin "kms user alice" kms user add --config "$tmp/kms.json" --uri sip:alice@fire.example
idms_admin "kms user bob" kms user add --config "$tmp/kms.json" --uri sip:bob@fire.example

# kms_start: like idms_start, for mcx-kms's "listening" line
kms_start() {
    : >"$tmp/kms.log"
    "$KMSD" --config "$tmp/kms.json" "$@" >"$tmp/kms.log" 2>&1 &
    KMS_PID=$!
    IDMS_PIDS="$IDMS_PIDS $KMS_PID"
    _i=0
    while [ $_i -lt 100 ]; do
        KMS_SEEN=$(sed -n 's/^mcx-kms: listening on \(https:\/\/[^ ]*\).*$/\1/p' "$tmp/kms.log")
        [ -n "$KMS_SEEN" ] && return 0
        kill -0 "$KMS_PID" 2>/dev/null || break
        sleep 0.1
        _i=$((_i + 1))
    done
    echo "mcx-kms did not start; log:" >&2
    sed 's/^/    /' "$tmp/kms.log" >&2
    return 1
}
kms_start || { fail "KMS did not start"; finish; exit 1; }
expect_eq "printed URL" "$KMS_SEEN" "$KMS_URL"

# kms_sql QUERY: one value from the KMS store
kms_sql() {
    if [ "$BACKEND" = postgresql ]; then
        psql -XAtq -d "$KMS_STORE" -c "$1"
    else
        sqlite3 "${KMS_STORE#sqlite:}" "$1"
    fi
}

expect_eq "GET /health" "$(hcurl health "$KMS_URL/health")" 200

# ---- alice: login, fetch, show ---------------------------------------------------------------
"$MCX" login --idms "$DOM_URL" --user alice --password-file "$tmp/alice.pw" \
    --cacert "$tmp/cert.pem" >"$tmp/out" 2>"$tmp/err"
expect_rc "mcx login alice" $? 0 "$tmp/err"
"$MCX" keys fetch --kms "$KMS_URL" --cacert "$tmp/cert.pem" >"$tmp/fetch.json" 2>"$tmp/err"
expect_rc "mcx keys fetch" $? 0 "$tmp/err"
cur=$($TOOL get "$tmp/fetch.json" current_period)
checks=$((checks + 1))
[ -n "$cur" ] && [ "$cur" -gt 0 ] 2>/dev/null || fail "no current period in $(cat "$tmp/fetch.json")"
expect_in "fetch: user" "$tmp/fetch.json" '"sip:alice@fire.example"'
expect_in "fetch: KMS" "$tmp/fetch.json" '"kms.fire.example"'
"$MCX" keys show >"$tmp/show.json" 2>"$tmp/err"
expect_rc "mcx keys show" $? 0 "$tmp/err"
expect_in "show: current period" "$tmp/show.json" "\"period\": $cur,"
expect_in "show: next period" "$tmp/show.json" "\"period\": $((cur + 1)),"
expect_eq "stored key sets for alice" \
    "$(kms_sql "SELECT COUNT(*) FROM kms_key_sets WHERE uri = 'sip:alice@fire.example'")" 2
# every issue is audited with the request ID, the token's subject and the client address
expect_eq "audit rows for alice" "$(kms_sql "SELECT COUNT(*) FROM kms_issue_log WHERE \
identity = 'sip:alice@fire.example' AND token_sub = 'alice' AND address = '127.0.0.1' AND \
request_id IS NOT NULL AND length(request_id) = 32 AND token_jti IS NOT NULL")" 2
# a second fetch returns the same key sets (idempotent issue), nothing new stored
"$MCX" keys fetch --kms "$KMS_URL" --cacert "$tmp/cert.pem" >"$tmp/fetch2.json" 2>"$tmp/err"
expect_rc "second mcx keys fetch" $? 0 "$tmp/err"
expect_eq "no new key sets" \
    "$(kms_sql "SELECT COUNT(*) FROM kms_key_sets WHERE uri = 'sip:alice@fire.example'")" 2

alice_at=$($TOOL get "$MCX_STATE_DIR/tokens.json" access_token)

# ---- requests by hand ---------------------------------------------------------------------------
# kreq FILE USER [TIME]: a KmsRequest document
kreq() {
    cat >"$tmp/$1" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<KmsRequest xmlns="urn:3gpp:ns:mcsecKMSInterface:1.0" Version="1.1.0">
  <UserUri>$2</UserUri>
  <KmsUri>kms.fire.example</KmsUri>
  <Time>$(date -u +%Y-%m-%dT%H:%M:%SZ)</Time>
  <ClientReqUrl>$KMS_URL/keymanagement/identity/v1/keyprov</ClientReqUrl>
</KmsRequest>
XML
}
ntp_hex() { printf '%016x' $(( ($(date +%s) + 2208988800 + ${1:-0}) * 4294967296 )); }
KP=$KMS_URL/keymanagement/identity/v1/keyprov
ALICE_P=sip%3Aalice%40fire.example
kreq alice.xml sip:alice@fire.example
kreq bob-req.xml sip:bob@fire.example
# post OUT TOKEN URL FILE [curl args]
post() {
    _o=$1 _t=$2 _u=$3 _f=$4
    shift 4
    hcurl "$_o" -X POST -H 'Content-Type: application/xml' ${_t:+-H "Authorization: Bearer $_t"} \
        --data-binary "@$tmp/$_f" "$@" "$_u"
}

# alice by hand, current time and the period's start: 200 KmsKeyProv
expect_eq "alice keyprov" "$(post kp1 "$alice_at" "$KP/$ALICE_P/$(ntp_hex)" alice.xml)" 200
expect_in "alice keyprov: KmsKeyProv" "$tmp/kp1" "<KmsKeyProv"
expect_in "alice keyprov: no-store" "$tmp/kp1.h" "no-store"
expect_eq "alice keyprov without path" "$(post kp2 "$alice_at" "$KP" alice.xml)" 200
expect_in "keyprov without path: key set" "$tmp/kp2" "<KmsKeySet"
# init and certcache
expect_eq "init" "$(post init "$alice_at" "$KMS_URL/keymanagement/identity/v1/init" alice.xml)" 200
expect_in "init: certificate" "$tmp/init" "<KmsCertificate"
expect_in "init: KmsUri" "$tmp/init" "kms.fire.example"
expect_eq "certcache (empty)" \
    "$(post cc0 "$alice_at" "$KMS_URL/keymanagement/identity/v1/certcache" alice.xml)" 200
expect_in "certcache: KmsCertCache" "$tmp/cc0" "KmsCertCache"
# an external KMS's certificate permitted in the table appears in certcache
"$MCX" kms export-cert --config "$tmp/kms.json" --format xml >"$tmp/own.xml" 2>"$tmp/err"
sed -n '/<KmsCertificate/,/<\/KmsCertificate>/p' "$tmp/own.xml" |
    sed 's/kms\.fire\.example/kms.other.example/g; s/<KmsCertificate /<KmsCertificate xmlns="urn:3gpp:ns:mcsecKMSInterface:1.0" xmlns:xsi="http:\/\/www.w3.org\/2001\/XMLSchema-instance" /' \
    >"$tmp/ext.xml"
# mcx kms certcache add: the certificate must parse and be of the KmsUri it is filed under
echo '<KmsCertificate/>' >"$tmp/junk.xml"
"$MCX" kms certcache add --config "$tmp/kms.json" --uri kms.other.example --file "$tmp/junk.xml" \
    >"$tmp/out" 2>"$tmp/err"
expect_rc "certcache add: not a certificate" $? 2
"$MCX" kms certcache add --config "$tmp/kms.json" --uri kms.third.example --file "$tmp/ext.xml" \
    >"$tmp/out" 2>"$tmp/err"
expect_rc "certcache add: another KmsUri" $? 2
expect_in "certcache add: another KmsUri: reason" "$tmp/err" "kms.other.example"
"$MCX" kms certcache add --config "$tmp/kms.json" --uri kms.other.example --file "$tmp/ext.xml" \
    >"$tmp/out" 2>"$tmp/err"
expect_rc "certcache add" $? 0 "$tmp/err"
expect_eq "certcache (one)" \
    "$(post cc1 "$alice_at" "$KMS_URL/keymanagement/identity/v1/certcache" alice.xml)" 200
expect_in "certcache: external certificate" "$tmp/cc1" "kms.other.example"
expect_not_in "certcache: not revoked" "$tmp/cc1" "<Revoked>true"
kms_valid cc1 >/dev/null 2>"$tmp/err"
expect_rc "certcache answer schema-valid" $? 0 "$tmp/err"
# a whole KmsResponse/KmsInit (what export-cert --format xml prints at the other KMS) is accepted
sed 's/kms\.fire\.example/kms.third.example/g' "$tmp/own.xml" >"$tmp/third.xml"
"$MCX" kms certcache add --config "$tmp/kms.json" --uri kms.third.example \
    --file "$tmp/third.xml" >"$tmp/out" 2>"$tmp/err"
expect_rc "certcache add (export-cert document)" $? 0 "$tmp/err"
cn1=$(sed -n 's/.*CacheNum="\([0-9]*\)".*/\1/p' "$tmp/cc1")
sleep 1
# revoked: still listed, marked Revoked (TS 33.180 D.3.2.2), CacheNum moves
"$MCX" kms certcache revoke --config "$tmp/kms.json" --uri kms.other.example \
    >"$tmp/ccr.json" 2>"$tmp/err"
expect_rc "certcache revoke" $? 0 "$tmp/err"
expect_eq "certcache revoke: output" "$($TOOL get "$tmp/ccr.json" revoked)" true
"$MCX" kms certcache revoke --config "$tmp/kms.json" --uri kms.none.example \
    >"$tmp/out" 2>"$tmp/err"
expect_rc "certcache revoke: unknown" $? 1
expect_eq "certcache (revoked)" \
    "$(post cc2 "$alice_at" "$KMS_URL/keymanagement/identity/v1/certcache" alice.xml)" 200
kms_valid cc2 >/dev/null 2>"$tmp/err"
expect_rc "certcache (revoked) schema-valid" $? 0 "$tmp/err"
expect_eq "certcache: revoked entries" "$($KTOOL revoked "$tmp/cc2")" "kms.other.example true
kms.third.example false"
cn2=$(sed -n 's/.*CacheNum="\([0-9]*\)".*/\1/p' "$tmp/cc2")
[ -n "$cn1" ] && [ -n "$cn2" ] && [ "$cn2" -gt "$cn1" ] ||
    fail "certcache: CacheNum did not move on revocation ($cn1 -> $cn2)"
checks=$((checks + 1))
# the client refuses the revoked certificate and keeps the other
"$MCX" keys certcache --kms "$KMS_URL" --cacert "$tmp/cert.pem" >"$tmp/kcc.json" 2>"$tmp/err"
expect_rc "mcx keys certcache" $? 0 "$tmp/err"
expect_eq "client: accepted" "$($TOOL get "$tmp/kcc.json" certificates.0.kms_uri)" \
    kms.third.example
expect_eq "client: one accepted" "$($TOOL get "$tmp/kcc.json" certificates.1 || echo none)" none
expect_eq "client: refused" "$($TOOL get "$tmp/kcc.json" refused.0.kms_uri)" kms.other.example
expect_in "client: refused reason" "$tmp/kcc.json" "revoked"
"$MCX" kms certcache remove --config "$tmp/kms.json" --uri kms.third.example \
    >"$tmp/out" 2>"$tmp/err"
expect_rc "certcache remove" $? 0 "$tmp/err"

count_all() { kms_sql "SELECT COUNT(*) FROM kms_key_sets"; }
before=$(count_all)

# bob logs in; his token asking for alice's keys: 403 KmsError
"$MCX" login --idms "$DOM_URL" --user bob --password-file "$tmp/bob.pw" \
    --cacert "$tmp/cert.pem" --label bob >"$tmp/out" 2>"$tmp/err"
expect_rc "mcx login bob" $? 0 "$tmp/err"
bob_at=$($TOOL get "$MCX_STATE_DIR/tokens-bob.json" access_token)
expect_eq "bob for alice" "$(post b1 "$bob_at" "$KP/$ALICE_P/$(ntp_hex)" alice.xml)" 403
expect_in "bob for alice: KmsError" "$tmp/b1" "<KmsError"
expect_in "bob for alice: code" "$tmp/b1" "<ErrorCode>403</ErrorCode>"
expect_not_in "bob for alice: no key set" "$tmp/b1" "UserDecryptKey"
# path for alice but the body for bob (and the reverse): 400
expect_eq "path/body mismatch" "$(post b2 "$bob_at" "$KP/$ALICE_P/$(ntp_hex)" bob-req.xml)" 400
expect_in "mismatch: KmsError" "$tmp/b2" "differs"
# no token, a forged token: 401 with WWW-Authenticate (RFC 6750 §3)
expect_eq "no token" "$(post n1 "" "$KP/$ALICE_P/$(ntp_hex)" alice.xml)" 401
expect_in "no token: WWW-Authenticate" "$tmp/n1.h" "WWW-Authenticate: Bearer"
expect_in "no token: KmsError" "$tmp/n1" "<KmsError"
forged=$(printf '%s' "$alice_at" | sed 's/.\{6\}$/AAAAAA/')
expect_eq "forged token" "$(post n2 "$forged" "$KP/$ALICE_P/$(ntp_hex)" alice.xml)" 401
expect_in "forged token: invalid_token" "$tmp/n2.h" 'error="invalid_token"'
# the ID token is not an access token
alice_it=$($TOOL get "$MCX_STATE_DIR/tokens.json" id_token)
expect_eq "ID token as bearer" "$(post n3 "$alice_it" "$KP/$ALICE_P/$(ntp_hex)" alice.xml)" 401
# malformed XML, schema-invalid XML, empty body: 400 KmsError naming the fault
printf '<KmsRequest xmlns="urn:3gpp:ns:mcsecKMSInterface:1.0"><UserUri>' >"$tmp/bad.xml"
expect_eq "malformed XML" "$(post m1 "$alice_at" "$KP/$ALICE_P/$(ntp_hex)" bad.xml)" 400
expect_in "malformed: KmsError" "$tmp/m1" "<KmsError"
expect_in "malformed: reason" "$tmp/m1" "malformed KmsRequest"
sed 's/<KmsUri>.*<\/KmsUri>//' "$tmp/alice.xml" >"$tmp/nokms.xml"
expect_eq "schema-invalid XML" "$(post m2 "$alice_at" "$KP/$ALICE_P/$(ntp_hex)" nokms.xml)" 400
expect_in "schema-invalid: names KmsUri" "$tmp/m2" "KmsUri"
: >"$tmp/empty.xml"
expect_eq "empty body" "$(post m3 "$alice_at" "$KP" empty.xml)" 400
# a time far from now (more than one period): KmsError
expect_eq "time 3 days ahead" \
    "$(post t1 "$alice_at" "$KP/$ALICE_P/$(ntp_hex 259200)" alice.xml)" 400
expect_in "far time: KmsError" "$tmp/t1" "more than one key period"
expect_eq "bad time digits" "$(post t2 "$alice_at" "$KP/$ALICE_P/xyz" alice.xml)" 400
# routing
expect_eq "unknown path" "$(post u1 "$alice_at" "$KMS_URL/keymanagement/identity/v1/nope" \
    alice.xml)" 404
expect_eq "GET keyprov" "$(hcurl u2 -H "Authorization: Bearer $alice_at" "$KP")" 405
expect_in "405 Allow" "$tmp/u2.h" "Allow: POST"
head -c 70000 /dev/zero | tr '\0' 'a' >"$tmp/big.xml"
expect_eq "oversize body" "$(post u3 "$alice_at" "$KP" big.xml)" 413

# a revoked user: bob is revoked in the KMS, his own fetch is refused with KmsError
idms_admin "revoke bob" kms user revoke --config "$tmp/kms.json" --uri sip:bob@fire.example
"$MCX" keys fetch --kms "$KMS_URL" --cacert "$tmp/cert.pem" --label bob \
    --keystore "$tmp/bob-keys.bin" >"$tmp/out" 2>"$tmp/err"
rc=$?
checks=$((checks + 1))
[ "$rc" -ne 0 ] || fail "a revoked user fetched key sets"
expect_in "revoked: KmsError" "$tmp/err" "KmsError"
expect_eq "revoked by hand" \
    "$(post r1 "$bob_at" "$KP/sip%3Abob%40fire.example/$(ntp_hex)" bob-req.xml)" 403
expect_in "revoked: reason" "$tmp/r1" "revoked"
expect_eq "revocation audited" "$(kms_sql "SELECT COUNT(*) FROM kms_issue_log WHERE \
identity = 'sip:bob@fire.example' AND outcome LIKE 'refused%' AND token_sub = 'bob'")" 2

# no refused request stored a key set
expect_eq "no key set from refusals" "$(count_all)" "$before"
expect_eq "none for bob" \
    "$(kms_sql "SELECT COUNT(*) FROM kms_key_sets WHERE uri = 'sip:bob@fire.example'")" 0
# a URI the KMS knows as a service identity is granted by its subject and client only, never by
# a token claim naming it: bob's mcptt_id names sip:bob@fire.example, made a service of alice's
kms_sql "DELETE FROM kms_users WHERE uri = 'sip:bob@fire.example'" >/dev/null
idms_admin "bob's URI as a service" kms service add --config "$tmp/kms.json" \
    --uri sip:bob@fire.example --client-id mcx-cli --sub alice
expect_eq "service URI named by a token claim" \
    "$(post sv1 "$bob_at" "$KP/sip%3Abob%40fire.example/$(ntp_hex)" bob-req.xml)" 403
expect_not_in "service URI named by a claim: no key set" "$tmp/sv1" "UserDecryptKey"
expect_eq "still none for bob's URI" \
    "$(kms_sql "SELECT COUNT(*) FROM kms_key_sets WHERE uri = 'sip:bob@fire.example'")" 0
# the time in a keyprov path is exactly 16 hex digits (a "0x" prefix is not a number here)
expect_eq "keyprov time with 0x" \
    "$(post hx "$alice_at" "$KP/$ALICE_P/0x$(ntp_hex | cut -c3-)" alice.xml)" 400
expect_in "keyprov time with 0x: reason" "$tmp/hx" "not 16 hex digits"

# the log: one structured line per request, never a token
expect_in "log line" "$tmp/kms.log" "path=/keymanagement/identity/v1/keyprov"
expect_in "log: subject" "$tmp/kms.log" "sub=alice"
expect_not_in "log: no token" "$tmp/kms.log" "$alice_at"

finish
