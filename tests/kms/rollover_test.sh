# kms.rollover: key periods across a boundary with the daemon's clock offset (--clock-offset and
# "clock_offset"), one-hour periods, a 600 s next-period window. Near the end of period P keyprov
# returns P and P+1; past the boundary P+1 alone, and it is the same key set; a time more than one
# period from the (shifted) clock is refused; a user revoked during period P still gets P-1 (near
# its end, without P) but nothing for P or later. A requested time never yields a period past the
# one after the current period (P+2 near the end of P is refused, not issued); time refusals and
# requests for another user's URI are in kms_issue_log. A service identity is served only to its
# recorded subject and client together.
# usage: sh rollover_test.sh MCX IDMS KMS TESTS_DIR sqlite|postgresql
# shellcheck shell=sh
KMSD=${3:?usage: $0 MCX IDMS KMS TESTS_DIR BACKEND}
. "$4/../idms/idms_lib.sh"
idms_test_init "$1" "$2" "$4/../idms" "$5"
. "$4/kms_lib.sh"

PER=3600
NTP=2208988800
kms_setup "\"key_file\": \"$tmp/kms.key\", \"next_period_window\": 600" || { finish; exit 1; }
idms_admin "kms init" kms init --config "$tmp/kms.json" --kms-uri kms.fire.example \
    --period $PER || { finish; exit 1; }
idms_admin "kms user alice" kms user add --config "$tmp/kms.json" --uri sip:alice@fire.example
kms_login
kreq alice.xml sip:alice@fire.example
ALICE_P=sip%3Aalice%40fire.example

# start(N): Unix time at which period N starts (offset 0)
start() { echo $(($1 * PER - NTP)); }
# offset_to UNIX: the clock offset that makes the KMS's now that time
offset_to() { echo $(($1 - $(date +%s))); }

P=$((($(date +%s) + NTP) / PER))

# ---- a bad offset is refused before anything starts ----------------------------------------------
"$KMSD" --config "$tmp/kms.json" --clock-offset 12x >"$tmp/bad.log" 2>&1
expect_rc "--clock-offset 12x" $? 2
expect_in "--clock-offset 12x: reason" "$tmp/bad.log" "--clock-offset"
"$KMSD" --config "$tmp/kms.json" --clock-offset 999999999999 >"$tmp/bad.log" 2>&1
expect_rc "--clock-offset too far" $? 2

# ---- 60 s before the end of period P: P and P+1 ----------------------------------------------
TA=$(($(start $((P + 1))) - 60))
kms_start --clock-offset "$(offset_to $TA)" || { finish; exit 1; }
expect_in "offset announced" "$tmp/kms.log" "WARNING: CLOCK OFFSET"
expect_eq "A: keyprov (shifted now)" "$(post a1 "$alice_at" "$KP" alice.xml)" 200
expect_eq "A: periods" "$(periods a1 $PER)" "$P $((P + 1))"
expect_eq "A: keyprov at TA by path" \
    "$(post a2 "$alice_at" "$KP/$ALICE_P/$(ntp_hex_at $TA)" alice.xml)" 200
expect_eq "A: path periods" "$(periods a2 $PER)" "$P $((P + 1))"
expect_eq "A: same key sets" "$($KTOOL keysets "$tmp/a2")" "$($KTOOL keysets "$tmp/a1")"
next_set=$($KTOOL keysets "$tmp/a1" | sed -n 2p)
# a time almost a period ahead is in P+1: P+1 alone, never P+2 (the next-period rule follows the
# KMS clock, not the requested time)
expect_eq "A: keyprov 3599 s ahead" \
    "$(post a3 "$alice_at" "$KP/$ALICE_P/$(ntp_hex_at $((TA + PER - 1)))" alice.xml)" 200
expect_eq "A: 3599 s ahead periods" "$(periods a3 $PER)" "$((P + 1))"
expect_eq "A: P+1 the same" "$($KTOOL keysets "$tmp/a3")" "$next_set"
# a time in P+2 (within one period of now, but two periods ahead of the current one): refused
expect_eq "A: keyprov at the start of P+2" \
    "$(post a5 "$alice_at" "$KP/$ALICE_P/$(ntp_hex_at $(start $((P + 2))))" alice.xml)" 400
expect_in "A: P+2 reason" "$tmp/a5" "more than one key period"
expect_not_in "A: P+2 no key set" "$tmp/a5" "UserDecryptKey"
# another user's URI with alice's token: 403, and in the issue log
kreq bob.xml sip:bob@fire.example
expect_eq "A: bob's URI with alice's token" "$(post a6 "$alice_at" "$KP" bob.xml)" 403
# service identities: served to the token whose subject AND client are the recorded ones; another
# user of the same public client (mcx-cli) is refused, and so is the right subject in another app
idms_admin "svc for bob" kms service add --config "$tmp/kms.json" --uri sip:svc-b@fire.example \
    --client-id mcx-cli --sub bob
idms_admin "svc for alice in another app" kms service add --config "$tmp/kms.json" \
    --uri sip:svc-o@fire.example --client-id other-app --sub alice
idms_admin "svc for alice" kms service add --config "$tmp/kms.json" \
    --uri sip:svc-a@fire.example --client-id mcx-cli --sub alice
for v in b o a; do kreq "svc-$v.xml" "sip:svc-$v@fire.example"; done
expect_eq "A: bob's service, alice's token (same client)" \
    "$(post s1 "$alice_at" "$KP" svc-b.xml)" 403
expect_not_in "A: bob's service: no key set" "$tmp/s1" "UserDecryptKey"
expect_eq "A: alice's service of another client" "$(post s2 "$alice_at" "$KP" svc-o.xml)" 403
expect_eq "A: alice's service" "$(post s3 "$alice_at" "$KP" svc-a.xml)" 200
expect_eq "A: alice's service periods" "$(periods s3 $PER)" "$P $((P + 1))"
# a service added before subjects were recorded (store schema kms v2: subject NULL) is served to
# nobody; mcx kms service set gives it its account and client, and it is served again
kms_sql "UPDATE kms_services SET subject = NULL WHERE uri = 'sip:svc-a@fire.example'" >/dev/null
expect_eq "A: service without a subject" "$(post s4 "$alice_at" "$KP" svc-a.xml)" 403
expect_not_in "A: service without a subject: no key set" "$tmp/s4" "UserDecryptKey"
"$MCX" kms service set --config "$tmp/kms.json" --uri sip:svc-a@fire.example \
    --client-id mcx-cli --sub alice >"$tmp/sset.json" 2>"$tmp/err"
expect_rc "A: kms service set" $? 0 "$tmp/err"
expect_eq "A: service set: sub" "$($TOOL get "$tmp/sset.json" sub)" alice
expect_eq "A: service after service set" "$(post s5 "$alice_at" "$KP" svc-a.xml)" 200
expect_eq "A: service set: same key sets" "$($KTOOL keysets "$tmp/s5")" "$($KTOOL keysets "$tmp/s3")"
"$MCX" kms service set --config "$tmp/kms.json" --uri sip:svc-a@fire.example \
    --client-id mcx-cli --sub bob >"$tmp/sset.json" 2>"$tmp/err"
expect_rc "A: kms service set to bob" $? 0 "$tmp/err"
expect_eq "A: service moved to bob: alice refused" "$(post s6 "$alice_at" "$KP" svc-a.xml)" 403
# the client, on the KMS's (shifted) clock: P and P+1 kept, none marked revoked
"$MCX" keys fetch --kms "$KMS_URL" --cacert "$tmp/cert.pem" --time $((TA + NTP)) \
    --keystore "$tmp/ks-a.bin" >"$tmp/fa.json" 2>"$tmp/err"
expect_rc "A: mcx keys fetch --time" $? 0 "$tmp/err"
expect_eq "A: fetched periods" "$($TOOL get "$tmp/fa.json" periods)" "[$P, $((P + 1))]"
expect_not_in "A: keyprov not marked revoked" "$tmp/a1" "<Revoked>true"
# the token is checked against the real clock: still accepted although the KMS clock moved
expect_in "A: log status" "$tmp/kms.log" "status=200"
kms_stop

# ---- 60 s after the boundary, offset from the configuration: P+1 alone, the same key set -------
TB=$(($(start $((P + 1))) + 60))
sed "s/^  \"threads\": 2,/  \"threads\": 2, \"clock_offset\": $(offset_to $TB),/" \
    "$tmp/kms.json" >"$tmp/kms-b.json"
KMS_CONF=$tmp/kms-b.json kms_start || { finish; exit 1; }
expect_in "B: offset announced" "$tmp/kms.log" "WARNING: CLOCK OFFSET"
expect_eq "B: keyprov" "$(post b1 "$alice_at" "$KP" alice.xml)" 200
expect_eq "B: periods" "$(periods b1 $PER)" "$((P + 1))"
expect_eq "B: P+1 unchanged across the boundary" "$($KTOOL keysets "$tmp/b1")" "$next_set"
# within one period back: P alone (660 s into P, outside the window)
expect_eq "B: 3000 s back" \
    "$(post b2 "$alice_at" "$KP/$ALICE_P/$(ntp_hex_at $((TB - 3000)))" alice.xml)" 200
expect_eq "B: 3000 s back periods" "$(periods b2 $PER)" "$P"
# more than one period away from the shifted clock, either way
expect_eq "B: more than a period ahead" \
    "$(post b3 "$alice_at" "$KP/$ALICE_P/$(ntp_hex_at $((TB + PER + 120)))" alice.xml)" 400
expect_in "B: far time reason" "$tmp/b3" "more than one key period"
expect_eq "B: more than a period back" \
    "$(post b4 "$alice_at" "$KP/$ALICE_P/$(ntp_hex_at $((TB - PER - 120)))" alice.xml)" 400
expect_not_in "B: no key set for a far time" "$tmp/b4" "UserDecryptKey"
kms_stop
expect_eq "stored periods" "$(kms_sql "SELECT group_concat(period_no, ' ') FROM (SELECT \
period_no FROM kms_key_sets WHERE uri = 'sip:alice@fire.example' ORDER BY period_no) AS k" \
    2>/dev/null || kms_sql "SELECT string_agg(period_no::text, ' ' ORDER BY period_no) FROM \
kms_key_sets WHERE uri = 'sip:alice@fire.example'")" "$P $((P + 1))"

# ---- revocation during period R blocks R and later, not R-1 ---------------------------------------
idms_admin "revoke alice" kms user revoke --config "$tmp/kms.json" --uri sip:alice@fire.example
R=$((($(date +%s) + NTP) / PER))
TC=$(($(start $R) - 60))
kms_start --clock-offset "$(offset_to $TC)" || { finish; exit 1; }
expect_eq "C: keyprov near the end of R-1" "$(post c1 "$alice_at" "$KP" alice.xml)" 200
expect_eq "C: R-1 alone" "$(periods c1 $PER)" "$((R - 1))"
# TS 33.180 D.3.3: the key set served to a revoked identity says so ...
expect_in "C: R-1 marked revoked" "$tmp/c1" "<Revoked>true</Revoked>"
expect_in "C: log outcome" "$tmp/kms.log" "(marked revoked)"
# ... and the client keeps nothing: its current period's only key set is revoked
"$MCX" keys fetch --kms "$KMS_URL" --cacert "$tmp/cert.pem" --time $((TC + NTP)) \
    --keystore "$tmp/ks-c.bin" >"$tmp/fc.json" 2>"$tmp/err"
expect_rc "C: mcx keys fetch of a revoked user" $? 1 "$tmp/err"
expect_in "C: fetch refused: no current key set" "$tmp/err" "no key set for the current period"
[ -e "$tmp/ks-c.bin" ] && fail "C: a keystore was written for a revoked user"
expect_eq "C: keyprov in R" \
    "$(post c2 "$alice_at" "$KP/$ALICE_P/$(ntp_hex_at $((TC + 120)))" alice.xml)" 403
expect_in "C: revoked" "$tmp/c2" "revoked"
kms_stop
kms_start --clock-offset "$(offset_to $(($(start $((R + 1))) + 60)))" || { finish; exit 1; }
expect_eq "D: keyprov in R+1 (stored before the revocation)" \
    "$(post d1 "$alice_at" "$KP" alice.xml)" 403
expect_not_in "D: no key set" "$tmp/d1" "UserDecryptKey"
kms_stop
expect_eq "refusals audited" "$(kms_sql "SELECT COUNT(*) FROM kms_issue_log WHERE \
identity = 'sip:alice@fire.example' AND outcome = 'refused: revoked'")" 4
expect_eq "time refusals audited" "$(kms_sql "SELECT COUNT(*) FROM kms_issue_log WHERE \
identity = 'sip:alice@fire.example' AND outcome = 'refused: time'")" 3
expect_eq "other user's URI audited" "$(kms_sql "SELECT COUNT(*) FROM kms_issue_log WHERE \
identity = 'sip:bob@fire.example' AND outcome = 'refused: not the token''s user' AND \
token_sub IS NOT NULL")" 1
expect_eq "other services' refusals audited" "$(kms_sql "SELECT COUNT(*) FROM kms_issue_log WHERE \
identity IN ('sip:svc-b@fire.example', 'sip:svc-o@fire.example') AND \
outcome = 'refused: not the token''s user'")" 2

finish
