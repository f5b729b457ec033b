/* The keystore and token helpers of the mcx key commands (cli_keys.h). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_keys.h"
#include "mcxsec/mem.h"
#include "mcxsec/token.h"

int cli_open_keystore(cli_ctx *ctx, unsigned flags, char *path, size_t cap, mcx_keystore **ks)
{
    mcx_status s;
    if (cli_has(ctx, "keystore"))
        snprintf(path, cap, "%s", cli_str(ctx, "keystore"));
    else if ((s = mcx_keystore_default_path(path, cap)) != MCX_OK)
        return cli_fail(ctx, s, "keystore path");
    char *pw = NULL;
    if (cli_has(ctx, "passphrase-file")) {
        int rc = cli_read_password(ctx, "passphrase-file", "Keystore passphrase", 0, &pw);
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    s = mcx_keystore_open(ks, path, pw, pw != NULL ? strlen(pw) : 0, flags);
    mcx_secure_free(pw);
    if (s != MCX_OK)
        return cli_fail(ctx, s, "keystore");
    return CLI_EXIT_OK;
}

char *cli_token_mcptt_id(const char *jwt)
{
    json_t *h = NULL, *c = NULL;
    char *id = NULL;
    if (jwt != NULL && mcx_jwt_decode_unverified(jwt, &h, &c) == MCX_OK) {
        const char *v = json_string_value(json_object_get(c, "mcptt_id"));
        if (v != NULL)
            id = strdup(v);
    }
    json_decref(h);
    json_decref(c);
    return id;
}
