# kms.valgrind: mcx-kms under valgrind memcheck for a short session behind a real mcx-idms: health,
# init, keyprov (the current and the next period: issued, then returned from the store), a refused
# request, then SIGTERM. Any memcheck error (invalid access, uninitialised value used, a definite or
# indirect leak at exit) makes valgrind exit with 99, which fails the graceful-stop check.
# usage: sh valgrind_test.sh MCX IDMS KMS TESTS_DIR sqlite|postgresql   (VALGRIND in the environment)
# shellcheck shell=sh
KMSD=${3:?usage: $0 MCX IDMS KMS TESTS_DIR BACKEND}
. "$4/../idms/idms_lib.sh"
idms_test_init "$1" "$2" "$4/../idms" "$5"
. "$4/kms_lib.sh"

kms_setup "\"key_file\": \"$tmp/kms.key\", \"next_period_window\": 86400" || { finish; exit 1; }
idms_admin "kms init" kms init --config "$tmp/kms.json" --kms-uri kms.fire.example \
    --period 86400 || { finish; exit 1; }
idms_admin "kms user alice" kms user add --config "$tmp/kms.json" --uri sip:alice@fire.example
kms_login
kreq alice.xml sip:alice@fire.example

KMS_WRAP="${VALGRIND:-valgrind} --quiet --error-exitcode=99 --leak-check=full \
--errors-for-leak-kinds=definite,indirect --track-origins=yes --log-file=$tmp/valgrind.log"
kms_start || { finish; exit 1; }
expect_eq "health" "$(hcurl h "$KMS_URL/health")" 200
expect_eq "init" "$(post i1 "$alice_at" "$KMS_URL/keymanagement/identity/v1/init" alice.xml)" 200
expect_in "init: certificate" "$tmp/i1" "<KmsCertificate"
expect_eq "keyprov (issued)" \
    "$(post k1 "$alice_at" "$KP/sip%3Aalice%40fire.example/$(ntp_hex_at "$(date +%s)")" \
        alice.xml)" 200
expect_eq "keyprov: two key sets" "$($KTOOL keysets "$tmp/k1" | wc -l)" 2
expect_eq "keyprov again (returned)" "$(post k2 "$alice_at" "$KP" alice.xml)" 200
expect_eq "same key sets" "$($KTOOL keysets "$tmp/k2")" "$($KTOOL keysets "$tmp/k1")"
expect_eq "no token" "$(post n1 "" "$KP" alice.xml)" 401
kreq bob.xml sip:bob@fire.example
expect_eq "another user's URI" "$(post n2 "$alice_at" "$KP" bob.xml)" 403
kms_stop
checks=$((checks + 1))
if [ -s "$tmp/valgrind.log" ]; then
    fail "valgrind reported:"
    sed 's/^/    /' "$tmp/valgrind.log"
fi

finish
