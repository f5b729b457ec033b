# Shared by the KMS end-to-end tests (sourced after tests/idms/idms_lib.sh and idms_test_init):
# an IdMS with alice and bob, a KMS configuration, starting mcx-kms, and raw Annex D requests.
# shellcheck shell=sh

KMS_PID=
KTOOL="python3 $(dirname "$0")/kms_tool.py"

# kms_setup [EXTRA_JSON_FIELDS]: the IdMS "fire" started, alice logged in ($alice_at), the KMS
# store ($KMS_STORE), port and URL ($KMS_PORT, $KMS_URL), and $tmp/kms.json trusting the IdMS.
# EXTRA_JSON_FIELDS must include exactly one of "key_file" / "passphrase_file".
kms_setup() {
    idms_domain fire || return 1
    idms_start "$IDMS" "$DOM_CONF" "$tmp/idms.log" || { fail "IdMS did not start"; return 1; }
    KMS_STORE=$(idms_store kms) || return 1
    KMS_PORT=$(idms_free_port)
    KMS_URL=https://127.0.0.1:$KMS_PORT
    KP=$KMS_URL/keymanagement/identity/v1/keyprov
    cat >"$tmp/kms.json" <<JSON
{
  "store": "$KMS_STORE",
  "secrets": "$tmp/kms.sealed",
  "listen": "127.0.0.1:$KMS_PORT",
  "tls_cert": "$tmp/cert.pem", "tls_key": "$tmp/key.pem",
  "issuer": "$DOM_URL",
  "jwks_uri": "$DOM_URL/jwks", "ca_file": "$tmp/cert.pem",
  "threads": 2,
  $1
}
JSON
}

# kms_login: alice logs in at the IdMS; $alice_at is her access token.
kms_login() {
    "$MCX" login --idms "$DOM_URL" --user alice --password-file "$tmp/alice.pw" \
        --cacert "$tmp/cert.pem" >"$tmp/out" 2>"$tmp/err"
    expect_rc "mcx login alice" $? 0 "$tmp/err"
    alice_at=$($TOOL get "$MCX_STATE_DIR/tokens.json" access_token)
}

# kms_start [ARGS...]: start mcx-kms on ${KMS_CONF:-$tmp/kms.json} (log $tmp/kms.log), wait for its
# "listening" line (30 s at most); $KMS_PID. $KMS_WRAP, when set, is a command line to run it
# under (valgrind ...). On failure print the log and return 1.
kms_start() {
    : >"$tmp/kms.log"
    $KMS_WRAP "$KMSD" --config "${KMS_CONF:-$tmp/kms.json}" "$@" >"$tmp/kms.log" 2>&1 &
    KMS_PID=$!
    IDMS_PIDS="$IDMS_PIDS $KMS_PID"
    _i=0
    while [ $_i -lt 300 ]; do
        grep -q '^mcx-kms: listening on https://' "$tmp/kms.log" && return 0
        kill -0 "$KMS_PID" 2>/dev/null || break
        sleep 0.1
        _i=$((_i + 1))
    done
    echo "mcx-kms did not start; log:" >&2
    sed 's/^/    /' "$tmp/kms.log" >&2
    return 1
}

# kms_stop: SIGTERM mcx-kms, expect a clean exit.
kms_stop() {
    idms_stop "$KMS_PID" || fail "mcx-kms did not stop cleanly"
    KMS_PID=
}

# kms_sql QUERY: one value from the KMS store
kms_sql() {
    if [ "$BACKEND" = postgresql ]; then
        psql -XAtq -d "$KMS_STORE" -c "$1"
    else
        sqlite3 "${KMS_STORE#sqlite:}" "$1"
    fi
}

# kreq FILE USER: a KmsRequest document in $tmp/FILE
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

# ntp_hex_at UNIX: the NTP-64 timestamp (16 hex digits) of a Unix time
ntp_hex_at() { printf '%016x' $((($1 + 2208988800) * 4294967296)); }

# post OUT TOKEN URL FILE [curl args]: POST $tmp/FILE as XML; prints the status
post() {
    _o=$1 _t=$2 _u=$3 _f=$4
    shift 4
    hcurl "$_o" -X POST -H 'Content-Type: application/xml' ${_t:+-H "Authorization: Bearer $_t"} \
        --data-binary "@$tmp/$_f" "$@" "$_u"
}

# kms_valid FILE: exit 0 when $tmp/FILE is valid against schemas/mcsecKMSInterface.xsd (xmllint,
# an independent validator; 0 without xmllint)
kms_valid() {
    command -v xmllint >/dev/null 2>&1 || return 0
    xmllint --noout --schema "$(dirname "$0")/../../schemas/mcsecKMSInterface.xsd" "$tmp/$1"
}

# periods OUT PERIOD: the key period numbers of the key sets in $tmp/OUT, space-separated
periods() {
    $KTOOL keysets "$tmp/$1" | while read -r _vf _rest; do
        echo $(((_vf + 2208988800) / $2))
    done | tr '\n' ' ' | sed 's/ $//'
}
