#!/bin/sh
# Wireshark's MIKEY dissector (an independent decoder) reads what mcxsec's builder writes.
#
#   mikey_tshark_test.sh MIKEY_GEN VECTOR_DIR
#
# mikey_gen builds signed I_MESSAGEs with the Streamwide key sets and prints, for each, what it
# asked the builder to write (CSB-ID, next-payload chain, IDR roles, RAND, SAKKE data length).
# Each message becomes one UDP datagram to port 2269 (the MIKEY port, RFC 3830 §7; tshark decodes
# it as MIKEY by default, and -d makes that explicit) in a pcap made by text2pcap, and tshark
# decodes it. Exit 77 (ctest: skipped) when tshark or text2pcap is missing.
#
# Messages with the empty CS-ID map (#CS 0, map type 1: PCK, SPK, MKFC, MSCCK; TS 33.180 E.1.2)
# must decode with no "[Malformed Packet" and no expert info of severity warning or error, and
# with the fields that were built.
#
# Messages with the GENERIC-ID map (map type 2, RFC 6043 §6.1.1: GMK, CSK, MuSiK) are reported,
# not judged. Wireshark 4.0.17 (Debian 12) does not know map type 2: it shows "CS ID map type:
# Unknown (2)", skips no map octets and decodes the GENERIC-ID entry as the T payload, so the
# CS-ID becomes the next-payload octet and the decoding derails:
#   GMK   (CS-ID 4 -> "SIGN"): [Malformed Packet: MIKEY], Expert Info (Error/Malformed):
#         Malformed Packet (Exception occurred)
#   CSK   (CS-ID 6 -> "ID"):   Expert Info (Warning/Undecoded): Trailing stray characters, and
#         with most key IDs also Malformed Packet (Exception occurred)
#   MuSiK (CS-ID 7 -> "CERT"): [Malformed Packet: MIKEY] (Exception occurred)
# and when the bogus SIGN length happens to match what is left, the garbage decodes without any
# flag. The same happens to the vendors' GMK and CSK messages (tests/vectors/mcx_3gpp.txt). So
# these only print whether tshark decoded them as built; they cannot fail the test.
set -eu

gen=${1:?usage: mikey_tshark_test.sh MIKEY_GEN VECTOR_DIR}
vectors=${2:?usage: mikey_tshark_test.sh MIKEY_GEN VECTOR_DIR}

for tool in tshark text2pcap; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool is not installed (Debian package: tshark)"
        exit 77
    fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
tshark --version 2>/dev/null | head -n 1

"$gen" "$vectors" >"$work/gen.txt"
n=$(wc -l <"$work/gen.txt")
[ "$n" -gt 0 ] || { echo "FAIL: mikey_gen wrote no messages"; exit 1; }

# One text2pcap hex dump: every packet restarts at offset 000000, 16 octets a line.
awk '{ h = $8; n = length(h) / 2
       for (i = 0; i < n; i += 16) {
           line = sprintf("%06x", i)
           for (j = i; j < i + 16 && j < n; j++) line = line " " substr(h, 2 * j + 1, 2)
           print line } }' "$work/gen.txt" >"$work/dump.txt"
text2pcap -q -u 2269,2269 "$work/dump.txt" "$work/mikey.pcap"

TSHARK="tshark -n -r $work/mikey.pcap -d udp.port==2269,mikey"
$TSHARK -T fields -E separator='|' -E occurrence=a -E aggregator=, \
    -e frame.number -e _ws.malformed -e _ws.expert.severity -e _ws.expert.message \
    -e mikey.type -e mikey.csb_id -e mikey.cs_count -e mikey.cs_id_map_type \
    -e mikey.next_payload -e mikey.id.role -e mikey.rand.data -e mikey.sakke.len \
    -e mikey.sign.type -e mikey.sign.len >"$work/fields.txt" 2>/dev/null
[ "$(wc -l <"$work/fields.txt")" -eq "$n" ] ||
    { echo "FAIL: tshark decoded $(wc -l <"$work/fields.txt") frames, $n were written"; exit 1; }

fail=0
checked=0
i=0
while read -r name map csb next roles rand sed_len _hex; do
    i=$((i + 1))
    f=$(sed -n "${i}p" "$work/fields.txt")
    malformed=$(echo "$f" | cut -d'|' -f2)
    severity=$(echo "$f" | cut -d'|' -f3)
    message=$(echo "$f" | cut -d'|' -f4)
    $TSHARK -Y "frame.number == $i" -V </dev/null >"$work/frame.txt" 2>/dev/null
    bad=""
    grep -q '\[Malformed Packet' "$work/frame.txt" && bad="malformed packet"
    [ -n "$malformed" ] && bad="malformed packet"
    # expert severities: chat 0x00200000, note 0x00400000, warning 0x00600000, error 0x00800000
    serious=0
    for s in $(echo "$severity" | tr ',' ' '); do
        [ "$s" -ge 6291456 ] && serious=1
    done
    [ "$serious" -eq 1 ] && bad="${bad:+$bad; }expert info: $message"
    if [ "$map" = generic ] && [ -n "$bad" ]; then
        echo "info: $name (GENERIC-ID map) not decoded by this tshark: $bad"
        continue
    fi
    if [ -n "$bad" ]; then
        echo "FAIL: $name: $bad"
        sed -n '/Multimedia Internet KEYing/,$p' "$work/frame.txt"
        fail=1
        continue
    fi
    want="26|$csb"
    case $map in
    empty) want="$want|0|1" ;;
    generic) want="$want|1|2" ;;
    esac
    want="$want|$next|$roles|$rand|$sed_len|2|129"
    got=$(echo "$f" | cut -d'|' -f5-)
    if [ "$map" = generic ]; then
        if [ "$got" = "$want" ]; then
            echo "info: $name (GENERIC-ID map) decoded by this tshark as built"
        else
            echo "info: $name (GENERIC-ID map) misdecoded by this tshark, unflagged: $got"
        fi
        continue
    fi
    if [ "$got" != "$want" ]; then
        echo "FAIL: $name: tshark decoded"
        echo "    type|CSB ID|#CS|map|next payloads|IDR roles|RAND|SAKKE len|S type|S len"
        echo "    got  $got"
        echo "    want $want"
        fail=1
        continue
    fi
    echo "ok: $name ($map map): type 26, CSB ID $csb, payloads $next, IDR roles $roles"
    checked=$((checked + 1))
done <"$work/gen.txt"

if [ "$fail" -ne 0 ]; then
    echo "FAIL: Wireshark's MIKEY dissector disagrees with mcxsec's builder"
    exit 1
fi
[ "$checked" -ge 8 ] || { echo "FAIL: only $checked messages checked"; exit 1; }
echo "PASS: $checked of $n I_MESSAGEs decoded by tshark as built"
