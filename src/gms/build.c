/* The I_MESSAGEs of a context (TS 33.179 §7.3.1, TS 33.180 E.2-E.6): for every member and key,
 * the key SAKKE-encrypted to the member's UID for the key period at T and signed with the GMS's
 * own SSK, with one RAND for all (TS 33.180 §7.4.2: the members' SRTP keys derive from it) and
 * the key parameters (E.6) naming the group. SAKKE encapsulation to a new identity dominates, so
 * members are split across threads, each with its own MIKEY builder. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error_internal.h"
#include "gms/gms_internal.h"
#include "mcxsec/hex.h"
#include "mcxsec/keyparams.h"
#include "mcxsec/mem.h"

typedef struct build_job {
    mcx_gms *g;
    const gms_context *c;
    const mcx_key_params *params; /* one per key */
    const char *const *members;
    size_t from, to; /* members[from..to) */
    uint64_t t_ntp;
    gms_message *msgs;
    mcx_status st;
    char why[256];
} build_job;

/* The builder for the GMS key set in force at t_ntp (the keystore is shared: locked). */
static mcx_status gms_builder(mcx_gms *g, uint64_t t_ntp, mcx_mikey_builder **b)
{
    pthread_mutex_lock(&g->keystore_lock);
    mcx_kms_cert kms;
    const mcx_keystore_key_set *set = NULL;
    mcx_status st = mcx_keystore_mikey_view(g->keystore, g->identity, NULL, t_ntp, &kms, &set);
    if (st == MCX_OK)
        st = mcx_mikey_builder_new(b, &kms, g->identity, set->uid, set->period_no, set->ssk,
                                   set->pvt);
    else
        st = MCX_FAIL(st == MCX_E_NO_KEY ? MCX_E_NO_KEY : st,
                      "GMS: no key set of %s for the current key period (%s); fetch the GMS's "
                      "keys from the KMS",
                      g->identity, mcx_last_error());
    pthread_mutex_unlock(&g->keystore_lock);
    return st;
}

static void *build_range(void *arg)
{
    build_job *j = arg;
    mcx_mikey_builder *b = NULL;
    j->st = gms_builder(j->g, j->t_ntp, &b);
    uint8_t buf[MCX_MIKEY_MAX_BYTES];
    for (size_t i = j->from; i < j->to && j->st == MCX_OK; i++) {
        for (size_t k = 0; k < j->c->n_keys && j->st == MCX_OK; k++) {
            const gms_key *key = &j->c->keys[k];
            mcx_mikey_build_args a = {0};
            a.type = key->tag;
            a.key = key->key;
            a.key_len = GMS_KEY_BYTES;
            a.key_id = key->key_id;
            a.receiver_uri = j->members[i];
            a.params = &j->params[k];
            a.rand = j->c->rand;
            a.rand_len = GMS_RAND_BYTES;
            a.t_ntp = j->t_ntp;
            a.cs_id = -1;
            a.idr_style = MCX_IDR_STYLE_UID;
            size_t len = 0;
            j->st = mcx_mikey_build(b, &a, buf, sizeof buf, &len);
            if (j->st != MCX_OK) {
                snprintf(j->why, sizeof j->why, "GMS: the %s I_MESSAGE for %.100s: %s", key->type,
                         j->members[i], mcx_last_error());
                break;
            }
            gms_message *m = &j->msgs[i * j->c->n_keys + k];
            m->p = malloc(len);
            if (m->p == NULL) {
                j->st = MCX_E_NOMEM;
                snprintf(j->why, sizeof j->why, "GMS: out of memory");
                break;
            }
            memcpy(m->p, buf, len);
            m->len = len;
        }
    }
    if (j->st != MCX_OK && j->why[0] == '\0')
        snprintf(j->why, sizeof j->why, "%s", mcx_last_error());
    mcx_mikey_builder_free(b);
    return NULL;
}

/* The key parameters (TS 33.180 E.6) of one key: active, its times, the group ID (IEI 0x7b as
 * deployed GMSs write it, FORMATS §5) and, for a GMK, the explicit pseudonym in the text. */
static mcx_status key_params(const gms_context *c, const gms_key *k, mcx_key_params *kp)
{
    memset(kp, 0, sizeof *kp);
    kp->key_type = (uint8_t)k->tag;
    kp->status = MCX_KP_STATUS_ACTIVE;
    kp->activation = k->activation;
    kp->expiry = k->expiry;
    char text[MCX_KP_TEXT_MAX] = "";
    int n;
    if (strcmp(k->type, "gmk") == 0) {
        char hex[2 * MCX_GROUP_PSEUDONYM_BYTES + 1];
        mcx_hex_encode(k->pseudonym, MCX_GROUP_PSEUDONYM_BYTES, hex);
        n = snprintf(text, sizeof text, "pseudonym=%s", hex);
    } else if (strcmp(k->type, "gdk") == 0) {
        n = snprintf(text, sizeof text, "purpose=gdk");
    } else {
        n = 0;
    }
    memcpy(kp->text, text, (size_t)n);
    kp->text_len = (uint16_t)n;
    size_t gl = strlen(c->group);
    if (gl > MCX_KP_GROUP_ID_MAX)
        return MCX_FAIL(MCX_E_ARG, "GMS: group ID longer than %d octets", MCX_KP_GROUP_ID_MAX);
    kp->has_groups = 1;
    kp->n_groups = 1;
    kp->groups[0].iei = MCX_KP_IEI_GROUP_ID;
    kp->groups[0].len = (uint16_t)gl;
    memcpy(kp->groups[0].id, c->group, gl);
    return MCX_OK;
}

mcx_status gms_build_messages(mcx_gms *g, const gms_context *c, const char *const *members,
                              size_t n_members, uint64_t t_ntp, gms_message *msgs)
{
    mcx_key_params params[GMS_KEY_TYPES];
    for (size_t k = 0; k < c->n_keys; k++)
        MCX_GUARD(key_params(c, &c->keys[k], &params[k]));
    memset(msgs, 0, n_members * c->n_keys * sizeof *msgs);
    unsigned nt = g->threads;
    if (nt > n_members)
        nt = n_members > 0 ? (unsigned)n_members : 1;
    build_job jobs[16];
    pthread_t tid[16];
    int started[16] = {0};
    if (nt > 16)
        nt = 16;
    for (unsigned t = 0; t < nt; t++) {
        jobs[t] =
            (build_job){g,     c,    params, members, n_members * t / nt, n_members * (t + 1) / nt,
                        t_ntp, msgs, MCX_OK, ""};
        /* the calling thread takes the last share itself */
        if (t + 1 < nt)
            started[t] = pthread_create(&tid[t], NULL, build_range, &jobs[t]) == 0;
        if (t + 1 < nt && !started[t])
            build_range(&jobs[t]);
    }
    build_range(&jobs[nt - 1]);
    mcx_status st = MCX_OK;
    for (unsigned t = 0; t < nt; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
    }
    for (unsigned t = 0; t < nt && st == MCX_OK; t++)
        if (jobs[t].st != MCX_OK)
            st = MCX_FAIL(jobs[t].st, "%s", jobs[t].why);
    if (st != MCX_OK)
        gms_messages_free(msgs, n_members * c->n_keys);
    return st;
}

void gms_messages_free(gms_message *msgs, size_t n)
{
    for (size_t i = 0; msgs != NULL && i < n; i++) {
        free(msgs[i].p);
        msgs[i].p = NULL;
        msgs[i].len = 0;
    }
}
