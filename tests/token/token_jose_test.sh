#!/bin/sh
# Token interop with José (Debian's `jose` tool), an independent JOSE implementation:
#   - an mcxsec-signed ES256 token verifies with `jose jws ver` and our public JWK, a tampered
#     one does not;
#   - our kid is the RFC 7638 thumbprint `jose jwk thp` computes (SHA-256, "S256" by default);
#   - a jose-signed ES256 token (protected header alg/typ/kid) passes mcx_token_verify, as an
#     access token and as an ID token; a tampered one, one signed with ES384, and one whose typ
#     does not match the kind are refused.
#   token_jose_test.sh TOKEN_TOOL
set -u
TOOL=$1
command -v jose >/dev/null 2>&1 || { echo "jose not installed: skipped"; exit 77; }
D=$(mktemp -d /tmp/mcx-token-jose-XXXXXX)
trap 'rm -rf "$D"' EXIT
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $1"; }
check() { # check NAME COMMAND...: the command must succeed
    name=$1; shift
    if "$@" >"$D/out" 2>&1; then ok "$name"; else bad "$name"; cat "$D/out"; fi
}
refuse() { # refuse NAME PATTERN COMMAND...: the command must fail and print PATTERN
    name=$1; pat=$2; shift 2
    if "$@" >"$D/out" 2>&1; then bad "$name (accepted)"; cat "$D/out"
    elif grep -q -- "$pat" "$D/out"; then ok "$name"
    else bad "$name (wrong reason)"; cat "$D/out"; fi
}
# Replace the character at position $2 (1-based) of the text in file $1 with another one.
flip() {
    s=$(cat "$1")
    c=$(printf '%s' "$s" | cut -c"$2")
    if [ "$c" = A ]; then r=B; else r=A; fi
    printf '%s%s%s' "$(printf '%s' "$s" | cut -c1-$(($2 - 1)))" "$r" "$(printf '%s' "$s" | cut -c$(($2 + 1))-)"
}

ISS=https://idms.example:8443
AUD=https://kms.example
NOW=$(date +%s)
CLAIMS="{\"iss\":\"$ISS\",\"aud\":\"$AUD\",\"sub\":\"alice\",\"iat\":$NOW,\"exp\":$((NOW + 300)),\"scope\":\"openid 3gpp:mcptt:ptt_server\"}"

# ---- mcxsec signs, jose verifies ----
# (jose reads a compact JWS file literally: no trailing newline)
JWT=$("$TOOL" sign access "$CLAIMS" "$D/mcx.jwk") || { echo "token_tool sign failed"; exit 1; }
printf '%s' "$JWT" >"$D/mcx.jwt"
check "jose jws ver accepts an mcxsec access token" jose jws ver -i "$D/mcx.jwt" -k "$D/mcx.jwk"
rm -f "$D/payload"
jose jws ver -i "$D/mcx.jwt" -k "$D/mcx.jwk" -O "$D/payload" >/dev/null 2>&1 || rm -f "$D/payload"
check "jose recovers the claims" grep -q '"sub":"alice"' "$D/payload"
HDR=$(cut -d. -f1 "$D/mcx.jwt")
jose fmt -j "\"$HDR\"" -y -o "$D/hdr.json" 2>/dev/null
check "header is alg ES256, typ at+jwt" grep -q '"alg":"ES256".*"typ":"at+jwt"' "$D/hdr.json"
LEN=$(wc -c <"$D/mcx.jwt")
flip "$D/mcx.jwt" $((LEN - 20)) >"$D/mcx-bad.jwt"
refuse "jose refuses a tampered mcxsec token" "" jose jws ver -i "$D/mcx-bad.jwt" -k "$D/mcx.jwk"
printf '%s' "$("$TOOL" sign id "$CLAIMS" "$D/mcx-id.jwk")" >"$D/mcx-id.jwt"
check "jose jws ver accepts an mcxsec ID token" jose jws ver -i "$D/mcx-id.jwt" -k "$D/mcx-id.jwk"

# ---- kid = RFC 7638 thumbprint (jose's default hash is S256) ----
KID=$(jose fmt -j "$D/mcx.jwk" -g kid -u-)
THP=$(jose jwk thp -i "$D/mcx.jwk")
THP256=$(jose jwk thp -i "$D/mcx.jwk" -a S256)
if [ -n "$KID" ] && [ "$KID" = "$THP" ] && [ "$THP" = "$THP256" ]; then ok "kid equals jose jwk thp ($KID)"
else bad "kid $KID differs from jose jwk thp $THP / $THP256"; fi

# ---- jose signs, mcxsec verifies ----
jose jwk gen -i '{"alg":"ES256"}' -o "$D/j.jwk"
JKID=$(jose jwk thp -i "$D/j.jwk")
jose jwk pub -i "$D/j.jwk" | jose fmt -j- -q "$JKID" -s kid -U -o "$D/j-pub.jwk"
printf '{"keys":[%s]}' "$(cat "$D/j-pub.jwk")" >"$D/j.jwks"
printf '%s' "$CLAIMS" >"$D/claims.json"
jose jws sig -I "$D/claims.json" -k "$D/j.jwk" -c -o "$D/j.jwt" \
    -s "{\"protected\":{\"typ\":\"at+jwt\",\"kid\":\"$JKID\"}}"
check "mcx_token_verify accepts a jose access token" \
    "$TOOL" verify access "$D/j.jwt" "$D/j.jwks" "$ISS" "$AUD" 3gpp:mc:ptt_service
cp "$D/out" "$D/verified"
check "scope canonicalised" grep -q "scope=openid 3gpp:mc:ptt_service" "$D/verified"
refuse "jose access token refused as ID token" "MCX_E_DENIED" \
    "$TOOL" verify id "$D/j.jwt" "$D/j.jwks" "$ISS" "$AUD"
refuse "jose token refused for another audience" "MCX_E_DENIED" \
    "$TOOL" verify access "$D/j.jwt" "$D/j.jwks" "$ISS" https://other.example
jose jws sig -I "$D/claims.json" -k "$D/j.jwk" -c -o "$D/j-id.jwt" \
    -s "{\"protected\":{\"typ\":\"JWT\",\"kid\":\"$JKID\"}}"
check "mcx_token_verify accepts a jose ID token" \
    "$TOOL" verify id "$D/j-id.jwt" "$D/j.jwks" "$ISS" "$AUD"
# Several more jose signatures: r or s with leading zero octets must be handled.
i=0
n_ok=0
while [ $i -lt 16 ]; do
    jose jws sig -I "$D/claims.json" -k "$D/j.jwk" -c -o "$D/j$i.jwt" \
        -s "{\"protected\":{\"typ\":\"at+jwt\",\"kid\":\"$JKID\"}}"
    "$TOOL" verify access "$D/j$i.jwt" "$D/j.jwks" "$ISS" "$AUD" >/dev/null && n_ok=$((n_ok + 1))
    i=$((i + 1))
done
if [ $n_ok -eq 16 ]; then ok "16 more jose signatures verify"; else bad "only $n_ok of 16 jose signatures verify"; fi
# Tampered payload and signature.
PLEN=$(cut -d. -f1 "$D/j.jwt" | wc -c)
flip "$D/j.jwt" $((PLEN + 5)) >"$D/j-bad1.jwt"
refuse "tampered jose payload refused" "MCX_E_SIG_INVALID\|MCX_E_ENCODING" \
    "$TOOL" verify access "$D/j-bad1.jwt" "$D/j.jwks" "$ISS" "$AUD"
LEN=$(wc -c <"$D/j.jwt")
flip "$D/j.jwt" $((LEN - 10)) >"$D/j-bad2.jwt"
refuse "tampered jose signature refused" "MCX_E_SIG_INVALID" \
    "$TOOL" verify access "$D/j-bad2.jwt" "$D/j.jwks" "$ISS" "$AUD"
# ES384 (P-384) under the kid of the trusted ES256 key.
jose jwk gen -i '{"alg":"ES384"}' -o "$D/j384.jwk"
jose jws sig -I "$D/claims.json" -k "$D/j384.jwk" -c -o "$D/j384.jwt" \
    -s "{\"protected\":{\"typ\":\"at+jwt\",\"kid\":\"$JKID\"}}"
check "jose's ES384 token has alg ES384" sh -c "jose fmt -j \"\\\"$(cut -d. -f1 "$D/j384.jwt")\\\"\" -y -o- | grep -q ES384"
refuse "ES384 token refused" "MCX_E_UNSUPPORTED" \
    "$TOOL" verify access "$D/j384.jwt" "$D/j.jwks" "$ISS" "$AUD"
# A jose token under a key the verifier does not know.
printf '{"keys":[%s]}' "$(cat "$D/mcx.jwk")" >"$D/mcx.jwks"
refuse "jose token under an unknown kid refused" "MCX_E_UNKNOWN_PEER" \
    "$TOOL" verify access "$D/j.jwt" "$D/mcx.jwks" "$ISS" "$AUD"
check "mcxsec token verifies with mcxsec too" \
    "$TOOL" verify access "$D/mcx.jwt" "$D/mcx.jwks" "$ISS" "$AUD" 3gpp:mcptt:ptt_server

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
