# idms.exchange: inter-domain access (TR 33.880 §7.7, RFC 8693) between two real daemons: a user of
# the primary IdMS "police" gets, through `mcx token exchange`, an access token of the partner
# IdMS "fire" (iss fire, mcx_home_iss police, scope cut down to what fire allows visitors). fire
# refuses a user on its deny list, an ID token made for another audience, the same ID token twice,
# and a third IdMS "ems" that has no partner entry for police refuses police's users altogether.
# usage: sh exchange_test.sh MCX IDMS TESTS_DIR sqlite|postgresql
# shellcheck shell=sh
. "$(dirname "$0")/idms_lib.sh"
idms_test_init "$@"
XT=urn:ietf:params:oauth:grant-type:token-exchange

# Each domain has its own certificate; clients trust all three.
for d in police fire ems; do idms_cert "$tmp" $d || exit 1; done
cat "$tmp/police.pem" "$tmp/fire.pem" "$tmp/ems.pem" >"$tmp/cas.pem"
fire_port=$(idms_free_port)
ems_port=$(idms_free_port)
fire_url=https://127.0.0.1:$fire_port
ems_url=https://127.0.0.1:$ems_port

idms_domain police "\"exchange_audiences\": [\"$fire_url\", \"$ems_url\"]" || { finish; exit 1; }
police_url=$DOM_URL
idms_start "$IDMS" "$DOM_CONF" "$tmp/police.log" || { fail "police did not start"; finish; exit 1; }
police_pid=$IDMS_PID
expect_eq "police /jwks" "$(curl -sS --cacert "$tmp/police.pem" -o "$tmp/police-jwks.json" \
    -w '%{http_code}' "$police_url/jwks")" 200

partner="{\"issuer\": \"$police_url\", \"jwks_file\": \"$tmp/police-jwks.json\",
    \"label\": \"police\", \"mc_id_domains\": [\"police.example\"],
    \"allow_users\": [\"*\"], \"deny_users\": [\"bob\"], \"scopes\": [\"3gpp:mc:ptt_service\"]}"
idms_domain fire "\"partners\": [$partner]" "$fire_port" || { finish; exit 1; }
idms_start "$IDMS" "$DOM_CONF" "$tmp/fire.log" || { fail "fire did not start"; finish; exit 1; }
idms_domain ems "" "$ems_port" || { finish; exit 1; }
idms_start "$IDMS" "$DOM_CONF" "$tmp/ems.log" || { fail "ems did not start"; finish; exit 1; }

# alice: login at home, then the exchange.
"$MCX" login --idms "$police_url" --user alice --password-file "$tmp/alice.pw" \
    --cacert "$tmp/cas.pem" >"$tmp/out" 2>"$tmp/err"
expect_rc "alice logs in at police" $? 0 "$tmp/err"
"$MCX" token exchange --partner "$fire_url" --cacert "$tmp/cas.pem" --as fire \
    >"$tmp/out" 2>"$tmp/err"
expect_rc "alice: mcx token exchange to fire" $? 0 "$tmp/err"
ff=$MCX_STATE_DIR/tokens-fire.json
fat=$($TOOL get "$ff" access_token 2>/dev/null)
$TOOL jwt "$fat" claims >"$tmp/fc" 2>/dev/null
expect_rc "fire access token decodes" $? 0
expect_eq "fire token iss" "$($TOOL get "$tmp/fc" iss)" "$fire_url"
expect_eq "fire token mcx_home_iss" "$($TOOL get "$tmp/fc" mcx_home_iss)" "$police_url"
# A visitor's sub is qualified with the partner entry's label: never the same as a local user's.
expect_eq "fire token sub" "$($TOOL get "$tmp/fc" sub)" alice@police
expect_eq "fire token mcx_home_sub" "$($TOOL get "$tmp/fc" mcx_home_sub)" alice
expect_eq "fire token MCPTT ID is the home one" "$($TOOL get "$tmp/fc" mcptt_id)" \
    sip:alice@police.example
# The scope: the partner's allowed one, nothing of the home token's video/data scopes.
scope=$($TOOL get "$tmp/fc" scope)
expect_in "fire scope has ptt_service" "$tmp/fc" 3gpp:mc:ptt_service
for s in $scope; do
    case "$s" in
    3gpp:mc:ptt_service | openid) ;;
    *) fail "fire granted a scope it does not allow visitors: $s" ;;
    esac
done
checks=$((checks + 1))
# ...and it is signed by a key fire publishes, not police's.
fkid=$($TOOL jwt "$fat" header | $TOOL get - kid)
curl -sS --cacert "$tmp/fire.pem" -o "$tmp/fire-jwks.json" "$fire_url/jwks"
$TOOL jwk "$tmp/fire-jwks.json" "$fkid" >/dev/null || fail "fire token kid $fkid not in fire's /jwks"
checks=$((checks + 1))
if $TOOL jwk "$tmp/police-jwks.json" "$fkid" >/dev/null; then fail "fire token signed by police"; fi

# bob is on fire's deny list: his exchange fails and writes no token.
"$MCX" login --idms "$police_url" --user bob --password-file "$tmp/bob.pw" \
    --cacert "$tmp/cas.pem" --label bob >"$tmp/out" 2>"$tmp/err"
expect_rc "bob logs in at police" $? 0 "$tmp/err"
"$MCX" token exchange --partner "$fire_url" --cacert "$tmp/cas.pem" --label bob \
    --as bobfire >"$tmp/out" 2>"$tmp/err"
rc=$?
checks=$((checks + 1))
[ "$rc" -ne 0 ] || fail "bob (denied at fire) got a fire token"
checks=$((checks + 1))
[ ! -e "$MCX_STATE_DIR/tokens-bobfire.json" ] || fail "a refused exchange wrote a token file"

# By hand (curl): alice's access token for an ID token addressed to fire (RFC 8693 §2.1).
aat=$($TOOL get "$MCX_STATE_DIR/tokens.json" access_token)
idt_for() { # AUDIENCE OUT -> $tmp/OUT (the ID token, RFC 8693 §2.2.1 "access_token"); prints
    # the HTTP status
    hcurl xo --cacert "$tmp/cas.pem" "$police_url/token" \
        --data-urlencode "grant_type=$XT" --data-urlencode "client_id=mcx-cli" \
        --data-urlencode "subject_token=$aat" \
        --data-urlencode "subject_token_type=urn:ietf:params:oauth:token-type:access_token" \
        --data-urlencode "requested_token_type=urn:ietf:params:oauth:token-type:id_token" \
        --data-urlencode "audience=$1"
    $TOOL get "$tmp/xo" access_token >"$tmp/$2" 2>/dev/null
}
present() { # ID_TOKEN_FILE URL -> prints the HTTP status; body in $tmp/po
    hcurl po --cacert "$tmp/cas.pem" "$2/token" \
        --data-urlencode "grant_type=$XT" --data-urlencode "client_id=mcx-cli" \
        --data-urlencode "subject_token=$(cat "$1")" \
        --data-urlencode "subject_token_type=urn:ietf:params:oauth:token-type:id_token"
}
expect_eq "police issues an ID token for fire" "$(idt_for "$fire_url" idt)" 200
expect_eq "  issued_token_type" "$($TOOL get "$tmp/xo" issued_token_type)" \
    urn:ietf:params:oauth:token-type:id_token
$TOOL jwt "$(cat "$tmp/idt")" claims >"$tmp/idc"
expect_eq "that ID token's aud" "$($TOOL get "$tmp/idc" aud)" "$fire_url"
expect_in "that ID token carries the home grant's scope" "$tmp/idc" '"scope"'
expect_in "  with openid" "$tmp/idc" openid
expect_eq "police refuses an audience it does not serve" \
    "$(idt_for "https://127.0.0.1:1/not-a-partner" idt-none)" 400
expect_not_in "no token for an unknown audience" "$tmp/xo" '"access_token"'

expect_eq "fire accepts the ID token once" "$(present "$tmp/idt" "$fire_url")" 200
expect_in "fire's answer has a token" "$tmp/po" '"access_token"'
expect_eq "fire refuses the same ID token again (replay)" "$(present "$tmp/idt" "$fire_url")" 400
expect_in "replay: invalid_grant" "$tmp/po" '"invalid_grant"'
expect_not_in "replay: no token" "$tmp/po" '"access_token"'

# An ID token for another audience (ems) presented at fire.
expect_eq "police issues an ID token for ems" "$(idt_for "$ems_url" idt-ems)" 200
expect_eq "fire refuses an ID token for ems" "$(present "$tmp/idt-ems" "$fire_url")" 400
expect_in "wrong audience: invalid_grant" "$tmp/po" '"invalid_grant"'
# The login ID token (aud mcx-cli) is not for fire either.
$TOOL get "$MCX_STATE_DIR/tokens.json" id_token >"$tmp/idt-login"
expect_eq "fire refuses the login ID token" "$(present "$tmp/idt-login" "$fire_url")" 400
expect_not_in "login ID token: no token" "$tmp/po" '"access_token"'
# The access token itself is not an ID token (typ at+jwt, RFC 9068 §2.1).
printf '%s' "$aat" >"$tmp/aat"
expect_eq "fire refuses an access token as ID token" "$(present "$tmp/aat" "$fire_url")" 400

# ems has no partner entry for police: the ID token made for it is refused there.
expect_eq "ems (no trust in police) refuses" "$(present "$tmp/idt-ems" "$ems_url")" 400
expect_not_in "ems: no token" "$tmp/po" '"access_token"'
"$MCX" token exchange --partner "$ems_url" --cacert "$tmp/cas.pem" --as ems \
    >"$tmp/out" 2>"$tmp/err"
rc=$?
checks=$((checks + 1))
[ "$rc" -ne 0 ] || fail "mcx token exchange to ems (no trust) succeeded"

finish
