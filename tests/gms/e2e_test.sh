# gms.e2e: a domain on loopback: mcx-idms, mcx-kms and mcx-gms, each over HTTPS. The GMS fetches
# its own key set from the KMS as the service identity sip:gms@fire.example (its service account's
# token); an administrator creates fire-1 over the JSON interface; each member's group document
# carries I_MESSAGEs for that member only; a member outside the group, no token, a forged token,
# a non-administrator, malformed and oversize bodies are refused with nothing stored; removing
# carol rekeys fire-1 and carol gets nothing new; the event stream pushes alice her new key; a
# regroup leaves the groups combined untouched; the GMS restarts on its store and keeps serving.
# usage: sh e2e_test.sh MCX IDMS KMS GMS TESTS_DIR sqlite|postgresql
# shellcheck shell=sh
KMSD=${3:?usage: $0 MCX IDMS KMS GMS TESTS_DIR BACKEND}
GMSD=${4:?usage: $0 MCX IDMS KMS GMS TESTS_DIR BACKEND}
. "$5/../idms/idms_lib.sh"
idms_test_init "$1" "$2" "$5/../idms" "$6"
. "$5/gms_lib.sh"

gms_domain || { finish; exit 1; }
gms_start || { fail "GMS did not start"; finish; exit 1; }
expect_in "GMS fetched its keys" "$tmp/gms.log" "fetched the key sets of $GMS_URI"
expect_eq "GET /health" "$(gcurl health "" GET /health)" 200

ADMIN_AT=$(login admin admin "$GMS_SCOPE mcxsec:gms_admin") || { finish; exit 1; }
ALICE_AT=$(login alice alice) || { finish; exit 1; }
BOB_AT=$(login bob bob) || { finish; exit 1; }
CAROL_AT=$(login carol carol) || { finish; exit 1; }
G=sip:fire-1@fire.example
GP=/groups/sip%3Afire-1%40fire.example

# ---- refusals before anything exists -------------------------------------------------------------
expect_eq "no token" "$(gcurl r "" GET /groups)" 401
expect_in "no token: WWW-Authenticate" "$tmp/r.h" "Bearer realm=\"mcx-gms\""
FORGED=$(python3 -c "import sys; t = sys.argv[1]; i = t.rindex('.') + 5
print(t[:i] + ('A' if t[i] != 'A' else 'B') + t[i + 1:])" "$ALICE_AT")
expect_eq "forged token" "$(gcurl r "$FORGED" GET /groups)" 401
expect_eq "member creates a group" \
    "$(gcurl r "$ALICE_AT" POST /groups "{\"id\":\"$G\",\"members\":[]}")" 403
expect_in "403 names the scope" "$tmp/r" "mcxsec:gms_admin"
# alice asks the IdMS for the admin scope: the scope alone does not make her one
ALICE_ADM=$(login alice alice-adm "$GMS_SCOPE mcxsec:gms_admin") || { finish; exit 1; }
expect_eq "admin scope, not an admin subject" \
    "$(gcurl r "$ALICE_ADM" POST /groups "{\"id\":\"$G\",\"members\":[]}")" 403
expect_eq "malformed JSON" "$(gcurl r "$ADMIN_AT" POST /groups '{"id":')" 400
expect_eq "unknown key" "$(gcurl r "$ADMIN_AT" POST /groups "{\"id\":\"$G\",\"colour\":1}")" 400
expect_in "unknown key named" "$tmp/r" "colour"
expect_eq "member not a URI" \
    "$(gcurl r "$ADMIN_AT" POST /groups "{\"id\":\"$G\",\"members\":[\"alice\"]}")" 400
head -c 5000000 /dev/zero | tr '\0' 'a' >"$tmp/big"
expect_eq "oversize body" "$(hcurl r -X POST -H "Authorization: Bearer $ADMIN_AT" \
    --data-binary "@$tmp/big" "$GMS_URL/groups")" 413
expect_eq "oversize body without a token: refused at the headers" "$(hcurl r -X POST \
    --data-binary "@$tmp/big" "$GMS_URL/groups")" 401
expect_eq "unknown path" "$(gcurl r "$ADMIN_AT" GET /nothing)" 404
expect_eq "group ID with a bad escape" "$(gcurl r "$ADMIN_AT" GET /groups/sip%3Ax%2)" 400
expect_eq "group ID with a non-hex escape" "$(gcurl r "$ADMIN_AT" GET /groups/sip%-1x)" 400
expect_eq "group ID escaping a control character" "$(gcurl r "$ADMIN_AT" GET /groups/sip%0A)" 400
expect_eq "wrong method" "$(gcurl r "$ADMIN_AT" PUT /groups)" 405
expect_eq "nothing stored" "$(gms_sql 'SELECT COUNT(*) FROM gms_groups')" 0

# ---- create fire-1 --------------------------------------------------------------------------------
expect_eq "create fire-1" "$(gcurl c "$ADMIN_AT" POST /groups "{\"id\":\"$G\",
  \"display_name\":\"Fire 1\",\"mkfc\":true,
  \"members\":[\"sip:alice@fire.example\",\"sip:bob@fire.example\",\"sip:carol@fire.example\"]}")" 201
GMK1=$($TOOL get "$tmp/c" gmk_id)
expect_eq "members" "$($TOOL get "$tmp/c" members)" 3
expect_eq "again: conflict" "$(gcurl r "$ADMIN_AT" POST /groups "{\"id\":\"$G\"}")" 409
expect_eq "second group" "$(gcurl r "$ADMIN_AT" POST /groups \
    '{"id":"sip:fire-2@fire.example","members":["sip:bob@fire.example"]}')" 201
expect_eq "I_MESSAGEs stored" "$(gms_sql 'SELECT COUNT(*) FROM gms_messages')" 7
expect_eq "no key in clear" \
    "$(gms_sql "SELECT COUNT(*) FROM gms_keys WHERE length(sealed) = 60")" 3

# ---- the group document ---------------------------------------------------------------------------
expect_eq "alice's document" "$(gcurl doc_alice "$ALICE_AT" GET "$GP")" 200
expect_in "content type" "$tmp/doc_alice.h" "application/xml"
python3 - "$tmp/doc_alice" "$G" "$GMK1" >"$tmp/alice.keys" 2>"$tmp/err" <<'PY'
import sys, xml.etree.ElementTree as ET
ns = {"l": "urn:oma:xml:poc:list-service", "m": "urn:mcxsec:gms:1.0"}
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "{urn:oma:xml:poc:list-service}list-service" and root.get("uri") == sys.argv[2]
entries = [e.get("uri") for e in root.findall("l:list/l:entry", ns)]
assert entries == ["sip:alice@fire.example", "sip:bob@fire.example", "sip:carol@fire.example"], entries
sec = root.find("m:group-security", ns)
assert sec.get("gms") == "sip:gms@fire.example" and sec.get("status") == "active"
keys = sec.findall("m:key", ns)
assert sorted(k.get("type") for k in keys) == ["gmk", "mkfc"], keys
for k in keys:
    if k.get("type") == "gmk":
        assert k.get("key-id") == sys.argv[3]
    print(k.get("type"), k.get("key-id"), k.text.strip())
PY
expect_rc "alice's document parses" $? 0 "$tmp/err"
ALICE_GMK_MSG=$(awk '$1=="gmk"{print $3}' "$tmp/alice.keys")
"$MCX" mikey dump --in "$ALICE_GMK_MSG" >"$tmp/dump" 2>"$tmp/err"
expect_rc "mikey dump of alice's GMK message" $? 0 "$tmp/err"
expect_in "signed with ECCSI" "$tmp/dump" "SIGN"
expect_in "SAKKE payload" "$tmp/dump" "SAKKE"
expect_eq "bob's document" "$(gcurl doc_bob "$BOB_AT" GET "$GP")" 200
expect_ne "bob's message is not alice's" "$(grep -c "$ALICE_GMK_MSG" "$tmp/doc_bob")" 1
expect_eq "admin's document (no keys)" "$(gcurl doc_admin "$ADMIN_AT" GET "$GP")" 200
expect_not_in "admin gets no key" "$tmp/doc_admin" "mcx:key"
expect_eq "alice: fire-2 is not hers" "$(gcurl r "$ALICE_AT" GET /groups/sip%3Afire-2%40fire.example)" 404
expect_eq "alice's list" "$(gcurl list "$ALICE_AT" GET /groups)" 200
expect_in "alice sees fire-1" "$tmp/list" "$G"
expect_not_in "alice does not see fire-2" "$tmp/list" "fire-2"
expect_eq "admin's list" "$(gcurl list "$ADMIN_AT" GET /groups)" 200
expect_in "admin sees fire-2" "$tmp/list" "fire-2"

# ---- the event stream, then removing carol ----------------------------------------------------------
curl -sS -N --cacert "$tmp/cert.pem" --max-time 30 -H "Authorization: Bearer $ALICE_AT" \
    "$GMS_URL/events" >"$tmp/events" 2>"$tmp/events.err" &
EV_PID=$!
curl -sS -N --cacert "$tmp/cert.pem" --max-time 30 -H "Authorization: Bearer $CAROL_AT" \
    "$GMS_URL/events" >"$tmp/events_carol" 2>"$tmp/events_carol.err" &
EVC_PID=$!
sleep 1
expect_eq "remove carol" "$(gcurl m "$ADMIN_AT" POST "$GP/members" \
    '{"remove":["sip:carol@fire.example"]}')" 200
GMK2=$($TOOL get "$tmp/m" gmk_id)
expect_ne "rekeyed" "$GMK2" "$GMK1"
expect_eq "context 2" "$($TOOL get "$tmp/m" context)" 2
_i=0
while [ $_i -lt 50 ] && ! grep -q "$GMK2" "$tmp/events"; do sleep 0.1; _i=$((_i + 1)); done
expect_in "alice was pushed the new GMK" "$tmp/events" "\"key_id\":\"$GMK2\""
expect_in "an I_MESSAGE in the event" "$tmp/events" "\"imessage\":\""
_i=0
while [ $_i -lt 50 ] && ! grep -q "group-removed" "$tmp/events_carol"; do sleep 0.1; _i=$((_i + 1)); done
expect_in "carol was told she left" "$tmp/events_carol" "event: group-removed"
expect_not_in "carol got no new key" "$tmp/events_carol" "$GMK2"
kill "$EV_PID" "$EVC_PID" 2>/dev/null
wait "$EV_PID" "$EVC_PID" 2>/dev/null
expect_eq "carol: fire-1 is gone" "$(gcurl r "$CAROL_AT" GET "$GP")" 404
expect_eq "carol has no message of context 2" \
    "$(gms_sql "SELECT COUNT(*) FROM gms_messages WHERE member = 'sip:carol@fire.example' AND context = 2")" 0
expect_eq "removal logged" \
    "$(gms_sql "SELECT COUNT(*) FROM gms_log WHERE action = 'member-remove' AND actor = 'admin'")" 1
expect_eq "remove twice" "$(gcurl r "$ADMIN_AT" POST "$GP/members" \
    '{"remove":["sip:carol@fire.example"]}')" 404

# ---- regroup, rekey, revoke -------------------------------------------------------------------------
expect_eq "regroup" "$(gcurl rg "$ADMIN_AT" POST /regroups \
    "{\"id\":\"sip:rg-1@fire.example\",\"of\":[\"$G\",\"sip:fire-2@fire.example\"]}")" 201
expect_eq "regroup members" "$($TOOL get "$tmp/rg" members)" 2
expect_eq "fire-1 untouched" "$(gcurl g1 "$ADMIN_AT" GET /groups)" 200
expect_eq "fire-1 keeps its GMK" "$(python3 -c "import json,sys
print([g['gmk_id'] for g in json.load(open(sys.argv[1]))['groups'] if g['id']==sys.argv[2]][0])" \
    "$tmp/g1" "$G")" "$GMK2"
# ---- the client: mcx group fetch, and mcx group watch across a rekey ------------------------------
"$MCX" keys fetch --kms "$KMS_URL" --cacert "$tmp/cert.pem" --label alice >"$tmp/out" 2>"$tmp/err"
expect_rc "alice: keys fetch" $? 0 "$tmp/err"
"$MCX" group fetch --gms "$GMS_URL" --gms-id "$GMS_URI" --group "$G" --cacert "$tmp/cert.pem" \
    --label alice >"$tmp/gf" 2>"$tmp/err"
expect_rc "alice: group fetch" $? 0 "$tmp/err"
expect_eq "alice accepted GMK and MKFC" "$($TOOL get "$tmp/gf" accepted)" 2
"$MCX" group fetch --gms "$GMS_URL" --gms-id sip:other@fire.example --group "$G" \
    --cacert "$tmp/cert.pem" --label alice >"$tmp/gf" 2>"$tmp/err"
expect_rc "group fetch naming another GMS" $? 1
"$MCX" group watch --gms "$GMS_URL" --gms-id "$GMS_URI" --count 2 --timeout 30 \
    --cacert "$tmp/cert.pem" --label alice >"$tmp/watch" 2>"$tmp/watch.err" &
W_PID=$!
sleep 1
expect_eq "rekey while alice watches" "$(gcurl k0 "$ADMIN_AT" POST "$GP/rekey" '{}')" 200
wait "$W_PID"
expect_rc "alice: watch" $? 0 "$tmp/watch.err"
expect_in "watch accepted the new GMK" "$tmp/watch" "$($TOOL get "$tmp/k0" gmk_id)"
"$MCX" group show --group "$G" >"$tmp/show" 2>"$tmp/err"
expect_rc "alice: group show" $? 0 "$tmp/err"
expect_in "show lists the pushed GMK" "$tmp/show" "$($TOOL get "$tmp/k0" gmk_id)"

expect_eq "rekey by a member" "$(gcurl r "$ALICE_AT" POST "$GP/rekey" '{}')" 403
expect_eq "rekey" "$(gcurl k "$ADMIN_AT" POST "$GP/rekey" '{}')" 200
expect_eq "context 4" "$($TOOL get "$tmp/k" context)" 4
expect_eq "revoke" "$(gcurl v "$ADMIN_AT" POST "$GP/revoke" '{}')" 200
expect_eq "revoked" "$($TOOL get "$tmp/v" status)" revoked
expect_eq "document says revoked" "$(gcurl d "$ALICE_AT" GET "$GP")" 200
expect_in "status revoked" "$tmp/d" 'status="revoked"'

# ---- restart on the same store and keystore, with the KMS down -------------------------------------
gms_stop
idms_stop "$KMS_PID" || fail "mcx-kms did not stop cleanly"
gms_start || { fail "GMS did not restart from its keystore without the KMS"; finish; exit 1; }
expect_eq "add dave after restart (unseals the GMK)" "$(gcurl a "$ADMIN_AT" POST \
    /groups/sip%3Afire-2%40fire.example/members '{"add":["sip:alice@fire.example"]}')" 200
expect_eq "alice's fire-2 document" \
    "$(gcurl d2 "$ALICE_AT" GET /groups/sip%3Afire-2%40fire.example)" 200
expect_in "alice has fire-2's GMK" "$tmp/d2" 'type="gmk"'
expect_eq "delete fire-2" "$(gcurl r "$ADMIN_AT" DELETE /groups/sip%3Afire-2%40fire.example)" 200
expect_eq "fire-2 gone" "$(gcurl r "$ALICE_AT" GET /groups/sip%3Afire-2%40fire.example)" 404
finish
