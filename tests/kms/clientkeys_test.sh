# kms.clientkeys: per-client transport and integrity keys (TS 33.180 D.1) end to end with the real
# mcx-kms behind a real mcx-idms. `mcx kms client-keys set` gives alice a TrK and an InK (key files
# created 0600, nothing secret printed); `mcx keys fetch --trk-file --ink-file` then succeeds and
# keeps validated key sets; a raw keyprov answer captured with curl is a SignedKmsResponse that the
# independent xmlsec1 command verifies under the InK (and refuses under another key), its SSK and
# RSK are xenc:EncryptedKey with no key in clear; init and a KmsError to alice are signed too.
# A wrong InK, or no TrK, is refused with nothing stored; bob (no client keys) still gets plain,
# unsigned answers; after `client-keys clear` alice does too. The keys sit encrypted in the store.
# usage: sh clientkeys_test.sh MCX IDMS KMS TESTS_DIR sqlite|postgresql (XMLSEC1 in the environment)
# shellcheck shell=sh
KMSD=${3:?usage: $0 MCX IDMS KMS TESTS_DIR BACKEND}
. "$4/../idms/idms_lib.sh"
idms_test_init "$1" "$2" "$4/../idms" "$5"
. "$4/kms_lib.sh"
XMLSEC1=${XMLSEC1:-xmlsec1}

kms_setup "\"key_file\": \"$tmp/kms.key\"" || { finish; exit 1; }
idms_admin "kms init" kms init --config "$tmp/kms.json" --kms-uri kms.fire.example \
    --period 86400 || { finish; exit 1; }
idms_admin "kms user alice" kms user add --config "$tmp/kms.json" --uri sip:alice@fire.example
idms_admin "kms user bob" kms user add --config "$tmp/kms.json" --uri sip:bob@fire.example

# ---- admin: client-keys set creates the key files, prints nothing secret ------------------------
idms_admin "client-keys set alice" kms client-keys set --config "$tmp/kms.json" \
    --uri sip:alice@fire.example --trk-file "$tmp/alice.trk" --ink-file "$tmp/alice.ink"
cp "$tmp/admin.out" "$tmp/ck.json"
expect_in "client-keys set: trk" "$tmp/ck.json" '"trk": true'
expect_in "client-keys set: created" "$tmp/ck.json" '"ink_file_created": true'
for f in alice.trk alice.ink; do
    expect_eq "$f mode" "$(stat -c %a "$tmp/$f")" 600
    checks=$((checks + 1))
    grep -qE '^[0-9a-f]{64}$' "$tmp/$f" || fail "$f is not 64 hex digits"
    expect_not_in "$f not printed" "$tmp/ck.json" "$(cat "$tmp/$f")"
done
expect_ne "TrK and InK differ" "$(cat "$tmp/alice.trk")" "$(cat "$tmp/alice.ink")"
# an unknown identity, and no key file at all, are refused
"$MCX" kms client-keys set --config "$tmp/kms.json" --uri sip:nobody@fire.example \
    --ink-file "$tmp/alice.ink" >"$tmp/out" 2>"$tmp/err"
expect_ne "client-keys set unknown identity" $? 0
"$MCX" kms client-keys set --config "$tmp/kms.json" --uri sip:alice@fire.example \
    >"$tmp/out" 2>"$tmp/err"
expect_ne "client-keys set without keys" $? 0
# stored encrypted: 12 + 32 + 16 octets each, never the key itself
if [ "$BACKEND" = postgresql ]; then
    expect_eq "stored sizes" "$(kms_sql "SELECT octet_length(trk) || ' ' || octet_length(ink) \
FROM kms_client_keys WHERE uri = 'sip:alice@fire.example'")" "60 60"
    stored=$(kms_sql "SELECT encode(trk, 'hex') || encode(ink, 'hex') FROM kms_client_keys")
else
    expect_eq "stored sizes" "$(kms_sql "SELECT length(trk) || ' ' || length(ink) \
FROM kms_client_keys WHERE uri = 'sip:alice@fire.example'")" "60 60"
    stored=$(kms_sql "SELECT lower(hex(trk)) || lower(hex(ink)) FROM kms_client_keys")
fi
checks=$((checks + 1))
case $stored in
*"$(cat "$tmp/alice.trk")"* | *"$(cat "$tmp/alice.ink")"*) fail "a client key is stored in clear" ;;
esac

kms_start || { finish; exit 1; }
kms_login

# ---- alice fetches with her TrK and InK -----------------------------------------------------------
"$MCX" keys fetch --kms "$KMS_URL" --cacert "$tmp/cert.pem" --keystore "$tmp/alice.ks" \
    --trk-file "$tmp/alice.trk" --ink-file "$tmp/alice.ink" >"$tmp/fetch.json" 2>"$tmp/err"
expect_rc "fetch with TrK and InK" $? 0 "$tmp/err"
expect_in "fetch: user" "$tmp/fetch.json" '"sip:alice@fire.example"'
"$MCX" keys show --keystore "$tmp/alice.ks" >"$tmp/show.json" 2>"$tmp/err"
expect_rc "keys show" $? 0 "$tmp/err"
cur=$($TOOL get "$tmp/fetch.json" current_period)
expect_in "show: current period kept" "$tmp/show.json" "\"period\": $cur,"
ks_sum=$(sha256sum <"$tmp/alice.ks")

# ---- the raw answers: signed (xmlsec1 verifies), keys wrapped ------------------------------------
xxd -r -p "$tmp/alice.ink" >"$tmp/ink.bin"
head -c 32 /dev/urandom >"$tmp/other.bin"
kreq alice.xml sip:alice@fire.example
expect_eq "raw keyprov" "$(post raw.xml "$alice_at" "$KP" alice.xml)" 200
expect_in "raw: SignedKmsResponse" "$tmp/raw.xml" "<SignedKmsResponse"
expect_in "raw: EncryptedKey" "$tmp/raw.xml" "EncryptedKey"
"$XMLSEC1" --verify --hmackey "$tmp/ink.bin" "$tmp/raw.xml" >"$tmp/xs.out" 2>&1
expect_rc "xmlsec1 --verify under the InK" $? 0 "$tmp/xs.out"
"$XMLSEC1" --verify --hmackey "$tmp/other.bin" "$tmp/raw.xml" >"$tmp/xs.out" 2>&1
expect_ne "xmlsec1 --verify under another key" $? 0
sed 's/<KmsUri>kms.fire.example</<KmsUri>kms.evil.example</' "$tmp/raw.xml" >"$tmp/tampered.xml"
checks=$((checks + 1))
cmp -s "$tmp/raw.xml" "$tmp/tampered.xml" && fail "tampering changed nothing"
"$XMLSEC1" --verify --hmackey "$tmp/ink.bin" "$tmp/tampered.xml" >"$tmp/xs.out" 2>&1
expect_ne "xmlsec1 --verify of a tampered answer" $? 0
# every SSK and RSK is an xenc:EncryptedKey, no key text in clear (an RSK is 514 hex digits)
checks=$((checks + 1))
python3 - "$tmp/raw.xml" <<'PY' || fail "raw keyprov: key material in clear"
import sys, xml.etree.ElementTree as ET
NS = "{urn:3gpp:ns:mcsecKMSInterface:1.0}"
XENC = "{http://www.w3.org/2001/04/xmlenc#}"
root = ET.parse(sys.argv[1]).getroot()
n = 0
for name in ("UserDecryptKey", "UserSigningKeySSK"):
    for e in root.iter(NS + name):
        n += 1
        if e.find(XENC + "EncryptedKey") is None or (e.text or "").strip():
            sys.exit(1)
sys.exit(0 if n >= 2 else 1)
PY
checks=$((checks + 1))
grep -qE '[0-9A-Fa-f]{200}' "$tmp/raw.xml" && fail "raw keyprov: a long hex run (plain RSK?)"
# init and a KmsError (a time two periods away) to alice are signed as well
expect_eq "raw init" "$(post init.xml "$alice_at" "$KMS_URL/keymanagement/identity/v1/init" \
    alice.xml)" 200
"$XMLSEC1" --verify --hmackey "$tmp/ink.bin" "$tmp/init.xml" >"$tmp/xs.out" 2>&1
expect_rc "init answer signed" $? 0 "$tmp/xs.out"
expect_eq "KmsError (time)" "$(post err.xml "$alice_at" \
    "$KP/sip%3Aalice%40fire.example/$(ntp_hex_at $(($(date +%s) + 3 * 86400)))" alice.xml)" 400
expect_in "KmsError signed" "$tmp/err.xml" "<SignedKmsResponse"
"$XMLSEC1" --verify --hmackey "$tmp/ink.bin" "$tmp/err.xml" >"$tmp/xs.out" 2>&1
expect_rc "KmsError verifies" $? 0 "$tmp/xs.out"

# ---- refusals: wrong InK, no TrK; nothing stored ---------------------------------------------------
(umask 077 && head -c 32 /dev/urandom | od -An -tx1 -v | tr -d ' \n' >"$tmp/wrong.ink")
"$MCX" keys fetch --kms "$KMS_URL" --cacert "$tmp/cert.pem" --keystore "$tmp/wrong.ks" \
    --trk-file "$tmp/alice.trk" --ink-file "$tmp/wrong.ink" >"$tmp/out" 2>"$tmp/err"
expect_ne "fetch with a wrong InK" $? 0
expect_in "wrong InK: reason" "$tmp/err" "MCX_E_SIG_INVALID"
checks=$((checks + 1))
[ -e "$tmp/wrong.ks" ] && fail "wrong InK: a keystore was written"
"$MCX" keys fetch --kms "$KMS_URL" --cacert "$tmp/cert.pem" --keystore "$tmp/alice.ks" \
    --trk-file "$tmp/alice.trk" --ink-file "$tmp/wrong.ink" >"$tmp/out" 2>"$tmp/err"
expect_ne "fetch with a wrong InK (existing keystore)" $? 0
expect_eq "existing keystore unchanged" "$(sha256sum <"$tmp/alice.ks")" "$ks_sum"
"$MCX" keys fetch --kms "$KMS_URL" --cacert "$tmp/cert.pem" --keystore "$tmp/notrk.ks" \
    --ink-file "$tmp/alice.ink" >"$tmp/out" 2>"$tmp/err"
expect_ne "fetch without the TrK" $? 0
expect_in "no TrK: reason" "$tmp/err" "no TrK was given"
checks=$((checks + 1))
[ -e "$tmp/notrk.ks" ] && fail "no TrK: a keystore was written"
# a wrong TrK does not unwrap
(umask 077 && head -c 32 /dev/urandom | od -An -tx1 -v | tr -d ' \n' >"$tmp/wrong.trk")
"$MCX" keys fetch --kms "$KMS_URL" --cacert "$tmp/cert.pem" --keystore "$tmp/wrongtrk.ks" \
    --trk-file "$tmp/wrong.trk" --ink-file "$tmp/alice.ink" >"$tmp/out" 2>"$tmp/err"
expect_ne "fetch with a wrong TrK" $? 0
expect_in "wrong TrK: reason" "$tmp/err" "MCX_E_TAG_INVALID"
checks=$((checks + 1))
[ -e "$tmp/wrongtrk.ks" ] && fail "wrong TrK: a keystore was written"

# ---- bob, without client keys: plain, unsigned -----------------------------------------------------
"$MCX" login --idms "$DOM_URL" --user bob --password-file "$tmp/bob.pw" --label bob \
    --cacert "$tmp/cert.pem" >"$tmp/out" 2>"$tmp/err"
expect_rc "mcx login bob" $? 0 "$tmp/err"
bob_at=$($TOOL get "$MCX_STATE_DIR/tokens-bob.json" access_token)
kreq bob.xml sip:bob@fire.example
expect_eq "bob keyprov" "$(post bob.out "$bob_at" "$KP" bob.xml)" 200
expect_not_in "bob: not signed" "$tmp/bob.out" "SignedKmsResponse"
expect_not_in "bob: not wrapped" "$tmp/bob.out" "EncryptedKey"
checks=$((checks + 1))
$KTOOL keysets "$tmp/bob.out" >/dev/null || fail "bob: not a plain KmsKeyProv"
"$MCX" keys fetch --kms "$KMS_URL" --cacert "$tmp/cert.pem" --keystore "$tmp/bob.ks" \
    --label bob >"$tmp/out" 2>"$tmp/err"
expect_rc "bob: plain fetch" $? 0 "$tmp/err"
# bob insisting on an InK: his unsigned answers are refused
"$MCX" keys fetch --kms "$KMS_URL" --cacert "$tmp/cert.pem" --keystore "$tmp/bob2.ks" \
    --label bob --ink-file "$tmp/alice.ink" >"$tmp/out" 2>"$tmp/err"
expect_ne "bob with an InK" $? 0
expect_in "bob with an InK: reason" "$tmp/err" "MCX_E_SIG_INVALID"

# ---- clear: alice is plain again ------------------------------------------------------------------
idms_admin "client-keys clear" kms client-keys clear --config "$tmp/kms.json" \
    --uri sip:alice@fire.example
expect_in "clear: cleared" "$tmp/admin.out" '"cleared": true'
expect_eq "alice keyprov after clear" "$(post plain.xml "$alice_at" "$KP" alice.xml)" 200
expect_not_in "after clear: not signed" "$tmp/plain.xml" "SignedKmsResponse"
expect_not_in "after clear: not wrapped" "$tmp/plain.xml" "EncryptedKey"

kms_stop
finish
