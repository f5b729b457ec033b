#!/bin/sh
# Signed KMS responses and TrK-wrapped keys (TS 33.180 D.1; docs/kms_xml.md) against independent
# implementations:
#  1. xmlsec1 --verify accepts mcxsec's SignedKmsResponse under the InK, refuses a wrong InK and a
#     tampered document; mcxsec refuses them too;
#  2. xmlsec1 --decrypt unwraps mcxsec's RFC 3394 EncryptedKey (the SSK) with the TrK: the
#     EncryptedKey is placed in the KeyInfo of an EncryptedData whose content is encrypted under
#     the SSK by openssl (xmlsec1 cannot start at a bare EncryptedKey); a wrong TrK fails;
#  3. openssl enc -id-aes256-wrap-pad unwraps the RFC 5649 RSK (xmlsec1 1.2 has no kw-aes-pad);
#  4. a document signed by xmlsec1 --sign from a template verifies with mcxsec, and a tampered one
#     does not; every document validates against the schema (xmllint).
# Usage: kms_xmlsec_test.sh TOOL XMLSEC1 XMLLINT SCHEMA
set -eu
TOOL=$1 XMLSEC1=$2 XMLLINT=$3 SCHEMA=$4
# Absolute paths: the test works in a scratch folder.
abs() { (cd "$(dirname "$1")" && echo "$(pwd)/$(basename "$1")"); }
TOOL=$(abs "$TOOL") SCHEMA=$(abs "$SCHEMA")
D=$(mktemp -d /tmp/kms_xmlsec.XXXXXX)
trap 'rm -rf "$D"' EXIT
cd "$D"
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }

head -c 32 /dev/urandom > trk.bin
head -c 32 /dev/urandom > ink.bin
head -c 32 /dev/urandom > bad.bin

# 1. mcxsec signs, xmlsec1 verifies
"$TOOL" make trk.bin ink.bin signed.xml ssk.bin rsk.bin || fail "tool make"
"$XMLLINT" --noout --nonet --schema "$SCHEMA" signed.xml 2>/dev/null || fail "signed.xml not schema-valid"
"$XMLSEC1" --verify --hmackey ink.bin signed.xml >/dev/null 2>&1 || fail "xmlsec1 refuses our signature"
ok "xmlsec1 --verify accepts mcxsec's SignedKmsResponse"
! "$XMLSEC1" --verify --hmackey bad.bin signed.xml >/dev/null 2>&1 || fail "xmlsec1 accepts a wrong InK"
out=$("$TOOL" verify ink.bin trk.bin signed.xml) || fail "mcxsec refuses its own signature"
want=$(od -An -tx1 -v ssk.bin | tr -d ' \n')
[ "$out" = "verified sip:alice@example.org ssk=$want" ] || fail "unwrapped SSK differs: $out"
ok "mcxsec verifies and unwraps (SSK matches)"
! "$TOOL" verify bad.bin trk.bin signed.xml 2>err.txt || fail "mcxsec accepts a wrong InK"
grep -q MCX_E_SIG_INVALID err.txt || fail "wrong InK: $(cat err.txt)"
! "$TOOL" verify ink.bin bad.bin signed.xml 2>err.txt || fail "mcxsec accepts a wrong TrK"
grep -q MCX_E_TAG_INVALID err.txt || fail "wrong TrK: $(cat err.txt)"
ok "wrong InK -> MCX_E_SIG_INVALID, wrong TrK -> MCX_E_TAG_INVALID"
# Tamper: one digit of the PVT (hex in the clear), and the key period number.
sed 's/<UserPubTokenPVT xsi:type="KeyContentType">04/<UserPubTokenPVT xsi:type="KeyContentType">05/' \
    signed.xml > t1.xml
sed 's/<KeyPeriodNo>1234</<KeyPeriodNo>1235</' signed.xml > t2.xml
for t in t1 t2; do
    cmp -s signed.xml $t.xml && fail "$t: sed changed nothing"
    ! "$XMLSEC1" --verify --hmackey ink.bin $t.xml >/dev/null 2>&1 || fail "xmlsec1 accepts $t"
    ! "$TOOL" verify ink.bin trk.bin $t.xml 2>err.txt || fail "mcxsec accepts $t"
    grep -q DigestValue err.txt || fail "$t: $(cat err.txt)"
done
ok "tampered documents refused by both"

# 2. xmlsec1 unwraps the SSK's EncryptedKey with the TrK
"$XMLLINT" --xpath "(//*[local-name()='EncryptedKey'])[2]" signed.xml > ek.xml
grep -q 'xmlenc#kw-aes256"' ek.xml || fail "second EncryptedKey is not kw-aes256"
iv=$(head -c 16 /dev/urandom | od -An -tx1 -v | tr -d ' \n')
key=$(od -An -tx1 -v ssk.bin | tr -d ' \n')
printf 'kms-secret-check' > pt.txt
{ printf '%s' "$iv" | xxd -r -p; openssl enc -aes-256-cbc -K "$key" -iv "$iv" -in pt.txt; } \
    | base64 -w0 > cd.b64
{
    echo '<?xml version="1.0"?>'
    echo '<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
    echo '<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc"/>'
    echo '<ds:KeyInfo>'; cat ek.xml; echo '</ds:KeyInfo>'
    echo "<xenc:CipherData><xenc:CipherValue>$(cat cd.b64)</xenc:CipherValue></xenc:CipherData>"
    echo '</xenc:EncryptedData>'
} > ed.xml
"$XMLSEC1" --decrypt --aeskey trk.bin --output pt.out ed.xml >/dev/null 2>&1 || fail "xmlsec1 cannot unwrap our EncryptedKey"
cmp -s pt.txt pt.out || fail "xmlsec1 decrypted to something else"
# With a wrong TrK the unwrap fails; xmlsec1 then falls back to the --aeskey key itself for the
# aes256-cbc content, which "succeeds" with garbage when the padding byte happens to fit: what
# must not happen is the plaintext.
rm -f pt2.out
"$XMLSEC1" --decrypt --aeskey bad.bin --output pt2.out ed.xml >/dev/null 2>&1 || true
! cmp -s pt.txt pt2.out || fail "xmlsec1 unwraps with a wrong TrK"
ok "xmlsec1 --decrypt unwraps mcxsec's RFC 3394 EncryptedKey with the TrK"

# 3. openssl unwraps the RSK (RFC 5649, alternative IV A65959A6)
"$XMLLINT" --xpath "string((//*[local-name()='CipherValue'])[1])" signed.xml | base64 -d > rsk.ct
openssl enc -d -id-aes256-wrap-pad -K "$(od -An -tx1 -v trk.bin | tr -d ' \n')" -iv A65959A6 \
    -in rsk.ct -out rsk.out 2>/dev/null || fail "openssl cannot unwrap the RSK"
cmp -s rsk.out rsk.bin || fail "openssl unwrapped RSK differs"
ok "openssl -id-aes256-wrap-pad unwraps mcxsec's RFC 5649 RSK"

# 4. xmlsec1 signs from a template, mcxsec verifies
"$TOOL" plain plain.xml || fail "tool plain"
{
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo '<SignedKmsResponse xmlns="urn:3gpp:ns:mcsecKMSInterface:1.0">'
    sed 1d plain.xml
    cat <<'TMPL'
<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">
  <SignedInfo>
    <CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
    <SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"/>
    <Reference URI="">
      <Transforms>
        <Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
        <Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
      </Transforms>
      <DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
      <DigestValue/>
    </Reference>
  </SignedInfo>
  <SignatureValue/>
</Signature>
</SignedKmsResponse>
TMPL
} > tmpl.xml
"$XMLSEC1" --sign --hmackey ink.bin --output xsigned.xml tmpl.xml >/dev/null 2>&1 || fail "xmlsec1 --sign"
"$XMLLINT" --noout --nonet --schema "$SCHEMA" xsigned.xml 2>/dev/null || fail "xsigned.xml not schema-valid"
out=$("$TOOL" verify ink.bin - xsigned.xml) || fail "mcxsec refuses xmlsec1's signature"
[ "${out%% *}" = verified ] || fail "verify printed: $out"
! "$TOOL" verify bad.bin - xsigned.xml 2>/dev/null || fail "mcxsec accepts xmlsec1's document under a wrong InK"
sed 's/<KmsUri>kms.example.org</<KmsUri>kms.evil.org</' xsigned.xml > xt.xml
cmp -s xsigned.xml xt.xml && fail "sed changed nothing in xsigned.xml"
! "$TOOL" verify ink.bin - xt.xml 2>/dev/null || fail "mcxsec accepts a tampered xmlsec1 document"
ok "mcxsec verifies a SignedKmsResponse signed by xmlsec1 --sign (and refuses it tampered)"
echo "all passed"
