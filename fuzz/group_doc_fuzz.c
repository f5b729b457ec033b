/* Fuzz target: arbitrary bytes through the group document parser (mcx_group_doc_parse,
 * include/mcxsec/group.h). Only documented statuses; an accepted document has a group URI, a GMS,
 * bounded members and keys, each key with a kind, an I_MESSAGE of at most MCX_GROUP_IMESSAGE_MAX
 * octets; whatever the parser gives is freed. */
#include <stdlib.h>
#include <string.h>

#include "mcxsec/group.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mcx_group_doc *d = NULL;
    mcx_status st = mcx_group_doc_parse(data, size, &d);
    if (st != MCX_OK) {
        if (d != NULL || (st != MCX_E_ENCODING && st != MCX_E_LENGTH && st != MCX_E_NOMEM))
            abort();
        return 0;
    }
    if (d == NULL || d->uri[0] == '\0' || d->gms[0] == '\0' ||
        d->n_members > MCX_KEYSTORE_MAX_MEMBERS || d->n_keys > MCX_GROUP_DOC_MAX_KEYS)
        abort();
    for (size_t i = 0; i < d->n_members; i++)
        if (d->members[i] == NULL || d->members[i][0] == '\0')
            abort();
    for (size_t i = 0; i < d->n_keys; i++)
        if ((unsigned)d->keys[i].kind > MCX_GROUP_KEY_KIND_MAX || d->keys[i].imessage == NULL ||
            d->keys[i].imessage_len == 0 || d->keys[i].imessage_len > MCX_GROUP_IMESSAGE_MAX)
            abort();
    mcx_group_doc_free(d);
    return 0;
}
