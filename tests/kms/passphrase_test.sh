# kms.passphrase: mcx-kms started on master secrets sealed with a passphrase (argon2id), the
# passphrase file named by the configuration. A wrong passphrase, a passphrase file others may
# read, a missing or empty one: the daemon refuses to start, exits non-zero, never listens, and
# says why. With the right passphrase again it serves the same key set as before.
# usage: sh passphrase_test.sh MCX IDMS KMS TESTS_DIR sqlite|postgresql
# shellcheck shell=sh
KMSD=${3:?usage: $0 MCX IDMS KMS TESTS_DIR BACKEND}
. "$4/../idms/idms_lib.sh"
idms_test_init "$1" "$2" "$4/../idms" "$5"
. "$4/kms_lib.sh"

printf '%s\n' 'kms master passphrase: tr0ub4dor&3' >"$tmp/kms.pass"
chmod 600 "$tmp/kms.pass"
# cheap argon2 costs so that the test is fast; they are recorded in the sealed file's header
kms_setup "\"passphrase_file\": \"$tmp/kms.pass\",
  \"argon2\": {\"t_cost\": 1, \"m_cost_kib\": 1024}" || { finish; exit 1; }
idms_admin "kms init" kms init --config "$tmp/kms.json" --kms-uri kms.fire.example ||
    { finish; exit 1; }
idms_admin "kms user alice" kms user add --config "$tmp/kms.json" --uri sip:alice@fire.example
# the sealed file says "passphrase" (mode 1 at offset 8), t = 1, m = 1024 KiB
expect_eq "sealed mode" "$(od -An -tu1 -j8 -N1 "$tmp/kms.sealed" | tr -d ' ')" 1
expect_eq "sealed t_cost" "$(od -An -tx1 -j12 -N8 "$tmp/kms.sealed" | tr -d ' ')" \
    0000000100000400
expect_eq "sealed mode 0600" "$(stat -c %a "$tmp/kms.sealed")" 600
kms_login
kreq alice.xml sip:alice@fire.example
NOW=$(date +%s)
URL=$KP/sip%3Aalice%40fire.example/$(ntp_hex_at "$NOW")

kms_start || { finish; exit 1; }
expect_eq "keyprov" "$(post k1 "$alice_at" "$URL" alice.xml)" 200
expect_in "keyprov: key set" "$tmp/k1" "<UserDecryptKey"
expect_not_in "log: no passphrase" "$tmp/kms.log" "tr0ub4dor"
kms_stop

# refuse NAME WANT: mcx-kms must exit non-zero without listening, its message holding WANT
refuse() {
    if command -v timeout >/dev/null; then
        timeout 60 "$KMSD" --config "$tmp/kms.json" >"$tmp/refuse.log" 2>&1
    else
        "$KMSD" --config "$tmp/kms.json" >"$tmp/refuse.log" 2>&1
    fi
    _rc=$?
    checks=$((checks + 1))
    if [ $_rc -eq 0 ] || [ $_rc -eq 124 ]; then
        fail "$1: mcx-kms exited with $_rc: $(cat "$tmp/refuse.log")"
    fi
    expect_in "$1: message" "$tmp/refuse.log" "$2"
    expect_not_in "$1: not listening" "$tmp/refuse.log" "listening on"
}

cp "$tmp/kms.pass" "$tmp/kms.pass.good"
printf '%s\n' 'kms master passphrase: tr0ub4dor&4' >"$tmp/kms.pass"
refuse "wrong passphrase" "does not open: wrong passphrase"
expect_in "wrong passphrase: names the secrets" "$tmp/refuse.log" "master secrets"
expect_not_in "wrong passphrase: not echoed" "$tmp/refuse.log" "tr0ub4dor"
cp "$tmp/kms.pass.good" "$tmp/kms.pass"
chmod 644 "$tmp/kms.pass"
refuse "passphrase file 0644" "must be 0600"
chmod 600 "$tmp/kms.pass"
: >"$tmp/kms.pass"
refuse "empty passphrase file" "mcx-kms: master secrets:"
rm -f "$tmp/kms.pass"
refuse "missing passphrase file" "kms.pass"
# a sealed file with one altered octet of its salt (the header is the GCM additional data)
cp "$tmp/kms.pass.good" "$tmp/kms.pass"
cp "$tmp/kms.sealed" "$tmp/kms.sealed.good"
o=$(od -An -tu1 -j30 -N1 "$tmp/kms.sealed" | tr -d ' ')
if [ "$o" = 2 ]; then o='\003'; else o='\002'; fi
printf "$o" | dd of="$tmp/kms.sealed" bs=1 seek=30 conv=notrunc 2>/dev/null
expect_ne "sealed file altered" "$(cmp "$tmp/kms.sealed" "$tmp/kms.sealed.good")" ""
refuse "altered sealed file" "does not open"
cp "$tmp/kms.sealed.good" "$tmp/kms.sealed"
chmod 600 "$tmp/kms.sealed"

# the right passphrase again: the same key set as before
kms_start || { finish; exit 1; }
expect_eq "keyprov after the refusals" "$(post k2 "$alice_at" "$URL" alice.xml)" 200
expect_eq "same key set" "$($KTOOL keysets "$tmp/k2")" "$($KTOOL keysets "$tmp/k1")"
kms_stop

finish
