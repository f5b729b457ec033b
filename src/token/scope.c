/* Scope names (TS 33.180 Annex B.3/B.5; FACTS.md §13): the Rel-13 names "3gpp:mcptt:*_server"
 * and the newer "3gpp:mc:*_service" names denote the same scopes, so either is accepted and
 * mapped to the newer one. */
#include <string.h>

#include "mcxsec/token.h"

typedef struct scope_alias {
    const char *legacy;
    const char *canonical;
} scope_alias;

/* The MCPTT rows follow the Rel-13 scope values of TS 33.180 (3gpp:mcptt:ptt_server etc.).
 * The MCVideo and MCData Rel-13-style names below are NOT verified against the spec tables
 * (FACTS.md §13 marks them [UNVERIFIED]): they follow the MCPTT pattern so that a deployment
 * using them is not refused, and map onto the 3gpp:mc:video_* / data_* names. */
static const scope_alias aliases[] = {
    {"3gpp:mcptt:ptt_server", MCX_SCOPE_PTT_SERVICE},
    {"3gpp:mcptt:key_management_server", MCX_SCOPE_PTT_KMS},
    {"3gpp:mcptt:config_management_server", MCX_SCOPE_PTT_CMS},
    {"3gpp:mcptt:group_management_server", MCX_SCOPE_PTT_GMS},
    {"3gpp:mcvideo:video_server", MCX_SCOPE_VIDEO_SERVICE},
    {"3gpp:mcvideo:key_management_server", MCX_SCOPE_VIDEO_KMS},
    {"3gpp:mcvideo:config_management_server", MCX_SCOPE_VIDEO_CMS},
    {"3gpp:mcvideo:group_management_server", MCX_SCOPE_VIDEO_GMS},
    {"3gpp:mcdata:data_server", MCX_SCOPE_DATA_SERVICE},
    {"3gpp:mcdata:key_management_server", MCX_SCOPE_DATA_KMS},
    {"3gpp:mcdata:config_management_server", MCX_SCOPE_DATA_CMS},
    {"3gpp:mcdata:group_management_server", MCX_SCOPE_DATA_GMS},
};

static const char *const canonical_names[] = {
    MCX_SCOPE_OPENID,    MCX_SCOPE_PTT_SERVICE,   MCX_SCOPE_PTT_KMS,        MCX_SCOPE_PTT_CMS,
    MCX_SCOPE_PTT_GMS,   MCX_SCOPE_VIDEO_SERVICE, MCX_SCOPE_VIDEO_KMS,      MCX_SCOPE_VIDEO_CMS,
    MCX_SCOPE_VIDEO_GMS, MCX_SCOPE_DATA_SERVICE,  MCX_SCOPE_DATA_KMS,       MCX_SCOPE_DATA_CMS,
    MCX_SCOPE_DATA_GMS,  MCX_SCOPE_GMS_ADMIN,     MCX_SCOPE_GMS_DISPATCHER,
};

const char *mcx_scope_canonical(const char *scope)
{
    if (scope == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof canonical_names / sizeof canonical_names[0]; i++)
        if (strcmp(scope, canonical_names[i]) == 0)
            return canonical_names[i];
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(scope, aliases[i].legacy) == 0)
            return aliases[i].canonical;
    return NULL;
}
