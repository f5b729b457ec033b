/* g^r for SAKKE encapsulation (RFC 6508 §6.2.1 step 3) with a fixed-base table.
 *
 * g is an element of PF_p; as an element of F_p^2 it is 1 + g i (RFC 6508 §2.1). Every table entry
 * (1 + g i)^(d 2^(W j)) is kept normalised as 1 + t i (a factor in F_p does not change the PF_p
 * value), so a step multiplies by a sparse element: 2M. A negative digit uses the conjugate 1 - t
 * i, which represents the inverse in PF_p; so does the q - k trick of the recoding, since (1 + g
 * i)^q lies in F_p. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/ct_internal.h"
#include "common/error_internal.h"
#include "crypto/sakke_pairing_internal.h"
#include "mcxsec/mem.h"

#define P         (&sakke_p)
#define G_ENTRIES (EC_TABLE_WINS * EC_TABLE_ODD)

static fp *g_table; /* g_table[i * ODD + j] = t with 1 + t i ~ (1 + g i)^((2j+1) 2^(W i)) */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void g_table_init(void)
{
    sakke_params_init();
    fp2 *e = malloc(sizeof(fp2) * G_ENTRIES);
    fp *prod = malloc(sizeof(fp) * G_ENTRIES);
    fp *tab = malloc(sizeof(fp) * G_ENTRIES);
    if (e == NULL || prod == NULL || tab == NULL) {
        free(e);
        free(prod);
        free(tab);
        return;
    }
    fp2 b;
    b.a = sakke_p.one;
    b.b = sakke_g;
    for (int i = 0; i < EC_TABLE_WINS; i++) {
        fp2 b2;
        fp2_sqr(&b2, &b);
        e[i * EC_TABLE_ODD] = b;
        for (int j = 1; j < EC_TABLE_ODD; j++)
            fp2_mul(&e[i * EC_TABLE_ODD + j], &e[i * EC_TABLE_ODD + j - 1], &b2);
        for (int k = 0; k < EC_TABLE_W; k++)
            fp2_sqr(&b, &b);
    }
    /* t = b / a for every entry, with one inversion (public values) */
    prod[0] = e[0].a;
    for (int i = 1; i < G_ENTRIES; i++)
        fp_mul(&prod[i], &prod[i - 1], &e[i].a, P);
    fp inv;
    fp_inv(&inv, &prod[G_ENTRIES - 1], P);
    for (int i = G_ENTRIES - 1; i >= 0; i--) {
        fp ai;
        if (i > 0) {
            fp_mul(&ai, &inv, &prod[i - 1], P);
            fp_mul(&inv, &inv, &e[i].a, P);
        } else {
            ai = inv;
        }
        fp_mul(&tab[i], &e[i].b, &ai, P);
    }
    free(e);
    free(prod);
    g_table = tab;
}

mcx_status sakke_g_pow_fp2(fp2 *f, const fp *r)
{
    pthread_once(&g_once, g_table_init);
    if (g_table == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "SAKKE: out of memory for the table of g");
    recoded rc;
    MCX_GUARD(ec_recode(&rc, r));
    for (int i = 0; i < EC_TABLE_WINS; i++) {
        uint64_t negative;
        unsigned idx = ec_recode_digit(&rc, i, &negative);
        fp t, nt;
        ec_ct_lookup(t.v, g_table[i * EC_TABLE_ODD].v, EC_TABLE_ODD, FP_LIMBS, idx);
        fp_neg(&nt, &t, P);
        fp_cmov(&t, &nt, negative);
        if (i == 0) {
            f->a = sakke_p.one;
            f->b = t;
        } else {
            /* (a + b i)(1 + t i) = (a - b t) + (b + a t) i */
            fp bt, at;
            fp_mul(&bt, &f->b, &t, P);
            fp_mul(&at, &f->a, &t, P);
            fp_sub(&f->a, &f->a, &bt, P);
            fp_add(&f->b, &f->b, &at, P);
            mcx_memzero(&bt, sizeof bt);
            mcx_memzero(&at, sizeof at);
        }
        mcx_memzero(&t, sizeof t); /* selected by the secret exponent's digit */
        mcx_memzero(&nt, sizeof nt);
    }
    mcx_memzero(&rc, sizeof rc);
    return MCX_OK;
}

mcx_status sakke_g_pow(fp *out, const fp *r)
{
    fp2 f;
    MCX_GUARD(sakke_g_pow_fp2(&f, r));
    mcx_status st = fp2_to_pfp(out, &f);
    mcx_memzero(&f, sizeof f);
    return st;
}
