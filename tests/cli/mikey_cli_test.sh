#!/bin/sh
# End-to-end test of `mcx mikey`: the real program builds and opens MIKEY-SAKKE I_MESSAGEs for every
# MCX key type with fresh KMS keys (UID and URI forms, both identity modes), opens the Streamwide
# vendor messages of tests/vectors, dumps them, checks the derivations against the GUK-ID and
# TS 33.180 vectors, and refuses tampered, misdirected, stale, truncated and undecodable input.
# usage: mikey_cli_test.sh PATH/TO/mcx PATH/TO/tests/vectors
set -u

. "$(dirname "$0")/cli_lib.sh" "$@"

# vec FILE NAME: a value of the unnamed top section of a vector file, lowercase hex.
vec() {
    sed -n "s/^$2 = //p" "$VEC/$1" | head -n 1 | tr 'A-F' 'a-f' | tr -d ' \r'
}

# sec FILE SECTION NAME: a value of a [SECTION] of a vector file, as written.
sec() {
    awk -v s="[$2]" -v k="$3" '$0 == s { f = 1; next } /^\[/ { f = 0 }
        f && $1 == k { sub(/^[^=]*= */, ""); sub(/\r$/, ""); print; exit }' "$VEC/$1"
}

# lc TEXT: lowercase.
lc() {
    printf '%s' "$1" | tr 'A-F' 'a-f'
}

# num NAME: a number (or null) from the last command's JSON output.
num() {
    sed -n "s/^.*\"$1\": *\([0-9a-z]*\).*\$/\1/p" "$tmp/out" | head -n 1
}

# b64hex BASE64: the octets in lowercase hex.
b64hex() {
    printf '%s' "$1" | base64 -d | od -An -v -tx1 | tr -d ' \n'
}

# flip HEX POS: HEX with the hex digit at 1-based position POS changed.
flip() {
    d=$(printf '%s' "$1" | cut -c"$2")
    case $d in
    0) r=1 ;;
    *) r=0 ;;
    esac
    printf '%s%s%s' "$(printf '%s' "$1" | cut -c1-$(($2 - 1)))" "$r" "$(printf '%s' "$1" | cut -c$(($2 + 1))-)"
}

# ---- two security domains and three users, keys for the key period in force now ----
PERIOD=2592000
NOW=$(($(date +%s) + 2208988800))
PN=$((NOW / PERIOD))
K1=kms.one.example
K2=kms.two.example

# kms N: master keys of domain N into shell variables KSAKn KPAKn zn Zn.
kms() {
    run "kms-keygen $1" 0 crypto kms-keygen || exit 1
    eval "KSAK$1=$(field ksak) KPAK$1=$(field kpak) z$1=$(field z) Z$1=$(field Z)"
}
kms 1
kms 2

# user NAME URI KMS N [hex]: UID and key set of URI at domain N; with "hex" the identity is the
# UID's hex string. Sets UID_NAME SSK_NAME PVT_NAME RSK_NAME.
user() {
    hexflag=
    [ "${5:-}" = hex ] && hexflag=--id-hex-string
    run "uid $1" 0 crypto uid --uri "$2" --kms-uri "$3" --period $PERIOD --offset 0 \
        --period-no $PN $hexflag || exit 1
    uid=$(field uid)
    id=$uid
    [ -n "$hexflag" ] && id=$(field id)
    eval "ksak=\$KSAK$4 kpak=\$KPAK$4 zz=\$z$4"
    run "issue $1" 0 crypto issue --ksak "$ksak" --kpak "$kpak" --z "$zz" --id "$id" || exit 1
    eval "UID_$1=$uid SSK_$1=$(field ssk) PVT_$1=$(field pvt) RSK_$1=$(field rsk)"
}
ALICE=sip:alice@one.example
BOB=sip:bob@one.example
CAROL=sip:carol@two.example
user alice "$ALICE" $K1 1
user bob "$BOB" $K1 1
user carol "$CAROL" $K2 2
user halice "$ALICE" $K1 1 hex
user hbob "$BOB" $K1 1 hex

KEY16=00112233445566778899aabbccddeeff
KEY32=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f

# build_msg NAME ARGS...: mcx mikey build alice -> bob (UIDs, KMS 1, T = $BUILD_T, default NOW)
# plus ARGS; the message's base64 in $MSG.
build_msg() {
    name=$1
    shift
    MSG=
    run "$name" 0 mikey build --kpak "$KPAK1" --Z "$Z1" --sender-id "$UID_alice" \
        --ssk "$SSK_alice" --pvt "$PVT_alice" --receiver-id "$UID_bob" --receiver-uri "$BOB" \
        --kms-uri $K1 --t "${BUILD_T:-$NOW}" "$@" && MSG=$(field mikey)
}

# open_uri NAME EXIT ARGS...: bob opens, parties named by URI.
open_uri() {
    name=$1
    want=$2
    shift 2
    run "$name" "$want" mikey open --rsk "$RSK_bob" --Z "$Z1" --kpak "$KPAK1" \
        --receiver-uri "$BOB" --sender-uri "$ALICE" --kms-uri $K1 --period $PERIOD --offset 0 "$@"
}

# open_id NAME EXIT ARGS...: bob opens, parties named by UID.
open_id() {
    name=$1
    want=$2
    shift 2
    run "$name" "$want" mikey open --rsk "$RSK_bob" --Z "$Z1" --kpak "$KPAK1" \
        --receiver-id "$UID_bob" --sender-id "$UID_alice" "$@"
}

# ---- build -> open for every key type, both forms ----
for t in gmk:0 pck:1 csk:2 spk:3 mkfc:4 mscck:5 musik:6; do
    type=${t%:*}
    key_id=${t#*:}abcdef1
    key=$KEY16
    [ "$type" = csk ] && key=$KEY32
    if build_msg "build $type" --type "$type" --key "$key" --key-id "$key_id"; then
        for form in uri id; do
            if open_$form "open $type ($form form)" 0 --in "$MSG"; then
                expect_eq "open $type ($form): verdict" "$(field verdict)" accepted
                expect_eq "open $type ($form): type" "$(field type)" "$type"
                expect_eq "open $type ($form): key" "$(field key)" "$key"
                expect_eq "open $type ($form): key_id" "$(field key_id)" "$key_id"
                expect_out "open $type ($form): no params" '"params": null'
                if [ "$form" = uri ]; then
                    expect_eq "open $type (uri): period_no" "$(num period_no)" "$PN"
                else
                    expect_eq "open $type (id): period_no" "$(num period_no)" null
                fi
                if [ "$type" = gmk ]; then
                    expect_eq "open gmk ($form): gmk_id" "$(field gmk_id)" "$key_id"
                    got_guk=$(field guk_id)
                    run "derive-guk-id for the GMK" 0 mikey derive-guk-id --gmk "$key" \
                        --gmk-id "$key_id" --uri "$BOB" &&
                        expect_eq "open gmk ($form): guk_id" "$got_guk" "$(field guk_id)"
                else
                    expect_out "open $type ($form): gmk_id null" '"gmk_id": null'
                fi
            fi
        done
    fi
done

# ---- key parameters, SAKKE-to-self, RAND, CS-ID, URI IDRs, UIDs computed by the builder ----
if build_msg "build gmk with params" --type gmk --key "$KEY16" --key-id 01234567 --self-copy \
    --rand 0102030405060708 --params '{"status":1,"activation":5,"expiry":6,"text":"grp key",
    "group_ids":["sip:fire@one.example","sip:police@one.example"]}'; then
    if open_uri "open gmk with params" 0 --in "$MSG"; then
        expect_out "params: text" '"text": "grp key"'
        expect_out "params: group" '"sip:police@one.example"'
        expect_out "params: activation" '"activation": 5'
        expect_out "params: form" '"form": "protected"'
        expect_eq "params: rand" "$(field rand)" 0102030405060708
    fi
    run "dump gmk with params" 0 mikey dump --in "$MSG" &&
        expect_out "dump: SAKKE-to-self" '"type_name": "SAKKE-to-self"' &&
        expect_out "dump: key parameters wrapper" '"alg_name": "AES-128-GCM"' &&
        expect_out "dump: KMS IDR" "\"text\": \"$K1\""
fi
if build_msg "build csk with text params and CS-ID 8" --type csk --key "$KEY16" \
    --key-id 2000abcd --cs-id 8 --params '{"text":"csk"}'; then
    open_id "open csk with params" 0 --in "$MSG" && expect_out "csk params: text" '"text": "csk"' &&
        expect_out "csk params: no groups" '"group_ids": null'
    run "dump csk: CS-ID" 0 mikey dump --in "$MSG" && expect_out "dump csk: CS-ID 8" '"cs_id": 8'
fi
run "build, UIDs from URIs, URI IDRs" 0 mikey build --type pck --key "$KEY16" --key-id 1000beef \
    --kpak "$KPAK1" --Z "$Z1" --ssk "$SSK_alice" --pvt "$PVT_alice" --sender-uri "$ALICE" \
    --receiver-uri "$BOB" --kms-uri $K1 --period $PERIOD --offset 0 --t $NOW --uri-idr &&
    MSG=$(field mikey)
if open_uri "open URI IDRs" 0 --in "$MSG"; then
    expect_eq "open URI IDRs: key" "$(field key)" "$KEY16"
    run "dump URI IDRs" 0 mikey dump --in "$MSG" && expect_out "dump: initiator URI" "\"$ALICE\""
fi
open_id "URI IDRs opened by UID: no UID to match" 1 --in "$MSG" &&
    expect_err "URI IDRs by UID" "rejected (unknown sender)"

# ---- the hex-string identity mode ----
if run "build --id-hex-string" 0 mikey build --type pck --key "$KEY16" --key-id 10000001 \
    --kpak "$KPAK1" --Z "$Z1" --sender-id "$UID_halice" --ssk "$SSK_halice" \
    --pvt "$PVT_halice" --receiver-id "$UID_hbob" --kms-uri $K1 --t $NOW --id-hex-string; then
    MSG=$(field mikey)
    run "open --id-hex-string (id form)" 0 mikey open --in "$MSG" --rsk "$RSK_hbob" --Z "$Z1" \
        --kpak "$KPAK1" --receiver-id "$UID_hbob" --sender-id "$UID_halice" --id-hex-string &&
        expect_eq "hex-string id form: key" "$(field key)" "$KEY16"
    run "open --id-hex-string (uri form)" 0 mikey open --in "$MSG" --rsk "$RSK_hbob" --Z "$Z1" \
        --kpak "$KPAK1" --receiver-uri "$BOB" --sender-uri "$ALICE" --kms-uri $K1 \
        --period $PERIOD --offset 0 --id-hex-string &&
        expect_eq "hex-string uri form: key" "$(field key)" "$KEY16"
    run "hex-string message, raw identities" 1 mikey open --in "$MSG" --rsk "$RSK_bob" \
        --Z "$Z1" --kpak "$KPAK1" --receiver-id "$UID_hbob" --sender-id "$UID_halice" &&
        expect_err "hex-string message, raw identities" "rejected (bad signature)"
fi
run "build: hex-string keys without --id-hex-string" 1 mikey build --type pck --key "$KEY16" \
    --key-id 10000001 --kpak "$KPAK1" --Z "$Z1" --sender-id "$UID_halice" --ssk "$SSK_halice" \
    --pvt "$PVT_halice" --receiver-id "$UID_hbob" && expect_err "build: bad SSK" "sender key set"

# ---- a sender in another domain: --sender-kpak ----
# carol (KMS 2) sends to bob (KMS 1): signed under KPAK 2, encrypted under Z 1.
if run "build across KMSs" 0 mikey build --type pck --key "$KEY16" --key-id 1000cafe \
    --kpak "$KPAK2" --Z "$Z1" --sender-id "$UID_carol" --ssk "$SSK_carol" --pvt "$PVT_carol" \
    --receiver-id "$UID_bob" --kms-uri $K2 --receiver-kms-uri $K1 --t $NOW; then
    MSG=$(field mikey)
    run "across KMSs, URI form" 0 mikey open --in "$MSG" --rsk "$RSK_bob" --Z "$Z1" \
        --kpak "$KPAK1" --receiver-uri "$BOB" --sender-uri "$CAROL" --kms-uri $K1 \
        --period $PERIOD --offset 0 --sender-kpak "$KPAK2" &&
        expect_eq "across KMSs, URI form: key" "$(field key)" "$KEY16"
    run "across KMSs, ID form" 0 mikey open --in "$MSG" --rsk "$RSK_bob" --Z "$Z1" \
        --kpak "$KPAK1" --receiver-id "$UID_bob" --sender-id "$UID_carol" \
        --sender-kpak "$KPAK2" && expect_eq "across KMSs, ID form: key" "$(field key)" "$KEY16"
    run "across KMSs without --sender-kpak" 1 mikey open --in "$MSG" --rsk "$RSK_bob" --Z "$Z1" \
        --kpak "$KPAK1" --receiver-uri "$BOB" --sender-uri "$CAROL" --kms-uri $K1 \
        --period $PERIOD --offset 0 && expect_err "unknown KMS" "rejected (unknown sender)" &&
        expect_err "unknown KMS: named" "\"$K2\" is not trusted"
fi

# ---- rejections: exit 1, verdict and reason on stderr, nothing on stdout ----
build_msg "build for the rejections" --type pck --key "$KEY16" --key-id 10001234
HEXMSG=$(b64hex "$MSG")
open_id "hex input" 0 --in "$HEXMSG" && expect_eq "hex input: key" "$(field key)" "$KEY16"
open_id "flipped byte (RAND)" 1 --in "$(flip "$HEXMSG" 60)" &&
    expect_err "flipped byte" "rejected (bad signature)"
open_id "flipped byte (SED)" 1 --in "$(flip "$HEXMSG" 500)" &&
    expect_err "flipped byte in the SED" "rejected ("
run "wrong receiver" 1 mikey open --in "$MSG" --rsk "$RSK_alice" --Z "$Z1" --kpak "$KPAK1" \
    --receiver-uri "$ALICE" --sender-uri "$ALICE" --kms-uri $K1 --period $PERIOD --offset 0 &&
    expect_err "wrong receiver" "rejected (not for this receiver)"
run "unknown KMS (other KPAK)" 1 mikey open --in "$MSG" --rsk "$RSK_bob" --Z "$Z1" \
    --kpak "$KPAK2" --receiver-id "$UID_bob" --sender-id "$UID_alice" &&
    expect_err "other KPAK" "rejected (bad signature)"
run "unknown KMS (other name)" 1 mikey open --in "$MSG" --rsk "$RSK_bob" --Z "$Z1" \
    --kpak "$KPAK1" --receiver-id "$UID_bob" --sender-id "$UID_alice" --kms-uri $K2 &&
    expect_err "other KMS name" "rejected (unknown sender)" &&
    expect_err "other KMS name: named" "\"$K1\" is not trusted"
BUILD_T=$((NOW - 3600)) build_msg "build an old message" --type pck --key "$KEY16" --key-id 10001235
open_id "expired T" 1 --in "$MSG" && expect_err "expired T" "rejected (stale)" &&
    expect_err "expired T: how old" "s old"
open_id "expired T with --any-time" 0 --in "$MSG" --any-time
open_id "truncated message" 1 --in "$(printf '%s' "$HEXMSG" | cut -c1-600)" &&
    expect_err "truncated" "rejected (malformed): MIKEY: " && expect_err "truncated: byte" "at byte"
open_id "bad base64" 2 --in 'ARoF!!!!' && expect_err "bad base64" "--in: base64: character 5"

# ---- the Streamwide vendor messages ----
W=streamwide_imessages.txt
n=0
for s in $(sed -n 's/^\[\(imsg-[^]]*\)\]$/\1/p' "$VEC/$W"); do
    n=$((n + 1))
    g() { sec $W "$s" "$1"; }
    Zs=$(g kms_pub_enc_key_Z)
    KPs=$(g kms_pub_auth_key_KPAK)
    RSKs=$(g responder_rsk)
    if run "vector $s (uri form)" 0 mikey open --in "$(g i_message)" --rsk "$RSKs" --Z "$Zs" \
        --kpak "$KPs" --receiver-uri "$(g responder_uri)" --sender-uri "$(g initiator_uri)" \
        --kms-uri "$(g kms_uri)" --period "$(g user_key_period)" --offset "$(g user_key_offset)" \
        --any-time; then
        expect_eq "$s: key" "$(field key)" "$(lc "$(g expected_key)")"
        expect_eq "$s: key_id" "$(field key_id)" "$(lc "$(g expected_key_id)")"
        expect_eq "$s: type" "$(field type)" "$(lc "$(g expected_key_type)" | tr 'A-Z' 'a-z')"
        expect_eq "$s: rand" "$(field rand)" "$(lc "$(g expected_rand)")"
        expect_eq "$s: period_no" "$(num period_no)" "$(g key_period_no)"
        [ -n "$(g expected_guk_id)" ] &&
            expect_eq "$s: guk_id" "$(field guk_id)" "$(lc "$(g expected_guk_id)")"
    fi
    # By UID the receiver's URI is unknown: a GMK's GMK-ID must then be in the SPI, which the
    # legacy layout (SRTP-ID map) does not have.
    legacy=0
    [ -n "$(g computed_keyparams_unencrypted)" ] && legacy=1
    if run "vector $s (id form, hex input)" $legacy mikey open --in "$(g computed_i_message_hex)" \
        --rsk "$RSKs" --Z "$Zs" --kpak "$KPs" --receiver-id "$(g responder_uid)" \
        --sender-id "$(g initiator_uid)" --any-time; then
        if [ $legacy = 0 ]; then
            expect_eq "$s (id form): key" "$(field key)" "$(lc "$(g expected_key)")"
        else
            expect_err "$s (id form)" "rejected (inconsistent key): MIKEY: GMK-ID unknown"
        fi
    fi
done
expect_eq "vector messages opened" "$([ $n -ge 7 ] && echo yes)" yes

s=imsg-sw-official-v5-test4
run "legacy key parameters" 0 mikey open --in "$(sec $W $s i_message)" \
    --rsk "$(sec $W $s responder_rsk)" --Z "$(sec $W $s kms_pub_enc_key_Z)" \
    --kpak "$(sec $W $s kms_pub_auth_key_KPAK)" --receiver-uri "$(sec $W $s responder_uri)" \
    --sender-uri "$(sec $W $s initiator_uri)" --kms-uri "$(sec $W $s kms_uri)" \
    --period 16777215 --offset 0 --any-time --legacy-sign-scope &&
    expect_out "legacy key parameters" '"form": "legacy"'

s=imsg-sw-official-v5-test1
SWMSG=$(sec $W $s i_message)
run "vector without --any-time" 1 mikey open --in "$SWMSG" --rsk "$(sec $W $s responder_rsk)" \
    --Z "$(sec $W $s kms_pub_enc_key_Z)" --kpak "$(sec $W $s kms_pub_auth_key_KPAK)" \
    --receiver-id "$(sec $W $s responder_uid)" --sender-id "$(sec $W $s initiator_uid)" &&
    expect_err "vector without --any-time" "rejected (stale)"

# ---- dump of a vendor message: every payload in order ----
if run "dump vector" 0 mikey dump --in "$SWMSG"; then
    expect_eq "dump: payload order" "$(sed -n 's/^ *"payload": "\([^"]*\)".*/\1/p' "$tmp/out" |
        tr '\n' ,)" "HDR,T,RAND,IDR,IDR,IDR,IDR,SP,SAKKE,General Extension,SIGN,"
    expect_eq "dump: CSB-ID" "$(field csb_id)" 06a12aea
    expect_eq "dump: SPI" "$(field spi)" 0df9bc3906a12aea
    expect_eq "dump: T value" "$(field value)" ec898da800000000
    expect_eq "dump: T seconds" "$(num ntp_seconds)" 3968437672
    expect_eq "dump: T UTC" "$(field utc)" 2025-10-02T23:47:52Z
    expect_eq "dump: RAND" "$(field rand)" "$(sec $W $s expected_rand)"
    expect_out "dump: IDR UID" "\"hex\": \"$(sec $W $s initiator_uid)\""
    expect_out "dump: IDR role name" '"role_name": "responder'"'"'s UID"'
    expect_out "dump: IDR KMS text" '"text": "kms.mydev.streamwide.com"'
    expect_out "dump: SP params" '"18:04"'
    expect_eq "dump: SED length" "$(num sed_length)" 273
    expect_eq "dump: DPPK-ID" "$(field dppk_id)" 06a12aea
    expect_eq "dump: IV" "$(field iv)" 28704fa41c8fe20f881c1bab0d32d8ca
    expect_eq "dump: signed length (RFC 3830)" "$(num signed_length)" 572
    expect_eq "dump: signed length (legacy)" "$(num legacy_signed_length)" 570
    expect_eq "dump: PVT" "$(field pvt)" "$(sec $W $s initiator_pvt)"
    checks=$((checks + 1))
    grep -q '"key"\|"ssv"' "$tmp/out" && fail "dump prints a key"
fi
run "dump, SDP line" 0 mikey dump --in "a=key-mgmt:$SWMSG"
printf '%s\n' "$SWMSG" >"$tmp/msg.txt"
run "dump, @FILE" 0 mikey dump --in "@$tmp/msg.txt" && expect_eq "dump @FILE" "$(field csb_id)" 06a12aea
SWHEX=$(sec $W $s computed_i_message_hex)
run "dump, truncated" 1 mikey dump --in "$(printf '%s' "$SWHEX" | sed 's/......$//')" &&
    expect_err "dump, truncated" "MIKEY: SIGN payload: signature truncated at byte 572"
run "dump, trailing octet" 1 mikey dump --in "${SWHEX}00" && expect_err "dump, trailing" "trailing"
run "dump, bad base64" 2 mikey dump --in 'mikey ARoF*AA=' && expect_err "dump, bad base64" "base64"

# ---- derivations ----
G=guk_id.txt
for s in $(sed -n 's/^\[\(guk-[^]]*\)\]$/\1/p' "$VEC/$G"); do
    guk=$(sec $G "$s" expected_guk_id_bytes) # the canonical octets where the source drops a 0
    [ -n "$guk" ] || guk=$(sec $G "$s" expected_guk_id)
    [ -n "$guk" ] || continue
    id=$(sec $G "$s" gmk_id_bytes)
    [ -n "$id" ] || id=$(sec $G "$s" gmk_id)
    run "derive-guk-id $s" 0 mikey derive-guk-id --gmk "$(sec $G "$s" gmk)" --gmk-id "$id" \
        --uri "$(sec $G "$s" user_uri)" && expect_eq "$s: guk_id" "$(field guk_id)" "$(lc "$guk")"
    run "derive-guk-id $s (inverse)" 0 mikey derive-guk-id --gmk "$(sec $G "$s" gmk)" \
        --guk-id "$guk" --uri "$(sec $G "$s" user_uri)" &&
        expect_eq "$s: gmk_id" "$(field gmk_id)" "$(lc "$id")"
done
T=mcx_3gpp.txt
for i in 1 2 3; do
    run "derive-srtp eth$i" 0 mikey derive-srtp --key "$(vec $T eth_gmk)" --cs-id 4 \
        --csb-id "$(vec $T eth${i}_guk_id)" --rand "$(vec $T eth_rand)" &&
        expect_eq "eth$i: master key" "$(field master_key)" "$(vec $T eth${i}_srtp_master_key)" &&
        expect_eq "eth$i: master salt" "$(field master_salt)" "$(vec $T eth${i}_srtp_master_salt)"
done
run "derive-srtp sw gmk" 0 mikey derive-srtp --key "$(vec $T sw_gmk_key)" --cs-id 4 \
    --csb-id "$(vec $T sw_gmk_guk_id)" --rand "$(vec $T sw_gmk_rand)" &&
    expect_eq "sw gmk: master key" "$(field master_key)" "$(vec $T sw_gmk_srtp_master_key)" &&
    expect_eq "sw gmk: master salt" "$(field master_salt)" "$(vec $T sw_gmk_srtp_master_salt)"
run "derive-srtp csk6" 0 mikey derive-srtp --key "$(vec $T csk6_key)" --cs-id 6 \
    --csb-id "$(vec $T csk6_key_id)" --rand "$(vec $T csk6_rand)" &&
    expect_eq "csk6: master key" "$(field master_key)" "$(vec $T csk6_srtp_master_key)" &&
    expect_eq "csk6: master salt" "$(field master_salt)" "$(vec $T csk6_srtp_master_salt)"
run "derive-dpck sw gmk" 0 mikey derive-dpck --key "$(vec $T sw_gmk_key)" \
    --dppk-id "$(vec $T sw_gmk_guk_id)" && expect_eq "sw gmk: dpck" "$(field dpck)" "$(vec $T sw_gmk_dpck)"
run "derive-dpck sw csk" 0 mikey derive-dpck --key "$(vec $T sw_csk_key)" \
    --dppk-id "$(vec $T sw_csk_key_id)" && expect_eq "sw csk: dpck" "$(field dpck)" "$(vec $T sw_csk_dpck)"
run "derive-dpck --legacy-fc differs" 0 mikey derive-dpck --key "$(vec $T sw_csk_key)" \
    --dppk-id "$(vec $T sw_csk_key_id)" --legacy-fc
checks=$((checks + 1))
[ "$(field dpck)" != "$(vec $T sw_csk_dpck)" ] || fail "--legacy-fc gives the FC 0x53 DPCK"

# ---- usage errors: exit 2, the culprit named ----
open_id "both forms" 2 --in "$MSG" --receiver-uri "$BOB" && expect_err "both forms" "not both"
run "no form" 2 mikey open --in "$MSG" --rsk "$RSK_bob" --Z "$Z1" --kpak "$KPAK1" &&
    expect_err "no form" "--receiver-id"
run "URI form without --period" 2 mikey open --in "$MSG" --rsk "$RSK_bob" --Z "$Z1" \
    --kpak "$KPAK1" --receiver-uri "$BOB" --sender-uri "$ALICE" --kms-uri $K1 --offset 0 &&
    expect_err "URI form without --period" "missing --period"
run "--sender-kpak, same KMS name" 2 mikey open --in "$MSG" --rsk "$RSK_bob" --Z "$Z1" \
    --kpak "$KPAK1" --receiver-uri "$BOB" --sender-uri "$ALICE" --kms-uri $K1 --period $PERIOD \
    --offset 0 --sender-kpak "$KPAK2" && expect_err "--sender-kpak, same name" "one KMS has one KPAK"
build_args="--kpak $KPAK1 --Z $Z1 --sender-id $UID_alice --ssk $SSK_alice --pvt $PVT_alice --receiver-id $UID_bob"
# shellcheck disable=SC2086
run "bad type" 2 mikey build --type tgk --key "$KEY16" --key-id 10000000 $build_args &&
    expect_err "bad type" "--type"
# shellcheck disable=SC2086
run "key ID of another type" 2 mikey build --type csk --key "$KEY16" --key-id 10000000 \
    $build_args && expect_err "key ID tag" "purpose tag 1 (pck), but --type is csk"
# shellcheck disable=SC2086
run "GMK without receiver URI" 2 mikey build --type gmk --key "$KEY16" --key-id 00000001 \
    $build_args && expect_err "GMK without URI" "--receiver-uri"
# shellcheck disable=SC2086
run "bad JSON" 2 mikey build --type gmk --key "$KEY16" --key-id 00000001 --receiver-uri "$BOB" \
    --params '{"status":' $build_args && expect_err "bad JSON" "--params: JSON"
# shellcheck disable=SC2086
run "unknown params member" 2 mikey build --type gmk --key "$KEY16" --key-id 00000001 \
    --receiver-uri "$BOB" --params '{"colour":1}' $build_args && expect_err "member" '"colour"'
# shellcheck disable=SC2086
run "group IDs on a PCK" 2 mikey build --type pck --key "$KEY16" --key-id 10000001 \
    --params '{"group_ids":["g"]}' $build_args && expect_err "groups on pck" "group IDs"
# shellcheck disable=SC2086
run "no sender UID or URI" 2 mikey build --type pck --key "$KEY16" --key-id 10000001 \
    --kpak "$KPAK1" --Z "$Z1" --ssk "$SSK_alice" --pvt "$PVT_alice" --receiver-id "$UID_bob" &&
    expect_err "no sender" "--sender-id"
run "derive-guk-id, both IDs" 2 mikey derive-guk-id --gmk "$KEY16" --gmk-id 01234567 \
    --guk-id 01234567 --uri "$BOB" && expect_err "both IDs" "exactly one"
run "derive-srtp, CS-ID 256" 2 mikey derive-srtp --key "$KEY16" --cs-id 256 --csb-id 01234567 \
    --rand 00 && expect_err "CS-ID 256" "--cs-id"
run "--in wrong hex" 2 mikey dump --in 0 && expect_err "odd hex" "--in"

# ---- help, and secret keys kept out of files others can read ----
run "mcx mikey --help" 0 mikey --help && expect_out "mikey --help" "derive-srtp"
for cmd in build open dump derive-guk-id derive-srtp derive-dpck; do
    run "mcx mikey $cmd --help" 0 mikey "$cmd" --help &&
        expect_out "$cmd --help" "usage: mcx mikey $cmd"
done
checks=$((checks + 1))
(umask 022 && "$MCX" mikey open --in "$HEXMSG" --rsk "$RSK_bob" --Z "$Z1" --kpak "$KPAK1" \
    --receiver-id "$UID_bob" --sender-id "$UID_alice" >"$tmp/key.json" 2>"$tmp/err")
rc=$?
[ "$rc" -eq 2 ] || fail "open to a world-readable file: exit $rc, expected 2"
[ -s "$tmp/key.json" ] && fail "open wrote a key to a world-readable file"

finish
