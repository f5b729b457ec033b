# Shared by the GMS end-to-end tests (sourced after tests/idms/idms_lib.sh and idms_test_init): a
# whole domain on loopback: the IdMS "fire" with alice, bob, carol, an administrator and the GMS's
# service account; the KMS with their identities; the GMS fetching its own keys from the KMS.
# shellcheck shell=sh

GMS_PID=
KMS_PID=
GMS_URI=sip:gms@fire.example
GMS_SCOPE="openid 3gpp:mc:ptt_key_management_service 3gpp:mc:ptt_group_management_service"

# wait_line LOG PATTERN PID: wait (30 s at most) for PATTERN in LOG while PID lives
wait_line() {
    _i=0
    while [ $_i -lt 300 ]; do
        grep -q "$2" "$1" && return 0
        kill -0 "$3" 2>/dev/null || break
        sleep 0.1
        _i=$((_i + 1))
    done
    echo "no \"$2\" in $1:" >&2
    sed 's/^/    /' "$1" >&2
    return 1
}

# login USER LABEL [SCOPE]: mcx login as USER into tokens-LABEL.json; prints the access token
login() {
    "$MCX" login --idms "$DOM_URL" --user "$1" --password-file "$tmp/$1.pw" --label "$2" \
        --cacert "$tmp/cert.pem" ${3:+--scope "$3"} >"$tmp/login.out" 2>"$tmp/login.err" ||
        { fail "login $1: $(cat "$tmp/login.err")"; return 1; }
    $TOOL get "$MCX_STATE_DIR/tokens-$2.json" access_token
}

gms_domain() {
    idms_domain fire || return 1
    printf '%s\n' 'carol-pass-123' >"$tmp/carol.pw"
    printf '%s\n' 'admin-pass-456' >"$tmp/admin.pw"
    printf '%s\n' 'gms-service-789' >"$tmp/gms.pw"
    idms_admin "add carol" idms user add --config "$DOM_CONF" --user carol \
        --password-file "$tmp/carol.pw" --mcptt-id sip:carol@fire.example || return 1
    idms_admin "add admin" idms user add --config "$DOM_CONF" --user admin \
        --password-file "$tmp/admin.pw" || return 1
    idms_admin "add gms" idms user add --config "$DOM_CONF" --user gms \
        --password-file "$tmp/gms.pw" || return 1
    idms_start "$IDMS" "$DOM_CONF" "$tmp/idms.log" || { fail "IdMS did not start"; return 1; }

    KMS_STORE=$(idms_store kms) || return 1
    KMS_PORT=$(idms_free_port)
    KMS_URL=https://127.0.0.1:$KMS_PORT
    cat >"$tmp/kms.json" <<JSON
{ "store": "$KMS_STORE", "secrets": "$tmp/kms.sealed", "key_file": "$tmp/kms.key",
  "listen": "127.0.0.1:$KMS_PORT", "tls_cert": "$tmp/cert.pem", "tls_key": "$tmp/key.pem",
  "issuer": "$DOM_URL", "jwks_uri": "$DOM_URL/jwks", "ca_file": "$tmp/cert.pem", "threads": 2 }
JSON
    idms_admin "kms init" kms init --config "$tmp/kms.json" --kms-uri kms.fire.example \
        --period 86400 || return 1
    for _u in alice bob carol; do
        idms_admin "kms user $_u" kms user add --config "$tmp/kms.json" \
            --uri "sip:$_u@fire.example" || return 1
    done
    idms_admin "kms service gms" kms service add --config "$tmp/kms.json" --uri "$GMS_URI" \
        --client-id mcx-cli --sub gms || return 1
    "$KMSD" --config "$tmp/kms.json" >"$tmp/kms.log" 2>&1 &
    KMS_PID=$!
    IDMS_PIDS="$IDMS_PIDS $KMS_PID"
    wait_line "$tmp/kms.log" '^mcx-kms: listening' "$KMS_PID" || return 1

    # the GMS's service account logs in once; the GMS refreshes that token itself
    login gms gms "$GMS_SCOPE" >/dev/null || return 1
    GMS_STORE=$(idms_store gms) || return 1
    GMS_PORT=$(idms_free_port)
    GMS_URL=https://127.0.0.1:$GMS_PORT
    cat >"$tmp/gms.json" <<JSON
{ "store": "$GMS_STORE", "listen": "127.0.0.1:$GMS_PORT",
  "tls_cert": "$tmp/cert.pem", "tls_key": "$tmp/key.pem",
  "issuer": "$DOM_URL", "jwks_uri": "$DOM_URL/jwks", "ca_file": "$tmp/cert.pem",
  "identity": "$GMS_URI", "kms_url": "$KMS_URL",
  "token_file": "$MCX_STATE_DIR/tokens-gms.json",
  "keystore": "$tmp/gms-ks/keystore.bin", "storage_key": "$tmp/gms-storage.key",
  "admins": ["admin"], "dispatchers": ["admin"], "threads": 2, "log_requests": true }
JSON
}

gms_start() {
    : >"$tmp/gms.log"
    "$GMSD" --config "$tmp/gms.json" "$@" >"$tmp/gms.log" 2>&1 &
    GMS_PID=$!
    IDMS_PIDS="$IDMS_PIDS $GMS_PID"
    wait_line "$tmp/gms.log" '^mcx-gms: listening' "$GMS_PID"
}

gms_stop() {
    idms_stop "$GMS_PID" || fail "mcx-gms did not stop cleanly"
    GMS_PID=
}

gms_sql() {
    if [ "$BACKEND" = postgresql ]; then
        psql -XAtq -d "$GMS_STORE" -c "$1"
    else
        sqlite3 "${GMS_STORE#sqlite:}" "$1"
    fi
}

# gcurl OUT TOKEN METHOD PATH [JSON]: a GMS request; prints the HTTP status, body in $tmp/OUT
gcurl() {
    _o=$1 _t=$2 _m=$3 _p=$4
    if [ $# -ge 5 ]; then
        hcurl "$_o" -X "$_m" ${_t:+-H "Authorization: Bearer $_t"} \
            -H 'Content-Type: application/json' --data-binary "$5" "$GMS_URL$_p"
    else
        hcurl "$_o" -X "$_m" ${_t:+-H "Authorization: Bearer $_t"} "$GMS_URL$_p"
    fi
}
