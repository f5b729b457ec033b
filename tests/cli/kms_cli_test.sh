#!/bin/sh
# End-to-end test of `mcx kms`: the real mcx with a real SQLite store and real sealed-secrets files,
# driven with the documented flags and checked on exit codes, JSON output, stderr, file modes and
# the store's contents (sqlite3 when installed).
# usage: kms_cli_test.sh PATH/TO/mcx PATH/TO/tests/vectors
set -u

. "$(dirname "$0")/cli_lib.sh" "$@"

# mode PATH: the permission bits in octal, e.g. 600.
mode() {
    stat -c %a "$1"
}

# num NAME: an integer value from the last command's JSON output.
num() {
    sed -n "s/^.*\"$1\": *\([0-9][0-9]*\).*\$/\1/p" "$tmp/out" | head -n 1
}

cd "$tmp" || exit 1
db=sqlite:$tmp/kms.db
KF="--secrets $tmp/kms.sealed --key-file $tmp/kms.key"

# ---- usage errors (exit 2) ----
run "init without kms-uri" 2 kms init --store "$db" $KF
expect_err "init without kms-uri" "--kms-uri"
run "init without sealing choice" 2 kms init --store "$db" --secrets "$tmp/x.sealed" --kms-uri k
expect_err "init without sealing choice" "exactly one of --key-file"
run "init with both" 2 kms init --store "$db" --secrets "$tmp/x.sealed" --kms-uri k \
    --key-file "$tmp/x.key" --passphrase-file "$tmp/x.pw"
run "init bad id mode" 2 kms init --store "$db" $KF --kms-uri k --id-mode base64
expect_err "init bad id mode" "--id-mode"
run "init offset >= period" 2 kms init --store "$db" $KF --kms-uri k --period 10 --offset 10
run "no store" 2 kms user add --uri sip:a@x
expect_err "no store" "--store"
run "export-cert bad format" 2 kms export-cert --store "$db" --format pem
[ ! -e "$tmp/kms.sealed" ] || fail "a refused init left a secrets file"

# ---- before init ----
run "user add before init" 1 kms user add --store "$db" --uri sip:alice@police.example
expect_err "user add before init" "mcx kms init"

# ---- init with a key file ----
run "init key file" 0 kms init --store "$db" $KF --kms-uri kms.police.example --period 86400 \
    --offset 3600
expect_eq "init kms_uri" "$(field kms_uri)" "kms.police.example"
expect_eq "init sealed_with" "$(field sealed_with)" "key_file"
expect_out "init created" '"secrets_created": true'
expect_eq "init period" "$(num user_key_period)" "86400"
kpak=$(field pub_auth_key)
expect_eq "kpak length" "${#kpak}" "130"
expect_eq "secrets mode" "$(mode "$tmp/kms.sealed")" "600"
expect_eq "key file mode" "$(mode "$tmp/kms.key")" "600"
ls "$tmp" | grep -q '\.tmp\.' && fail "a temporary file was left behind"
cp "$tmp/kms.sealed" "$tmp/kms.sealed.orig"
# again: the existing secrets are used, nothing changes
run "init again" 0 kms init --store "$db" $KF --kms-uri kms.police.example --period 86400 \
    --offset 3600
expect_out "init again" '"secrets_created": false'
expect_eq "init again kpak" "$(field pub_auth_key)" "$kpak"
cmp -s "$tmp/kms.sealed" "$tmp/kms.sealed.orig" || fail "init overwrote the secrets file"
run "init other settings" 1 kms init --store "$db" $KF --kms-uri kms.police.example
expect_err "init other settings" "already holds the KMS domain"

# ---- identities ----
run "user add" 0 kms user add --store "$db" --uri sip:alice@police.example
expect_eq "user add uri" "$(field uri)" "sip:alice@police.example"
expect_eq "user add kind" "$(field kind)" "user"
run "user add again" 1 kms user add --store "$db" --uri sip:alice@police.example
expect_err "user add again" "exists already"
run "user add bob" 0 kms user add --store "$db" --uri sip:bob@police.example
run "user add carol" 0 kms user add --store "$db" --uri sip:carol@police.example
run "service add" 0 kms service add --store "$db" --uri sip:grp-1@police.example \
    --client-id mcx-gms --sub gms-account
expect_eq "service kind" "$(field kind)" "service"
expect_eq "service client" "$(field client_id)" "mcx-gms"
expect_eq "service sub" "$(field sub)" "gms-account"
run "service add no client" 2 kms service add --store "$db" --uri sip:grp-2@police.example \
    --sub gms-account
run "service add no sub" 2 kms service add --store "$db" --uri sip:grp-2@police.example \
    --client-id mcx-gms

# ---- export-cert ----
run "export-cert json" 0 kms export-cert --store "$db"
expect_eq "cert kms_uri" "$(field kms_uri)" "kms.police.example"
expect_eq "cert format" "$(field user_id_format)" "2"
expect_eq "cert kpak" "$(field pub_auth_key)" "$kpak"
expect_eq "cert offset" "$(num user_key_offset)" "3600"
z=$(field pub_enc_key)
expect_eq "cert Z length" "${#z}" "514"
run "export-cert xml" 0 kms export-cert --store "$db" --format xml --user-uri sip:alice@police.example
expect_out "xml root" '<KmsResponse xmlns="urn:3gpp:ns:mcsecKMSInterface:1.0"'
expect_out "xml cert" '<KmsCertificate'
expect_out "xml period" '<UserKeyPeriod>86400</UserKeyPeriod>'
expect_out "xml offset" '<UserKeyOffset>3600</UserKeyOffset>'
expect_out "xml user" '<UserUri>sip:alice@police.example</UserUri>'
if command -v xmllint >/dev/null 2>&1 && [ -f "$VEC/../../schemas/mcsecKMSInterface.xsd" ]; then
    checks=$((checks + 1))
    xmllint --noout --schema "$VEC/../../schemas/mcsecKMSInterface.xsd" "$tmp/out" 2>"$tmp/xerr" ||
        fail "export-cert xml does not validate: $(cat "$tmp/xerr")"
fi

# ---- issue ----
# NTP 86400 * 45000 + 3600 + 10 lies in period 45000 (P5 = (t - offset) DIV period)
t=$((86400 * 45000 + 3600 + 10))
run "issue" 0 kms issue --store "$db" $KF --uri sip:alice@police.example --time "$t"
expect_eq "issue period" "$(num period_no)" "45000"
expect_out "issue fresh" '"fresh": true'
pvt=$(field pvt)
uid=$(field user_id)
expect_eq "issue uid length" "${#uid}" "64"
expect_eq "valid_from" "$(num valid_from)" "$((86400 * 45000 + 3600 - 2208988800))"
grep -q '"ssk"\|"rsk"' "$tmp/out" && fail "issue printed a secret key"
run "issue again" 0 kms issue --store "$db" $KF --uri sip:alice@police.example --period-no 45000
expect_out "issue again not fresh" '"fresh": false'
expect_eq "issue again same pvt" "$(field pvt)" "$pvt"
expect_eq "issue again same uid" "$(field user_id)" "$uid"
run "issue unknown" 1 kms issue --store "$db" $KF --uri sip:mallory@police.example
expect_err "issue unknown" "unknown identity"
run "issue service" 0 kms issue --store "$db" $KF --uri sip:grp-1@police.example --period-no 45000
run "issue without secrets" 2 kms issue --store "$db" --uri sip:alice@police.example
expect_err "issue without secrets" "--secrets"

# ---- revoke ----
run "user revoke" 0 kms user revoke --store "$db" --uri sip:bob@police.example
expect_out "revoked" '"revoked": true'
run "issue revoked" 1 kms issue --store "$db" $KF --uri sip:bob@police.example
expect_err "issue revoked" "revoked"
run "revoke unknown" 1 kms user revoke --store "$db" --uri sip:nobody@police.example

# ---- rollover: alice (has one), carol, the service; bob is revoked ----
run "rollover" 0 kms rollover --store "$db" $KF --period-no 45000
expect_eq "rollover issued" "$(num issued)" "1"
expect_eq "rollover existing" "$(num existing)" "2"
run "rollover next" 0 kms rollover --store "$db" $KF --time "$t" --threads 3
expect_eq "rollover next period" "$(num period_no)" "45001"
expect_eq "rollover next issued" "$(num issued)" "3"
run "rollover again" 0 kms rollover --store "$db" $KF --period-no 45001
expect_eq "rollover again issued" "$(num issued)" "0"

# ---- the sealed file: wrong key, loose modes, tampering ----
od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$tmp/other.key"
echo >>"$tmp/other.key"
chmod 600 "$tmp/other.key"
run "wrong key file" 1 kms issue --store "$db" --secrets "$tmp/kms.sealed" \
    --key-file "$tmp/other.key" --uri sip:alice@police.example
expect_err "wrong key file" "wrong key file"
chmod 644 "$tmp/kms.sealed"
run "loose secrets file" 1 kms issue --store "$db" $KF --uri sip:alice@police.example
expect_err "loose secrets file" "must be 0600"
chmod 600 "$tmp/kms.sealed"
chmod 640 "$tmp/kms.key"
run "loose key file" 1 kms rollover --store "$db" $KF
expect_err "loose key file" "must be 0600"
chmod 600 "$tmp/kms.key"
cp "$tmp/kms.sealed" "$tmp/bad.sealed"
printf '\001' | dd of="$tmp/bad.sealed" bs=1 seek=100 conv=notrunc 2>/dev/null
run "tampered secrets" 1 kms issue --store "$db" --secrets "$tmp/bad.sealed" \
    --key-file "$tmp/kms.key" --uri sip:alice@police.example
expect_err "tampered secrets" "altered"

# ---- a second domain sealed with a passphrase, through a configuration file ----
printf 'correct horse battery staple\n' >"$tmp/kms.pw"
printf 'wrong\n' >"$tmp/wrong.pw"
cat >"$tmp/kms.json" <<EOF
{"store": "sqlite:pw.db", "secrets": "pw.sealed", "passphrase_file": "kms.pw",
 "listen": "127.0.0.1:8444", "issuer": "https://idms.police.example",
 "argon2": {"t_cost": 1, "m_cost_kib": 256}}
EOF
run "init config" 0 kms init --config "$tmp/kms.json" --kms-uri kms.fire.example --id-mode hex
expect_eq "init config sealed_with" "$(field sealed_with)" "passphrase"
[ -f "$tmp/pw.db" ] || fail "the configuration's relative store was not used"
expect_eq "pw secrets mode" "$(mode "$tmp/pw.sealed")" "600"
run "config user add" 0 kms user add --config "$tmp/kms.json" --uri sip:dave@fire.example
run "config issue" 0 kms issue --config "$tmp/kms.json" --uri sip:dave@fire.example
expect_out "config issue fresh" '"fresh": true'
run "config export" 0 kms export-cert --config "$tmp/kms.json"
expect_eq "config export mode" "$(field id_mode)" "hex"
run "wrong passphrase" 1 kms issue --config "$tmp/kms.json" --passphrase-file "$tmp/wrong.pw" \
    --uri sip:dave@fire.example
expect_err "wrong passphrase" "wrong passphrase"
chmod 644 "$tmp/kms.pw"
run "loose passphrase file" 1 kms issue --config "$tmp/kms.json" --uri sip:dave@fire.example
expect_err "loose passphrase file" "must be 0600"
chmod 600 "$tmp/kms.pw"
run "key file for passphrase secrets" 1 kms issue --config "$tmp/kms.json" \
    --key-file "$tmp/kms.key" --uri sip:dave@fire.example
expect_err "key file for passphrase secrets" "sealed with a passphrase"
printf '{"store": "x", "secrets": "y", "key_file": "z", "lissen": 1}' >"$tmp/bad.json"
run "bad config" 2 kms export-cert --config "$tmp/bad.json"
expect_err "bad config" "lissen"
run "other domain's secrets" 1 kms issue --store "$db" --config "$tmp/kms.json" \
    --uri sip:alice@police.example
expect_err "other domain's secrets" "do not belong"

# ---- the store: the issue log, and no secret in it ----
if command -v sqlite3 >/dev/null 2>&1; then
    expect_eq "log issued" "$(sqlite3 "$tmp/kms.db" \
        "SELECT COUNT(*) FROM kms_issue_log WHERE outcome LIKE 'issued%'")" "6"
    expect_eq "log refusals" "$(sqlite3 "$tmp/kms.db" \
        "SELECT COUNT(*) FROM kms_issue_log WHERE outcome LIKE 'refused%'")" "2"
    expect_eq "key sets" "$(sqlite3 "$tmp/kms.db" "SELECT COUNT(*) FROM kms_key_sets")" "6"
    expect_eq "sealed length" "$(sqlite3 "$tmp/kms.db" \
        "SELECT DISTINCT length(sealed) FROM kms_key_sets")" "317"
    # a rollover over several batches (1000 per transaction) with a partial last one
    run "big init" 0 kms init --store "sqlite:$tmp/big.db" --secrets "$tmp/big.sealed" \
        --key-file "$tmp/big.key" --kms-uri kms.big.example --period 3600
    i=0
    {
        echo "BEGIN;"
        while [ $i -lt 2345 ]; do
            echo "INSERT INTO kms_users (uri, created_at) VALUES ('sip:u$i@big.example', 1);"
            i=$((i + 1))
        done
        echo "COMMIT;"
    } | sqlite3 "$tmp/big.db"
    run "big rollover" 0 kms rollover --store "sqlite:$tmp/big.db" --secrets "$tmp/big.sealed" \
        --key-file "$tmp/big.key" --period-no 1200000
    expect_eq "big rollover issued" "$(num issued)" "2345"
    expect_eq "big key sets" "$(sqlite3 "$tmp/big.db" \
        "SELECT COUNT(DISTINCT uri) FROM kms_key_sets WHERE period_no = 1200000")" "2345"
    expect_eq "big log" "$(sqlite3 "$tmp/big.db" \
        "SELECT COUNT(*) FROM kms_issue_log WHERE period_no = 1200000")" "2345"
    run "big one" 0 kms issue --store "sqlite:$tmp/big.db" --secrets "$tmp/big.sealed" \
        --key-file "$tmp/big.key" --uri sip:u2344@big.example --period-no 1200000
    expect_out "big one not fresh" '"fresh": false'
fi

finish
