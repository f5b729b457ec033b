/* GMS keys at rest: AES-256-GCM under the GMS storage key (docs/gms.md), a fresh 96-bit nonce
 * each time (NIST SP 800-38D §8.2.2; the core's AES-GCM, mikey/aead_internal.h), and the row's
 * identity (group, context, key type) as associated data so that a sealed key moved to another row
 * does not open. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error_internal.h"
#include "gms/gms_internal.h"
#include "mikey/aead_internal.h"
#include "mcxsec/mem.h"

#define SEAL_LABEL "mcxsec gms key v1"

static size_t seal_aad(const gms_context *c, const char *type, uint8_t *aad, size_t cap)
{
    size_t gl = strlen(c->group), tl = strlen(type);
    size_t n = sizeof SEAL_LABEL + gl + 1 + 8 + tl;
    if (n > cap)
        return 0;
    uint8_t *p = aad;
    memcpy(p, SEAL_LABEL, sizeof SEAL_LABEL); /* with its NUL: a separator */
    p += sizeof SEAL_LABEL;
    memcpy(p, c->group, gl + 1);
    p += gl + 1;
    for (int i = 7; i >= 0; i--)
        *p++ = (uint8_t)(c->context >> (8 * i));
    memcpy(p, type, tl);
    return n;
}

mcx_status gms_seal(const mcx_gms *g, const gms_context *c, const gms_key *k, uint8_t *out,
                    size_t *out_len)
{
    uint8_t aad[sizeof SEAL_LABEL + MCX_GMS_ID_MAX + 16], plain[2 * GMS_KEY_BYTES];
    size_t aad_len = seal_aad(c, k->type, aad, sizeof aad);
    if (aad_len == 0)
        return MCX_FAIL(MCX_E_ARG, "GMS: group ID too long");
    MCX_GUARD(mcx_random(out, GMS_SEAL_NONCE));
    memcpy(plain, k->key, GMS_KEY_BYTES);
    memcpy(plain + GMS_KEY_BYTES, k->pseudonym, MCX_GROUP_PSEUDONYM_BYTES);
    mcx_status st = mcx_gcm_seal("GMS", g->storage_key, MCX_GMS_STORAGE_KEY_LEN, out,
                                 GMS_SEAL_NONCE, aad, aad_len, plain, sizeof plain,
                                 out + GMS_SEAL_NONCE, out + GMS_SEAL_NONCE + sizeof plain);
    mcx_memzero(plain, sizeof plain);
    if (st == MCX_OK)
        *out_len = GMS_SEAL_MAX;
    return st;
}

mcx_status gms_unseal(const mcx_gms *g, const gms_context *c, gms_key *k, const uint8_t *in,
                      size_t in_len)
{
    if (in_len != GMS_SEAL_MAX)
        return MCX_FAIL(MCX_E_ENCODING, "GMS: a sealed %s of %s is %zu octets, expected %d",
                        k->type, c->group, in_len, GMS_SEAL_MAX);
    uint8_t aad[sizeof SEAL_LABEL + MCX_GMS_ID_MAX + 16], plain[2 * GMS_KEY_BYTES];
    size_t aad_len = seal_aad(c, k->type, aad, sizeof aad);
    if (aad_len == 0)
        return MCX_FAIL(MCX_E_ARG, "GMS: group ID too long");
    mcx_status st = mcx_gcm_open("GMS", g->storage_key, MCX_GMS_STORAGE_KEY_LEN, in, GMS_SEAL_NONCE,
                                 aad, aad_len, in + GMS_SEAL_NONCE, sizeof plain,
                                 in + GMS_SEAL_NONCE + sizeof plain, plain);
    if (st == MCX_E_TAG_INVALID)
        st = MCX_FAIL(MCX_E_TAG_INVALID,
                      "GMS: the sealed %s of %.200s does not open under the "
                      "storage key (wrong key file, or an altered row)",
                      k->type, c->group);
    if (st == MCX_OK) {
        memcpy(k->key, plain, GMS_KEY_BYTES);
        memcpy(k->pseudonym, plain + GMS_KEY_BYTES, MCX_GROUP_PSEUDONYM_BYTES);
    }
    mcx_memzero(plain, sizeof plain);
    return st;
}

mcx_status mcx_gms_storage_key_load(const char *path, int create,
                                    uint8_t key[MCX_GMS_STORAGE_KEY_LEN])
{
    if (path == NULL || key == NULL)
        return MCX_FAIL(MCX_E_ARG, "GMS storage key: NULL argument");
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT && create) {
        /* a new key: written to a temporary file first, so a crash leaves no short key file */
        char tmp[4096];
        if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
            return MCX_FAIL(MCX_E_ARG, "GMS storage key: path too long");
        MCX_GUARD(mcx_random(key, MCX_GMS_STORAGE_KEY_LEN));
        int w = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        int ok = w >= 0 && write(w, key, MCX_GMS_STORAGE_KEY_LEN) == MCX_GMS_STORAGE_KEY_LEN &&
                 fsync(w) == 0;
        if (w >= 0)
            close(w);
        if (!ok || link(tmp, path) != 0) {
            int e = errno;
            unlink(tmp);
            mcx_memzero(key, MCX_GMS_STORAGE_KEY_LEN);
            return MCX_FAIL(MCX_E_IO, "GMS storage key: cannot create %s: %s", path, strerror(e));
        }
        unlink(tmp); /* link() refuses to replace a key another process made meanwhile */
        return MCX_OK;
    }
    if (fd < 0)
        return MCX_FAIL(errno == ENOENT ? MCX_E_NOT_FOUND : MCX_E_IO,
                        "GMS storage key: cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return MCX_FAIL(MCX_E_IO, "GMS storage key: %s is not a regular file", path);
    }
    if ((sb.st_mode & 077) != 0) {
        close(fd);
        return MCX_FAIL(MCX_E_DENIED,
                        "GMS storage key: %s is open to others (mode %03o); chmod "
                        "600 it",
                        path, (unsigned)(sb.st_mode & 0777));
    }
    uint8_t buf[MCX_GMS_STORAGE_KEY_LEN + 1];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n != MCX_GMS_STORAGE_KEY_LEN) {
        mcx_memzero(buf, sizeof buf);
        return MCX_FAIL(MCX_E_LENGTH, "GMS storage key: %s holds %zd octets, expected %d", path, n,
                        MCX_GMS_STORAGE_KEY_LEN);
    }
    memcpy(key, buf, MCX_GMS_STORAGE_KEY_LEN);
    mcx_memzero(buf, sizeof buf);
    return MCX_OK;
}
