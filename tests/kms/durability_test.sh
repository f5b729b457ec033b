# kms.durability: kill -9 of mcx-kms during a burst of issues (200 service identities, 24 curl
# requests at a time) loses nothing that was acknowledged and leaves no half-written key set.
# After the kill: the store passes its integrity check (SQLite), every acknowledged key set is
# stored (its UID), each stored key set is whole (one "issued" audit row in the same transaction;
# `mcx kms issue --period-no` returns it without issuing anew, i.e. it decrypts and authenticates);
# after a restart every identity's keyprov answers, identical to the acknowledged answer where
# there was one, and `mcx keys fetch --user` validates (RFC 6507 §5.1.2, RFC 6508 §6.1.2) a sample.
# usage: sh durability_test.sh MCX IDMS KMS TESTS_DIR sqlite|postgresql
# shellcheck shell=sh
KMSD=${3:?usage: $0 MCX IDMS KMS TESTS_DIR BACKEND}
. "$4/../idms/idms_lib.sh"
idms_test_init "$1" "$2" "$4/../idms" "$5"
. "$4/kms_lib.sh"

N=200
kms_setup "\"key_file\": \"$tmp/kms.key\", \"next_period_window\": 1" || { finish; exit 1; }
idms_admin "kms init" kms init --config "$tmp/kms.json" --kms-uri kms.fire.example ||
    { finish; exit 1; }
# N service identities that alice's client (mcx-cli) may fetch: svc-0 by `mcx kms service add`,
# the others copied from its row in one transaction (all columns but the URI), which is faster
idms_admin "kms service" kms service add --config "$tmp/kms.json" --uri sip:svc-0@fire.example \
    --client-id mcx-cli --sub alice
if [ "$BACKEND" = postgresql ]; then
    collist=$(psql -XAtq -d "$KMS_STORE" -c "SELECT string_agg(column_name, ',' ORDER BY \
ordinal_position) FROM information_schema.columns WHERE table_name = 'kms_services'")
else
    collist=$(sqlite3 "${KMS_STORE#sqlite:}" "SELECT group_concat(name, ',') FROM \
pragma_table_info('kms_services')")
fi
others=$(echo "$collist" | tr ',' '\n' | grep -v '^uri$' | tr '\n' ',' | sed 's/,$//')
i=1
{
    echo "BEGIN;"
    while [ $i -lt $N ]; do
        echo "INSERT INTO kms_services (uri, $others) SELECT 'sip:svc-$i@fire.example', $others \
FROM kms_services WHERE uri = 'sip:svc-0@fire.example';"
        i=$((i + 1))
    done
    echo "COMMIT;"
} >"$tmp/svc.sql"
if [ "$BACKEND" = postgresql ]; then
    psql -XAtq -v ON_ERROR_STOP=1 -d "$KMS_STORE" -f "$tmp/svc.sql" >/dev/null
else
    sqlite3 "${KMS_STORE#sqlite:}" <"$tmp/svc.sql"
fi
expect_eq "service identities" "$(kms_sql "SELECT COUNT(*) FROM kms_services")" $N
kms_login
mkdir "$tmp/req" "$tmp/a" "$tmp/b"
i=0
while [ $i -lt $N ]; do
    kreq "req/$i.xml" "sip:svc-$i@fire.example"
    i=$((i + 1))
done
T=$(date +%s)
TH=$(ntp_hex_at "$T")
printf '%s' "$alice_at" >"$tmp/at"
# one.sh DIR I: keyprov for svc-I at time T; body to DIR/I.xml, status to DIR/I.code (written
# last). An answer counts as acknowledged only when curl received all of it (exit 0): a 200 whose
# body the kill cut short is recorded as "cut 200".
cat >"$tmp/one.sh" <<SH
code=\$(curl -sS --cacert "$tmp/cert.pem" --max-time 30 -o "\$1/\$2.xml" -w '%{http_code}' \
    -X POST -H 'Content-Type: application/xml' -H "Authorization: Bearer \$(cat "$tmp/at")" \
    --data-binary "@$tmp/req/\$2.xml" "$KP/sip%3Asvc-\$2%40fire.example/$TH" 2>/dev/null) ||
    code="cut \$code"
echo "\$code" >"\$1/\$2.tmp"
mv "\$1/\$2.tmp" "\$1/\$2.code"
SH
burst() { seq 0 $((N - 1)) | xargs -P 24 -n 1 sh "$tmp/one.sh" "$1"; }
acked() { grep -l '^200$' "$1"/*.code 2>/dev/null | wc -l; }

kms_start || { finish; exit 1; }
burst "$tmp/a" &
BURST=$!
# kill -9 once some answers are in (but long before all of them)
_i=0
while [ "$(acked "$tmp/a")" -lt 25 ] && [ $_i -lt 600 ]; do
    sleep 0.02
    _i=$((_i + 1))
done
kill -KILL "$KMS_PID"
wait "$KMS_PID" 2>/dev/null
IDMS_PIDS=$(echo "$IDMS_PIDS" | sed "s/ $KMS_PID\b//")
wait "$BURST"
n_acked=$(acked "$tmp/a")
echo "acknowledged before the kill: $n_acked of $N ($(grep -l "^cut" "$tmp/a"/*.code | wc -l) cut short or refused)"
checks=$((checks + 1))
[ "$n_acked" -ge 25 ] || fail "only $n_acked answers before the kill"
checks=$((checks + 1))
[ "$n_acked" -lt $N ] || fail "the kill came after the whole burst: nothing was interrupted"

# ---- the store after the crash ---------------------------------------------------------------
if [ "$BACKEND" = sqlite ]; then
    expect_eq "integrity_check" "$(sqlite3 "${KMS_STORE#sqlite:}" 'PRAGMA integrity_check')" ok
    UIDSQL="lower(hex(uid))"
else
    UIDSQL="encode(uid, 'hex')"
fi
kms_sql "SELECT $UIDSQL FROM kms_key_sets" | sort >"$tmp/stored.uids"
n_stored=$(wc -l <"$tmp/stored.uids")
echo "stored after the kill: $n_stored"
checks=$((checks + 1))
[ "$n_stored" -ge "$n_acked" ] || fail "$n_stored key sets stored, $n_acked acknowledged"
# every acknowledged answer's key sets are stored
: >"$tmp/acked.uids"
for c in $(grep -l '^200$' "$tmp/a"/*.code); do
    $KTOOL keysets "${c%.code}.xml" >"${c%.code}.sets" || fail "not a KmsKeyProv: $c"
    awk '{print tolower($2)}' "${c%.code}.sets" >>"$tmp/acked.uids"
done
sort -o "$tmp/acked.uids" "$tmp/acked.uids"
expect_eq "acknowledged key sets lost" "$(comm -23 "$tmp/acked.uids" "$tmp/stored.uids" | wc -l)" 0
# each key set row came with its "issued" audit row (same transaction), and no orphan either way
expect_eq "key sets without their audit row" "$(kms_sql "SELECT COUNT(*) FROM kms_key_sets k \
WHERE NOT EXISTS (SELECT 1 FROM kms_issue_log l WHERE l.identity = k.uri AND l.period_no = \
k.period_no AND l.outcome = 'issued')")" 0
expect_eq "issued audit rows without a key set" "$(kms_sql "SELECT COUNT(*) FROM kms_issue_log l \
WHERE l.outcome = 'issued' AND NOT EXISTS (SELECT 1 FROM kms_key_sets k WHERE l.identity = k.uri \
AND l.period_no = k.period_no)")" 0
# every stored key set opens (AES-GCM over the whole row) and is returned, not issued anew
kms_sql "SELECT uri || ' ' || period_no FROM kms_key_sets" >"$tmp/rows"
bad=0
while read -r u p; do
    if ! "$MCX" kms issue --config "$tmp/kms.json" --uri "$u" --period-no "$p" >"$tmp/iss" \
        2>&1 || ! grep -q '"fresh": false' "$tmp/iss"; then
        bad=$((bad + 1))
        echo "    $u $p: $(cat "$tmp/iss")"
    fi
done <"$tmp/rows"
expect_eq "stored key sets that do not open" "$bad" 0

# ---- restart: everyone answered, the acknowledged answers unchanged -----------------------------
kms_start || { finish; exit 1; }
burst "$tmp/b"
expect_eq "answers after the restart" "$(acked "$tmp/b")" $N
diff=0
for c in $(grep -l '^200$' "$tmp/a"/*.code); do
    f=${c%.code}
    b=$tmp/b/$(basename "$f")
    if [ "$($KTOOL keysets "$b.xml")" != "$(cat "$f.sets")" ]; then
        diff=$((diff + 1))
        echo "    $(basename "$f"): the key set changed"
    fi
done
expect_eq "acknowledged key sets changed after the restart" "$diff" 0
expect_eq "one key set per identity" \
    "$(kms_sql "SELECT COUNT(DISTINCT uri) FROM kms_key_sets")" $N
# the client validates a sample end to end (UID, SSK against PVT, RSK against Z)
for i in 0 1 $((N / 2)) $((N - 1)); do
    "$MCX" keys fetch --kms "$KMS_URL" --cacert "$tmp/cert.pem" --user "sip:svc-$i@fire.example" \
        --keystore "$tmp/ks-$i.bin" >"$tmp/out" 2>"$tmp/err"
    expect_rc "mcx keys fetch svc-$i" $? 0 "$tmp/err"
done
kms_stop

finish
