/* token_tool: the token module driven from the shell for the interop test with `jose`.
 *
 *   token_tool sign KIND CLAIMS_JSON JWK_OUT    new P-256 key; prints the JWT, writes its public
 * JWK token_tool verify KIND JWT_FILE JWKS_FILE ISS AUD [SCOPE] verifies now; prints "ok sub=...
 * scope=..." or "STATUS reason" and exits 1 KIND is "access" or "id". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcxsec/token.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return strdup(buf);
}

static mcx_token_kind kind_of(const char *s)
{
    if (strcmp(s, "access") == 0)
        return MCX_TOKEN_ACCESS;
    if (strcmp(s, "id") == 0)
        return MCX_TOKEN_ID;
    fprintf(stderr, "token_tool: kind must be access or id\n");
    exit(2);
}

static int do_sign(char **argv)
{
    json_error_t e;
    json_t *claims = json_loads(argv[3], 0, &e);
    if (claims == NULL) {
        fprintf(stderr, "token_tool: claims: %s\n", e.text);
        return 2;
    }
    mcx_signing_key *k = NULL;
    char *jwt = NULL;
    if (mcx_signing_key_generate(&k) != MCX_OK ||
        mcx_jwt_sign(k, kind_of(argv[2]), claims, &jwt) != MCX_OK) {
        fprintf(stderr, "token_tool: %s\n", mcx_last_error());
        return 1;
    }
    json_t *jwk = mcx_signing_key_public_jwk(k);
    if (jwk == NULL || json_dump_file(jwk, argv[4], JSON_COMPACT) != 0) {
        fprintf(stderr, "token_tool: cannot write %s\n", argv[4]);
        return 1;
    }
    printf("%s\n", jwt);
    free(jwt);
    json_decref(jwk);
    json_decref(claims);
    mcx_signing_key_free(k);
    return 0;
}

static int do_verify(int argc, char **argv)
{
    char *jwt = slurp(argv[3]), *jwks = slurp(argv[4]);
    mcx_token_verifier_config cfg = {
        .issuer = argv[5], .audience = argv[6], .kind = kind_of(argv[2]), .jwks_json = jwks};
    mcx_token_verifier *v = NULL;
    mcx_token_claims c;
    mcx_status st = mcx_token_verifier_new(&v, &cfg);
    if (st == MCX_OK)
        st = mcx_token_verify(v, jwt, argc > 7 ? argv[7] : NULL, (int64_t)time(NULL), &c);
    if (st == MCX_OK)
        printf("ok sub=%s scope=%s\n", c.sub, c.scope);
    else
        printf("%s %s\n", mcx_status_name(st), mcx_last_error());
    mcx_token_verifier_free(v);
    free(jwt);
    free(jwks);
    return st == MCX_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "sign") == 0)
        return do_sign(argv);
    if ((argc == 7 || argc == 8) && strcmp(argv[1], "verify") == 0)
        return do_verify(argc, argv);
    fprintf(stderr, "usage: token_tool sign KIND CLAIMS_JSON JWK_OUT\n"
                    "       token_tool verify KIND JWT_FILE JWKS_FILE ISS AUD [SCOPE]\n");
    return 2;
}
