/* The GMS's own identity keys (docs/gms.md): the GMS is a service identity at its KMS and
 * fetches its key sets like any client (TS 33.180 §5.2; include/mcxsec/provision.h), with the
 * access token of its service account; the refresh token keeps that token fresh. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/error_internal.h"
#include "gms/gms_internal.h"
#include "gms/server_internal.h"
#include "mcxsec/login.h"
#include "mcxsec/provision.h"

static int has_keys_for(mcx_gms *g, uint64_t ntp)
{
    const mcx_keystore_key_set *set = NULL;
    return mcx_keystore_get_key_set(g->keystore, g->identity, NULL, ntp, &set) == MCX_OK;
}

/* The next key period's start after now_ntp, from the pinned certificate (0: unknown). */
static uint64_t next_period_start(mcx_gms *g, uint64_t now_ntp)
{
    mcx_kms_cert kc;
    const mcx_keystore_key_set *set = NULL;
    if (mcx_keystore_mikey_view(g->keystore, g->identity, NULL, now_ntp, &kc, &set) != MCX_OK ||
        kc.key_period == 0)
        return 0;
    return ((now_ntp - kc.key_offset) / kc.key_period + 1) * kc.key_period + kc.key_offset;
}

static mcx_status access_token(const gms_config *cfg, mcx_tokens *t)
{
    MCX_GUARD(mcx_tokens_load(t, cfg->token_file));
    if (t->expires_at > (int64_t)time(NULL) + 60)
        return MCX_OK;
    if (t->refresh_token == NULL || t->issuer == NULL)
        return MCX_FAIL(MCX_E_DENIED,
                        "GMS: the access token in %s has expired and there is no "
                        "refresh token; log the GMS's service account in again",
                        cfg->token_file);
    mcx_login_params lp = {0};
    lp.idms_url = t->issuer;
    lp.client_id = cfg->client_id;
    lp.ca_file = cfg->ca_file;
    MCX_GUARD(mcx_login_refresh(&lp, t));
    return mcx_tokens_save(t, cfg->token_file);
}

#define NEXT_RETRY 600 /* seconds between attempts at the next period's key set */

mcx_status gms_identity_refresh(mcx_gms *g, const gms_config *cfg, uint64_t now_ntp,
                                uint64_t window, int *fetched)
{
    /* the KMS hands out the next period's key set only near the period's end (its own window):
     * until it does, ask again every NEXT_RETRY seconds, not at every call */
    if (fetched != NULL)
        *fetched = 0;
    pthread_mutex_lock(&g->keystore_lock);
    int have_now = has_keys_for(g, now_ntp);
    uint64_t next = have_now ? next_period_start(g, now_ntp) : 0;
    int need = !have_now || (next != 0 && next - now_ntp <= window && !has_keys_for(g, next) &&
                             now_ntp - g->last_next_try >= NEXT_RETRY);
    if (have_now && need)
        g->last_next_try = now_ntp;
    mcx_status st = MCX_OK;
    if (need && cfg->kms_url == NULL) {
        st = have_now ? MCX_OK
                      : MCX_FAIL(MCX_E_NO_KEY,
                                 "GMS: %s has no key set for the current key period and no "
                                 "\"kms_url\" to fetch one from",
                                 g->identity);
        need = 0;
    }
    if (need) {
        mcx_tokens t = {0};
        st = access_token(cfg, &t);
        if (st == MCX_OK) {
            mcx_provision_params pp = {0};
            pp.kms_url = cfg->kms_url;
            pp.user_uri = g->identity;
            pp.access_token = t.access_token;
            pp.ca_file = cfg->ca_file;
            pp.keystore = g->keystore;
            pp.now_ntp = now_ntp;
            mcx_provision_result res;
            st = mcx_client_provision(&pp, &res);
            if (st == MCX_OK && fetched != NULL)
                *fetched = 1;
            if (st == MCX_OK && !has_keys_for(g, now_ntp))
                st = MCX_FAIL(MCX_E_NO_KEY, "GMS: the KMS gave %s no key set for now", g->identity);
        }
        mcx_tokens_clear(&t);
        if (st != MCX_OK && have_now) {
            /* the current key set is held: the GMS works on; the next period is tried again */
            fprintf(stderr, "mcx-gms: WARNING: the next key period's key set: %s\n",
                    mcx_last_error());
            st = MCX_OK;
        }
    }
    pthread_mutex_unlock(&g->keystore_lock);
    return st;
}
