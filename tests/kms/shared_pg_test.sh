# kms.postgresql.shared: two mcx-kms instances on different loopback ports share ONE PostgreSQL
# store and the same sealed secrets file, behind one IdMS (docs/kms.md: several instances may
# share one PostgreSQL database). The second is set up with `mcx kms init` on the existing secrets
# and store, which changes nothing (same sealed file, same kms_settings; init with another period
# is refused). N identities each ask both instances for keyprov at the same moment (2N curl
# requests in parallel, interleaved A/B): every identity ends with exactly one key set per period
# in kms_key_sets (the current and the next period), both instances answered every request, and
# the two answers carry byte-identical KmsKeySet elements; a second round (each identity to the
# other instance) stores nothing new and returns the same key sets. Both serve the same
# KmsCertificate (init), and `mcx keys fetch` validates a sample against either instance.
# The identities are service identities that alice's client mcx-cli may fetch (one access token
# for all, as kms.durability), so the race is between the instances and not the IdMS.
# usage: sh shared_pg_test.sh MCX IDMS KMS TESTS_DIR postgresql
# shellcheck shell=sh
KMSD=${3:?usage: $0 MCX IDMS KMS TESTS_DIR postgresql}
. "$4/../idms/idms_lib.sh"
idms_test_init "$1" "$2" "$4/../idms" "$5"
. "$4/kms_lib.sh"
if [ "$BACKEND" != postgresql ]; then
    fail "kms.postgresql.shared needs the PostgreSQL fixture (backend $BACKEND)"
    finish
    exit 1
fi

N=30
# a one-day period and a one-day "next period" window: each answer carries two key sets (the
# current and the next period), so both periods are raced
kms_setup "\"key_file\": \"$tmp/kms.key\", \"next_period_window\": 86400" || { finish; exit 1; }
idms_admin "kms init A" kms init --config "$tmp/kms.json" --kms-uri kms.fire.example \
    --period 86400 || { finish; exit 1; }
i=0
while [ $i -lt $N ]; do
    idms_admin "kms service svc-$i" kms service add --config "$tmp/kms.json" \
        --uri "sip:svc-$i@fire.example" --client-id mcx-cli --sub alice || { finish; exit 1; }
    i=$((i + 1))
done
expect_eq "service identities" "$(kms_sql "SELECT COUNT(*) FROM kms_services")" $N

# ---- instance B: same store, same sealed secrets and key file, another port ---------------------
A_URL=$KMS_URL
B_PORT=$(idms_free_port)
B_URL=https://127.0.0.1:$B_PORT
sed "s/127\.0\.0\.1:$KMS_PORT/127.0.0.1:$B_PORT/" "$tmp/kms.json" >"$tmp/kms2.json"
expect_in "B listens elsewhere" "$tmp/kms2.json" "\"127.0.0.1:$B_PORT\""
expect_in "B shares the store" "$tmp/kms2.json" "\"store\": \"$KMS_STORE\""
# settings_state: the sealed file and the store's domain, to show that init B changes nothing
settings_state() {
    sha256sum <"$tmp/kms.sealed"
    kms_sql "SELECT name || '=' || value FROM kms_settings ORDER BY name"
    kms_sql "SELECT COUNT(*) FROM kms_key_sets"
}
settings_state >"$tmp/state.before"
idms_admin "kms init B (existing secrets and store)" kms init --config "$tmp/kms2.json" \
    --kms-uri kms.fire.example --period 86400
settings_state >"$tmp/state.after"
checks=$((checks + 1))
cmp -s "$tmp/state.before" "$tmp/state.after" ||
    fail "init B changed the secrets or the store: $(diff "$tmp/state.before" "$tmp/state.after")"
checks=$((checks + 1))
[ "$(wc -l <"$tmp/state.before")" -gt 3 ] || fail "no KMS settings in the store"
# init B with another domain definition is refused and changes nothing either
"$MCX" kms init --config "$tmp/kms2.json" --kms-uri kms.fire.example --period 3600 \
    >"$tmp/out" 2>"$tmp/err"
expect_ne "kms init B with another period" $? 0
expect_in "another period: reason" "$tmp/err" "already holds"
settings_state >"$tmp/state.after2"
checks=$((checks + 1))
cmp -s "$tmp/state.before" "$tmp/state.after2" || fail "a refused init changed the store"

# kstart CONF LOG: start mcx-kms on CONF (log LOG), wait for its "listening" line; $KPID
kstart() {
    : >"$2"
    "$KMSD" --config "$1" >"$2" 2>&1 &
    KPID=$!
    IDMS_PIDS="$IDMS_PIDS $KPID"
    _i=0
    while [ $_i -lt 300 ]; do
        grep -q '^mcx-kms: listening on https://' "$2" && return 0
        kill -0 "$KPID" 2>/dev/null || break
        sleep 0.1
        _i=$((_i + 1))
    done
    echo "mcx-kms ($1) did not start; log:" >&2
    sed 's/^/    /' "$2" >&2
    return 1
}
kstart "$tmp/kms.json" "$tmp/kmsA.log" || { fail "KMS A did not start"; finish; exit 1; }
A_PID=$KPID
kstart "$tmp/kms2.json" "$tmp/kmsB.log" || { fail "KMS B did not start"; finish; exit 1; }
B_PID=$KPID
expect_in "A's URL" "$tmp/kmsA.log" "listening on $A_URL"
expect_in "B's URL" "$tmp/kmsB.log" "listening on $B_URL"
expect_ne "two processes" "$A_PID" "$B_PID"

kms_login
printf '%s' "$alice_at" >"$tmp/at"
mkdir "$tmp/req" "$tmp/r1" "$tmp/r2"
i=0
while [ $i -lt $N ]; do
    kreq "req/$i.xml" "sip:svc-$i@fire.example"
    i=$((i + 1))
done
# one fixed request time for every request: a period boundary cannot fall between two answers
TH=$(ntp_hex_at "$(date +%s)")

# ---- round 1: each identity to both instances at once ---------------------------------------------
# one.sh DIR A|B I: keyprov for svc-I through instance A or B; body DIR/I.A.xml, status DIR/I.A.code
cat >"$tmp/one.sh" <<SH
case \$2 in A) base=$A_URL ;; *) base=$B_URL ;; esac
code=\$(curl -sS --cacert "$tmp/cert.pem" --max-time 60 -o "\$1/\$3.\$2.xml" -w '%{http_code}' \
    -X POST -H 'Content-Type: application/xml' -H "Authorization: Bearer \$(cat "$tmp/at")" \
    --data-binary "@$tmp/req/\$3.xml" \
    "\$base/keymanagement/identity/v1/keyprov/sip%3Asvc-\$3%40fire.example/$TH" \
    2>"\$1/\$3.\$2.err") || code="curl failed \$code"
echo "\$code" >"\$1/\$3.\$2.code"
SH
# the jobs list "A 0 B 0 A 1 B 1 ...": with -P, A's and B's request for one identity go out together
joblist() {
    i=0
    while [ $i -lt $N ]; do
        echo "$1 $i $2 $i"
        i=$((i + 1))
    done | tr ' ' '\n' | xargs -n 2 echo
}
joblist A B | xargs -P 16 -L 1 sh "$tmp/one.sh" "$tmp/r1"
answered() { grep -l '^200$' "$1"/*.code 2>/dev/null | wc -l; }
expect_eq "round 1: answers (200)" "$(answered "$tmp/r1")" $((2 * N))
for c in "$tmp"/r1/*.code; do
    grep -q '^200$' "$c" || echo "    $(basename "$c"): $(cat "$c") $(cat "${c%.code}.xml" \
        "${c%.code}.err" 2>/dev/null | head -c 300)"
done

# ---- the store: exactly one key set per identity and period -------------------------------------
expect_eq "identities with key sets" "$(kms_sql "SELECT COUNT(DISTINCT uri) FROM kms_key_sets")" $N
expect_eq "(identity, period) with more than one key set" "$(kms_sql "SELECT COUNT(*) FROM \
(SELECT uri, period_no FROM kms_key_sets GROUP BY uri, period_no HAVING COUNT(*) <> 1) d")" 0
expect_eq "periods" "$(kms_sql "SELECT COUNT(DISTINCT period_no) FROM kms_key_sets")" 2
expect_eq "key sets in all" "$(kms_sql "SELECT COUNT(*) FROM kms_key_sets")" $((2 * N))
expect_eq "identities without both periods" "$(kms_sql "SELECT COUNT(*) FROM (SELECT uri FROM \
kms_key_sets GROUP BY uri HAVING COUNT(*) <> 2) d")" 0
expect_eq "issued audit rows" \
    "$(kms_sql "SELECT COUNT(*) FROM kms_issue_log WHERE outcome = 'issued'")" $((2 * N))
# which instance issued is not fixed; both must have answered from the one store
UIDSQL="encode(uid, 'hex')"
kms_sql "SELECT $UIDSQL FROM kms_key_sets" | sort >"$tmp/stored.uids"

# keyset_xml FILE: the KmsKeySet elements of a KmsResponse exactly as sent (bytes, in order)
keyset_xml() {
    python3 - "$1" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read()
sets = re.findall(rb"<(?:[A-Za-z0-9_]+:)?KmsKeySet[ >].*?</(?:[A-Za-z0-9_]+:)?KmsKeySet>", data,
                  re.S)
sys.stdout.buffer.write(b"\n--\n".join(sets))
sys.exit(0 if len(sets) == 2 else 1)
PY
}
# compare R1 R2: for each identity, A's answer in R1 and B's in R2 hold the same KmsKeySet bytes
# and the same parsed key sets, whose UIDs are the stored ones
compare() {
    _diff=0
    : >"$tmp/answered.uids"
    i=0
    while [ $i -lt $N ]; do
        for x in "$1/$i.A" "$1/$i.B" "$2/$i.A" "$2/$i.B"; do
            [ -f "$x.xml" ] || continue
            keyset_xml "$x.xml" >"$x.ks" || echo "    $x: not two KmsKeySet elements" >&2
            $KTOOL keysets "$x.xml" >"$x.sets" || echo "    $x: not a KmsKeyProv" >&2
            awk '{print tolower($2)}' "$x.sets" >>"$tmp/answered.uids"
        done
        if ! cmp -s "$1/$i.A.ks" "$2/$i.B.ks" || ! cmp -s "$1/$i.A.sets" "$2/$i.B.sets" ||
            [ ! -s "$1/$i.A.ks" ]; then
            _diff=$((_diff + 1))
            echo "    svc-$i: A and B returned different key sets" >&2
        fi
        i=$((i + 1))
    done
    echo $_diff
}
expect_eq "round 1: identities whose A and B key sets differ" \
    "$(compare "$tmp/r1" "$tmp/r1")" 0
sort -u "$tmp/answered.uids" >"$tmp/answered.sorted"
expect_eq "round 1: answered UIDs = stored UIDs" \
    "$(diff "$tmp/answered.sorted" "$tmp/stored.uids" >/dev/null && echo same)" same
expect_eq "round 1: two key sets per answer (current, next period)" \
    "$(cat "$tmp"/r1/0.A.sets | wc -l)" 2

# ---- round 2: each identity to the other instance's half, nothing new stored -------------------
joblist B A | xargs -P 16 -L 1 sh "$tmp/one.sh" "$tmp/r2"
expect_eq "round 2: answers (200)" "$(answered "$tmp/r2")" $((2 * N))
expect_eq "round 2: no new key sets" "$(kms_sql "SELECT COUNT(*) FROM kms_key_sets")" $((2 * N))
expect_eq "round 2: no new issues" \
    "$(kms_sql "SELECT COUNT(*) FROM kms_issue_log WHERE outcome = 'issued'")" $((2 * N))
expect_eq "A in round 1 vs B in round 2: identities that differ" \
    "$(compare "$tmp/r1" "$tmp/r2")" 0
expect_eq "B in round 1 vs A in round 2: identities that differ" \
    "$(compare "$tmp/r2" "$tmp/r1")" 0

# ---- both serve the same KmsCertificate ---------------------------------------------------------
kreq init.xml sip:alice@fire.example
kcert() {
    python3 - "$1" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read()
c = re.findall(rb"<(?:[A-Za-z0-9_]+:)?KmsCertificate[ >].*?</(?:[A-Za-z0-9_]+:)?KmsCertificate>",
               data, re.S)
sys.stdout.buffer.write(c[0] if len(c) == 1 else b"")
PY
}
expect_eq "init A" "$(post initA "$alice_at" "$A_URL/keymanagement/identity/v1/init" init.xml)" 200
expect_eq "init B" "$(post initB "$alice_at" "$B_URL/keymanagement/identity/v1/init" init.xml)" 200
kcert "$tmp/initA" >"$tmp/certA"
kcert "$tmp/initB" >"$tmp/certB"
expect_in "A: KmsCertificate" "$tmp/certA" "<PubEncKey"
expect_in "A: KmsUri" "$tmp/certA" "kms.fire.example"
checks=$((checks + 1))
cmp -s "$tmp/certA" "$tmp/certB" || fail "A and B serve different KmsCertificates"

# ---- the client validates key sets from either instance (UID, SSK against PVT, RSK against Z) --
for i in 0 $((N - 1)); do
    for u in "$A_URL" "$B_URL"; do
        "$MCX" keys fetch --kms "$u" --cacert "$tmp/cert.pem" \
            --user "sip:svc-$i@fire.example" --keystore "$tmp/ks.bin" >"$tmp/out" 2>"$tmp/err"
        expect_rc "mcx keys fetch svc-$i from $u" $? 0 "$tmp/err"
    done
done
expect_eq "after the fetches: no new key sets" \
    "$(kms_sql "SELECT COUNT(*) FROM kms_key_sets")" $((2 * N))

idms_stop "$A_PID" || fail "KMS A did not stop cleanly"
idms_stop "$B_PID" || fail "KMS B did not stop cleanly"
finish
