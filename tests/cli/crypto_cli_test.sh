#!/bin/sh
# End-to-end test of `mcx crypto`: the real program, driven with its documented flags and the RFC 6507,
# RFC 6508 and TS 33.180 vectors of tests/vectors, checked on exit codes, JSON output and stderr.
# usage: crypto_cli_test.sh PATH/TO/mcx PATH/TO/tests/vectors
set -u

. "$(dirname "$0")/cli_lib.sh" "$@"

# vec FILE NAME: a vector value, lowercase hex.
vec() {
    sed -n "s/^$2 = //p" "$VEC/$1" | tr 'A-F' 'a-f' | tr -d ' \r'
}

# expect_hexlen NAME VALUE OCTETS: a lowercase hex string of that many octets.
expect_hexlen() {
    checks=$((checks + 1))
    case $2 in
    *[!0-9a-f]* | "") fail "$1: '$2' is not lowercase hex" ;;
    *) [ "${#2}" -eq $(($3 * 2)) ] || fail "$1: ${#2} hex digits, expected $(($3 * 2))" ;;
    esac
}

# flip_last HEX: the same hex string with its last digit changed.
flip_last() {
    printf '%s' "$1" | sed 's/.$//'
    case $1 in
    *0) printf '1' ;;
    *) printf '0' ;;
    esac
}

E=rfc6507_eccsi.txt
S=rfc6508_sakke.txt
KSAK=$(vec $E KSAK)
KPAK=$(vec $E KPAK)
ID=$(vec $E ID)
PVT=$(vec $E PVT)
HS=$(vec $E HS)
SSK=$(vec $E SSK)
M=$(vec $E M)
SIG=$(vec $E SIG)
z=$(vec $S z)
Z=$(vec $S Z)
RSK=$(vec $S RSK)
SSV=$(vec $S SSV)
SED=$(vec $S SED)
if [ -z "$KPAK" ] || [ -z "$SIG" ] || [ -z "$Z" ] || [ -z "$SED" ]; then
    echo "FAIL: cannot read the vectors in $VEC"
    exit 1
fi

# ---- ECCSI verify: RFC 6507 Appendix A ----
if run "verify RFC signature" 0 crypto verify --kpak "$KPAK" --id "$ID" --msg "$M" --sig "$SIG"; then
    expect_out "verify RFC signature" '"valid": true'
fi
run "verify, other message" 1 crypto verify --kpak "$KPAK" --id "$ID" --msg 6d65737361676501 \
    --sig "$SIG" && expect_err "verify, other message" "signature rejected"
run "verify, tampered signature" 1 crypto verify --kpak "$KPAK" --id "$ID" --msg "$M" \
    --sig "$(flip_last "$SIG")" && expect_err "verify, tampered signature" "signature rejected"
run "verify, other identity" 1 crypto verify --kpak "$KPAK" --id "${ID}00" --msg "$M" --sig "$SIG"

# ---- validate: the RFC key set ----
if run "validate RFC keys" 0 crypto validate --kpak "$KPAK" --Z "$Z" --id "$ID" --ssk "$SSK" \
    --pvt "$PVT" --rsk "$RSK"; then
    expect_out "validate RFC keys" '"valid": true'
    expect_eq "validate RFC keys: HS" "$(field hs)" "$HS"
fi
run "validate, bad SSK" 1 crypto validate --kpak "$KPAK" --Z "$Z" --id "$ID" \
    --ssk "$(flip_last "$SSK")" --pvt "$PVT" --rsk "$RSK" && expect_err "validate, bad SSK" "SSK/PVT"
run "validate, bad RSK" 1 crypto validate --kpak "$KPAK" --Z "$Z" --id "$ID" --ssk "$SSK" \
    --pvt "$PVT" --rsk "$(flip_last "$RSK")" && expect_err "validate, bad RSK" "RSK rejected"

# ---- issue with the RFC master secrets (random v: check that the result validates) ----
if run "issue" 0 crypto issue --ksak "$KSAK" --kpak "$KPAK" --z "$z" --id "$ID"; then
    ssk=$(field ssk)
    pvt=$(field pvt)
    rsk=$(field rsk)
    expect_hexlen "issue: ssk" "$ssk" 32
    expect_hexlen "issue: pvt" "$pvt" 65
    expect_hexlen "issue: rsk" "$rsk" 257
    expect_eq "issue: rsk is deterministic" "$rsk" "$RSK"
    run "validate issued keys" 0 crypto validate --kpak "$KPAK" --Z "$Z" --id "$ID" --ssk "$ssk" \
        --pvt "$pvt" --rsk "$rsk" && expect_out "validate issued keys" '"valid": true'
fi
run "issue, KPAK of another KSAK" 1 crypto issue --ksak "$(flip_last "$KSAK")" --kpak "$KPAK" \
    --z "$z" --id "$ID" && expect_err "issue, KPAK of another KSAK" "KPAK"

# ---- sign + verify round trip ----
if run "sign" 0 crypto sign --kpak "$KPAK" --id "$ID" --ssk "$SSK" --pvt "$PVT" --msg 68656c6c6f; then
    sig=$(field sig)
    expect_hexlen "sign: sig" "$sig" 129
    run "verify own signature" 0 crypto verify --kpak "$KPAK" --id "$ID" --msg 68656c6c6f \
        --sig "$sig"
    run "verify own signature, other message" 1 crypto verify --kpak "$KPAK" --id "$ID" \
        --msg 68656c6c6e --sig "$sig"
fi
run "sign, empty message" 0 crypto sign --kpak "$KPAK" --id "$ID" --ssk "$SSK" --pvt "$PVT" --msg=
run "sign, bad key pair" 1 crypto sign --kpak "$KPAK" --id "$ID" --ssk "$(flip_last "$SSK")" \
    --pvt "$PVT" --msg 00 && expect_err "sign, bad key pair" "SSK/PVT"

# ---- SAKKE: RFC 6508 Appendix A ----
if run "encap RFC SSV" 0 crypto encap --Z "$Z" --id "$ID" --ssv "$SSV"; then
    expect_eq "encap RFC SSV: SED" "$(field sed)" "$SED"
fi
if run "decap RFC SED" 0 crypto decap --Z "$Z" --id "$ID" --rsk "$RSK" --sed "$SED"; then
    expect_eq "decap RFC SED: SSV" "$(field ssv)" "$SSV"
fi
run "decap, tampered SED" 1 crypto decap --Z "$Z" --id "$ID" --rsk "$RSK" \
    --sed "$(flip_last "$SED")" && expect_err "decap, tampered SED" "SED rejected"
run "decap, bad RSK" 1 crypto decap --Z "$Z" --id "$ID" --rsk "$(flip_last "$RSK")" --sed "$SED" &&
    expect_err "decap, bad RSK" "RSK rejected"
SSV32=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
if run "encap 256-bit SSV" 0 crypto encap --Z "$Z" --id "$ID" --ssv "$SSV32"; then
    sed32=$(field sed)
    expect_hexlen "encap 256-bit SSV: sed" "$sed32" 289
    run "decap 256-bit SSV" 0 crypto decap --Z "$Z" --id "$ID" --rsk "$RSK" --sed "$sed32" &&
        expect_eq "decap 256-bit SSV: ssv" "$(field ssv)" "$SSV32"
fi

# ---- a whole domain with fresh master keys ----
if run "kms-keygen" 0 crypto kms-keygen; then
    k_ksak=$(field ksak)
    k_kpak=$(field kpak)
    k_z=$(field z)
    k_Z=$(field Z)
    expect_hexlen "kms-keygen: ksak" "$k_ksak" 32
    expect_hexlen "kms-keygen: kpak" "$k_kpak" 65
    expect_hexlen "kms-keygen: z" "$k_z" 128
    expect_hexlen "kms-keygen: Z" "$k_Z" 257
    if run "issue under new KMS" 0 crypto issue --ksak "$k_ksak" --kpak "$k_kpak" --z "$k_z" \
        --id "$ID"; then
        n_ssk=$(field ssk)
        n_pvt=$(field pvt)
        n_rsk=$(field rsk)
        run "validate under new KMS" 0 crypto validate --kpak "$k_kpak" --Z "$k_Z" --id "$ID" \
            --ssk "$n_ssk" --pvt "$n_pvt" --rsk "$n_rsk"
        run "validate against the RFC KMS" 1 crypto validate --kpak "$KPAK" --Z "$Z" --id "$ID" \
            --ssk "$n_ssk" --pvt "$n_pvt" --rsk "$n_rsk"
        if run "encap under new KMS" 0 crypto encap --Z "$k_Z" --id "$ID" --ssv "$SSV"; then
            run "decap under new KMS" 0 crypto decap --Z "$k_Z" --id "$ID" --rsk "$n_rsk" \
                --sed "$(field sed)" && expect_eq "decap under new KMS: ssv" "$(field ssv)" "$SSV"
        fi
    fi
fi

# ---- MIKEY-SAKKE UID (mcx_3gpp.txt uid1) ----
UID1=$(vec mcx_3gpp.txt uid1)
if run "uid" 0 crypto uid --uri sip:user@example.org --kms-uri kms.example.org --period 2592000 \
    --offset 0 --period-no 1; then
    expect_eq "uid: uid1" "$(field uid)" "$UID1"
fi
if run "uid --id-hex-string, --flag=value" 0 crypto uid --uri=sip:user@example.org \
    --kms-uri=kms.example.org --period=2592000 --offset=0 --period-no=1 --id-hex-string; then
    expect_eq "uid --id-hex-string: uid" "$(field uid)" "$UID1"
    expect_eq "uid --id-hex-string: id" "$(field id)" \
        "$(printf '%s' "$UID1" | od -An -tx1 | tr -d ' \n')"
fi

run "a value that looks like -h" 0 crypto uid --uri -h --kms-uri b --period 1 --offset 0 \
    --period-no 1 && expect_out "a value that looks like -h" '"uid"'

# ---- hex from files and standard input ----
printf '%s\n' "$SSK" >"$tmp/ssk.hex"
run "sign --ssk @FILE" 0 crypto sign --kpak "$KPAK" --id "$ID" --ssk "@$tmp/ssk.hex" --pvt "$PVT" \
    --msg 00
checks=$((checks + 1))
printf '%s' "$SSK" | "$MCX" crypto sign --kpak "$KPAK" --id "$ID" --ssk @- --pvt "$PVT" \
    --msg 00 >"$tmp/out" 2>"$tmp/err" || fail "sign --ssk @-: exit $?"

# ---- usage errors: exit 2, the culprit named on stderr ----
run "missing flag" 2 crypto sign --kpak "$KPAK" --id "$ID" --ssk "$SSK" --pvt "$PVT" &&
    expect_err "missing flag" "--msg"
run "bad hex" 2 crypto sign --kpak "$KPAK" --id "$ID" --ssk 12g4 --pvt "$PVT" --msg 00 &&
    expect_err "bad hex" "mcx crypto sign: --ssk: hex: character 3 ('g') is not a hex digit"
run "odd hex" 2 crypto verify --kpak "$KPAK" --id "$ID" --msg 123 --sig "$SIG" &&
    expect_err "odd hex" "--msg"
run "wrong length" 2 crypto verify --kpak "${KPAK}00" --id "$ID" --msg "$M" --sig "$SIG" &&
    expect_err "wrong length" "--kpak: expected 65 octets"
run "bad SSV length" 2 crypto encap --Z "$Z" --id "$ID" --ssv 00112233 &&
    expect_err "bad SSV length" "--ssv"
run "unknown command" 2 crypto frobnicate && expect_err "unknown command" "frobnicate"
run "unknown group" 2 frobnicate && expect_err "unknown group" "frobnicate"
run "no command" 2 crypto
run "no arguments" 2
run "unknown flag" 2 crypto verify --kpak "$KPAK" --id "$ID" --msg "$M" --sig "$SIG" --bogus 1 &&
    expect_err "unknown flag" "--bogus"
run "duplicated flag" 2 crypto verify --kpak "$KPAK" --id "$ID" --id "$ID" --msg "$M" \
    --sig "$SIG" && expect_err "duplicated flag" "--id"
run "flag without value" 2 crypto verify --kpak "$KPAK" --id "$ID" --msg "$M" --sig &&
    expect_err "flag without value" "--sig"
run "positional argument" 2 crypto verify extra --kpak "$KPAK" && expect_err "positional" "extra"
run "non-numeric period" 2 crypto uid --uri a --kms-uri b --period 30d --offset 0 --period-no 1 &&
    expect_err "non-numeric period" "--period"
run "negative offset" 2 crypto uid --uri a --kms-uri b --period 1 --offset -1 --period-no 1 &&
    expect_err "negative offset" "--offset"
run "period-no overflow" 2 crypto uid --uri a --kms-uri b --period 1 --offset 0 \
    --period-no 18446744073709551616 && expect_err "period-no overflow" "--period-no"
run "value on a switch" 2 crypto uid --uri a --kms-uri b --period 1 --offset 0 --period-no 1 \
    --id-hex-string=yes && expect_err "value on a switch" "--id-hex-string"
run "missing file" 2 crypto sign --kpak "$KPAK" --id "$ID" --ssk "@$tmp/none" --pvt "$PVT" \
    --msg 00 && expect_err "missing file" "--ssk"

# ---- help ----
run "mcx --help" 0 --help && expect_out "mcx --help" "crypto"
run "mcx crypto --help" 0 crypto --help && expect_out "mcx crypto --help" "kms-keygen"
for cmd in kms-keygen issue validate sign verify encap decap uid; do
    run "mcx crypto $cmd --help" 0 crypto "$cmd" --help && expect_out "$cmd --help" "usage: mcx crypto $cmd"
done

# ---- secret keys are not written to a file that others can read ----
checks=$((checks + 1))
(umask 022 && "$MCX" crypto kms-keygen >"$tmp/kms.json" 2>"$tmp/err")
rc=$?
[ "$rc" -eq 2 ] || fail "kms-keygen to a world-readable file: exit $rc, expected 2"
[ -s "$tmp/kms.json" ] && fail "kms-keygen wrote secrets to a world-readable file"
checks=$((checks + 1))
rm -f "$tmp/kms.json"
"$MCX" crypto kms-keygen >"$tmp/kms.json" 2>"$tmp/err" || fail "kms-keygen to a private file: exit $?"

finish
