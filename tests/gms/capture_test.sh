# gms.capture: group media on the wire. alice and bob fetch fire-1's GMK from a real mcx-gms and
# both send the same recognisable plaintext with the SAME SSRC to a multicast group on loopback; tshark captures the UDP traffic. The capture (decoded as RTP by tshark) must
# hold every packet, none of the plaintext, and end each packet with the 8-octet MKI
# GMK-ID || GUK-ID of its sender (TS 33.180 §7.4.2), which differs between alice and bob: their
# packets are under two different keys, and no (key, SSRC, sequence number) appears twice (the
# same SSRC and index under both keys is tests/media's case); carol's listener decrypts both.
# usage: sh capture_test.sh MCX IDMS KMS GMS TESTS_DIR sqlite|postgresql
# shellcheck shell=sh
KMSD=${3:?usage: $0 MCX IDMS KMS GMS TESTS_DIR BACKEND}
GMSD=${4:?usage: $0 MCX IDMS KMS GMS TESTS_DIR BACKEND}
. "$5/../idms/idms_lib.sh"
idms_test_init "$1" "$2" "$5/../idms" "$6"
. "$5/gms_lib.sh"
command -v tshark >/dev/null || { echo "SKIP: no tshark"; exit 77; }

gms_domain || { finish; exit 1; }
gms_start || { fail "GMS did not start"; finish; exit 1; }
ADMIN_AT=$(login admin admin "$GMS_SCOPE mcxsec:gms_admin") || { finish; exit 1; }
G=sip:fire-1@fire.example
expect_eq "create fire-1" "$(gcurl c "$ADMIN_AT" POST /groups "{\"id\":\"$G\",
  \"members\":[\"sip:alice@fire.example\",\"sip:bob@fire.example\",\"sip:carol@fire.example\"]}")" 201
mkdir -m 700 "$tmp/clients"
for u in alice bob carol; do
    MCX_STATE_DIR=$tmp/clients/$u
    export MCX_STATE_DIR
    login $u $u >"$tmp/at.$u" || { cat "$tmp/at.$u"; finish; exit 1; }
    "$MCX" keys fetch --kms "$KMS_URL" --cacert "$tmp/cert.pem" --label $u >"$tmp/out" 2>"$tmp/err"
    expect_rc "keys fetch $u" $? 0 "$tmp/err"
    "$MCX" group fetch --gms "$GMS_URL" --gms-id "$GMS_URI" --group "$G" --cacert "$tmp/cert.pem" \
        --label $u >"$tmp/fetch.$u" 2>"$tmp/err"
    expect_rc "group fetch $u" $? 0 "$tmp/err"
done

# 30 frames of 160 octets of a recognisable plaintext
python3 -c 'import sys; sys.stdout.buffer.write((b"MCXSEC-PLAINTEXT-AUDIO-FRAME-" * 200)[:4800])' \
    >"$tmp/plain.raw"
PORT=$(idms_free_port)
MC=239.255.7.$((PORT % 200 + 1))
tshark -i lo -f "udp and dst port $PORT" -w "$tmp/cap.pcapng" >"$tmp/tshark.out" 2>"$tmp/tshark.err" &
TS_PID=$!
_i=0
while [ $_i -lt 100 ] && ! grep -q "Capturing on" "$tmp/tshark.err"; do sleep 0.1; _i=$((_i + 1)); done
expect_in "tshark is capturing" "$tmp/tshark.err" "Capturing on"

MCX_STATE_DIR=$tmp/clients/carol "$MCX" group listen --group "$G" --on "$MC:$PORT" --count 60 \
    --timeout 20 >"$tmp/listen" 2>"$tmp/listen.err" &
L_PID=$!
sleep 0.5
for u in alice bob; do
    MCX_STATE_DIR=$tmp/clients/$u "$MCX" group send --group "$G" --in "$tmp/plain.raw" \
        --to "$MC:$PORT" --ssrc 4660 --interval-ms 2 >"$tmp/send.$u" 2>"$tmp/err"
    expect_rc "send $u" $? 0 "$tmp/err"
done
wait "$L_PID"
expect_rc "carol's listener" $? 0 "$tmp/listen.err"
sleep 0.5
kill -INT "$TS_PID" 2>/dev/null
wait "$TS_PID" 2>/dev/null

tshark -r "$tmp/cap.pcapng" -d "udp.port==$PORT,rtp" -T fields -e rtp.ssrc -e rtp.seq \
    -e rtp.payload >"$tmp/rtp.txt" 2>"$tmp/err"
expect_rc "tshark reads the capture" $? 0 "$tmp/err"
python3 - "$tmp/rtp.txt" "$tmp/plain.raw" "$tmp/send.alice" "$tmp/send.bob" "$tmp/listen" \
    >"$tmp/verdict" 2>&1 <<'PY'
import json, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
plain = open(sys.argv[2], "rb").read()
alice, bob = (json.load(open(p)) for p in sys.argv[3:5])
heard = json.load(open(sys.argv[5]))
assert len(rows) == 60, f"{len(rows)} packets captured, 60 sent"
mki = {bytes.fromhex(alice["gmk_id"] + alice["guk_id"]): "alice",
       bytes.fromhex(bob["gmk_id"] + bob["guk_id"]): "bob"}
assert len(mki) == 2, "alice and bob have the same MKI"
seen = {}
for ssrc, seq, payload in rows:
    p = bytes.fromhex(payload.replace(":", ""))
    assert int(ssrc, 16) == 4660, ssrc
    # the frame is encrypted: no 8-octet run of the plaintext survives
    for i in range(0, 160 - 8):
        assert plain[i:i + 8] not in p, "plaintext on the wire"
    assert len(p) == 160 + 16 + 8, f"payload {len(p)} octets, expected ciphertext + tag + MKI"
    who = mki.get(p[-8:])
    assert who, "unknown MKI " + p[-8:].hex()
    k = (who, int(ssrc, 16), int(seq))
    assert k not in seen, f"{k} twice"
    seen[k] = 1
assert sorted(set(w for w, _, _ in seen)) == ["alice", "bob"]
per = {s["sender"]: s["packets"] for s in heard["senders"]}
assert per == {"sip:alice@fire.example": 30, "sip:bob@fire.example": 30}, per
print("ok: 60 packets, no plaintext, one SSRC, each sender's own MKI (key), no (key, SSRC, seq) twice")
PY
expect_rc "the capture" $? 0 "$tmp/verdict"
cat "$tmp/verdict"
finish
