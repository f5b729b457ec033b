/* Master secrets sealed at rest (include/mcxsec/kms.h gives the file format): AES-256-GCM with the
 * whole header as additional data, under an argon2id key (RFC 9106, memory-hard, parameters in
 * the header) or a key from a separate key file. Files are checked for mode 0600 before use and
 * written atomically (temporary file, fsync, rename, fsync of the folder). */
#include <argon2.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/error_internal.h"
#include "kms/kms_internal.h"
#include "mcxsec/hex.h"
#include "mcxsec/mem.h"

#define MAGIC       "MCXKMSS1"
#define HDR_BYTES   56
#define SALT_BYTES  16
#define PT_BYTES    (MCX_KMS_KSAK_BYTES + MCX_KMS_ZSECRET_BYTES)
#define FILE_BYTES  (HDR_BYTES + PT_BYTES + KMS_TAG_BYTES)
#define MODE_PASS   1
#define MODE_KEY    2
#define SEAL_LABEL  "mcxsec kms seal v1"
#define KEYFILE_LEN (2 * MCX_KMS_FILE_KEY_BYTES + 1)

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

mcx_status mcx_kms_secrets_generate(mcx_kms_secrets **out)
{
    if (out == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS: NULL output");
    *out = NULL;
    mcx_kms_secrets *s = mcx_secure_alloc(sizeof *s);
    if (s == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "KMS: cannot allocate secure memory");
    mcx_status st = mcx_eccsi_kms_keygen(s->ksak, s->kpak);
    if (st == MCX_OK)
        st = mcx_sakke_kms_keygen(s->z, s->Z);
    if (st != MCX_OK) {
        mcx_secure_free(s);
        return st;
    }
    *out = s;
    return MCX_OK;
}

void mcx_kms_secrets_free(mcx_kms_secrets *s)
{
    mcx_secure_free(s);
}

/* Refuse a file that group or others may read or write: the secrets must be the owner's alone. */
static mcx_status check_private(int fd, const char *path, const char *what)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return MCX_FAIL(MCX_E_IO, "KMS: %s %s: %s", what, path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return MCX_FAIL(MCX_E_IO, "KMS: %s %s is not a regular file", what, path);
    if ((sb.st_mode & 077) != 0)
        return MCX_FAIL(MCX_E_DENIED, "KMS: %s %s has mode %04o; it must be 0600 (chmod 600)", what,
                        path, (unsigned)(sb.st_mode & 07777));
    return MCX_OK;
}

/* Read a small private file whole: at most cap octets (one more is an error). */
static mcx_status read_private(const char *path, const char *what, uint8_t *buf, size_t cap,
                               size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return MCX_FAIL(MCX_E_IO, "KMS: cannot open %s %s: %s", what, path, strerror(errno));
    mcx_status st = check_private(fd, path, what);
    size_t n = 0;
    while (st == MCX_OK) {
        /* up to cap octets into buf, then one probe octet that must not exist */
        uint8_t probe;
        int probing = n == cap;
        ssize_t r = probing ? read(fd, &probe, 1) : read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            st = MCX_FAIL(MCX_E_IO, "KMS: reading %s %s: %s", what, path, strerror(errno));
        else if (r == 0)
            break;
        else if (probing)
            st = MCX_FAIL(MCX_E_ENCODING, "KMS: %s %s is longer than %zu octets", what, path, cap);
        else
            n += (size_t)r;
    }
    close(fd);
    *len = n;
    return st;
}

/* fsync the folder holding path, so that a new or renamed entry survives a crash (a file's own
 * fsync does not cover its directory entry: fsync(2), POSIX). */
static mcx_status sync_dir_of(const char *path)
{
    char *dir = strdup(path);
    if (dir == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "KMS: out of memory");
    mcx_status st = MCX_OK;
    const char *d = dirname(dir);
    int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0)
        st = MCX_FAIL(MCX_E_IO, "KMS: syncing folder %s: %s", d, strerror(errno));
    if (dfd >= 0)
        close(dfd);
    free(dir);
    return st;
}

mcx_status kms_write_atomic(const char *path, const uint8_t *data, size_t len)
{
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 16);
    if (tmp == NULL) {
        return MCX_FAIL(MCX_E_NOMEM, "KMS: out of memory");
    }
    snprintf(tmp, pl + 16, "%s.tmp.XXXXXX", path);
    mcx_status st = MCX_OK;
    int fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0) {
        st = MCX_FAIL(MCX_E_IO, "KMS: cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            st = MCX_FAIL(MCX_E_IO, "KMS: writing %s: %s", tmp, strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    if (st == MCX_OK && (fchmod(fd, 0600) != 0 || fsync(fd) != 0))
        st = MCX_FAIL(MCX_E_IO, "KMS: syncing %s: %s", tmp, strerror(errno));
    if (close(fd) != 0 && st == MCX_OK)
        st = MCX_FAIL(MCX_E_IO, "KMS: closing %s: %s", tmp, strerror(errno));
    if (st == MCX_OK && rename(tmp, path) != 0)
        st = MCX_FAIL(MCX_E_IO, "KMS: cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (st != MCX_OK) {
        unlink(tmp);
        goto out;
    }
    /* the rename itself must reach the disk too: a failure is reported, not ignored (the caller
     * would otherwise believe the sealed secrets durable) */
    st = sync_dir_of(path);
out:
    free(tmp);
    return st;
}

/* The 32-octet key of a key file (64 hex digits, optional trailing newline). */
static mcx_status key_file_read(const char *path, uint8_t key[MCX_KMS_FILE_KEY_BYTES])
{
    uint8_t buf[KEYFILE_LEN + 1];
    size_t n = 0, klen = 0;
    mcx_status st = read_private(path, "key file", buf, sizeof buf, &n);
    if (st == MCX_OK) {
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
        buf[n] = 0;
        if (n != 2 * MCX_KMS_FILE_KEY_BYTES ||
            mcx_hex_decode((const char *)buf, key, MCX_KMS_FILE_KEY_BYTES, &klen) != MCX_OK ||
            klen != MCX_KMS_FILE_KEY_BYTES)
            st = MCX_FAIL(MCX_E_ENCODING, "KMS: key file %s must hold 64 hex digits", path);
    }
    mcx_memzero(buf, sizeof buf);
    return st;
}

/* Create a key file with a fresh key, or read the existing one. */
static mcx_status key_file_obtain(const char *path, uint8_t key[MCX_KMS_FILE_KEY_BYTES],
                                  int *created)
{
    *created = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno == EEXIST)
        return key_file_read(path, key);
    *created = 1;
    if (fd < 0)
        return MCX_FAIL(MCX_E_IO, "KMS: cannot create key file %s: %s", path, strerror(errno));
    char text[KEYFILE_LEN + 1];
    mcx_status st = mcx_random(key, MCX_KMS_FILE_KEY_BYTES);
    if (st == MCX_OK) {
        mcx_hex_encode(key, MCX_KMS_FILE_KEY_BYTES, text);
        text[KEYFILE_LEN - 1] = '\n';
        if (write(fd, text, KEYFILE_LEN) != KEYFILE_LEN || fsync(fd) != 0)
            st = MCX_FAIL(MCX_E_IO, "KMS: writing key file %s: %s", path, strerror(errno));
    }
    mcx_memzero(text, sizeof text);
    if (close(fd) != 0 && st == MCX_OK)
        st = MCX_FAIL(MCX_E_IO, "KMS: closing key file %s: %s", path, strerror(errno));
    /* the new file's directory entry must reach the disk too: secrets sealed under a key whose
     * file vanished in a crash could never be opened again */
    if (st == MCX_OK)
        st = sync_dir_of(path);
    if (st != MCX_OK)
        unlink(path);
    return st;
}

mcx_status mcx_kms_key_file_obtain(const char *path, uint8_t key[MCX_KMS_FILE_KEY_BYTES],
                                   int *created)
{
    int c = 0;
    if (path == NULL || key == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS: NULL key file or key");
    mcx_status st = key_file_obtain(path, key, &c);
    if (created != NULL)
        *created = st == MCX_OK && c;
    if (st != MCX_OK)
        mcx_memzero(key, MCX_KMS_FILE_KEY_BYTES);
    return st;
}

/* The AES key for a header (mode, costs, salt) and the unlock secret. */
static mcx_status derive_key(const uint8_t *hdr, const mcx_kms_unlock *u, uint8_t key[32])
{
    const uint8_t *salt = hdr + 24;
    if (hdr[8] == MODE_PASS) {
        uint32_t t = get32(hdr + 12), m = get32(hdr + 16), p = get32(hdr + 20);
        int rc =
            argon2id_hash_raw(t, m, p, u->passphrase, u->passphrase_len, salt, SALT_BYTES, key, 32);
        if (rc != ARGON2_OK)
            return MCX_FAIL(rc == ARGON2_MEMORY_ALLOCATION_ERROR ? MCX_E_NOMEM : MCX_E_INTERNAL,
                            "KMS: argon2id (t=%u, m=%u KiB, p=%u): %s", t, m, p,
                            argon2_error_message(rc));
        return MCX_OK;
    }
    uint8_t fk[MCX_KMS_FILE_KEY_BYTES], msg[sizeof SEAL_LABEL - 1 + SALT_BYTES];
    mcx_status st = key_file_read(u->key_file, fk);
    if (st == MCX_OK) {
        memcpy(msg, SEAL_LABEL, sizeof SEAL_LABEL - 1);
        memcpy(msg + sizeof SEAL_LABEL - 1, salt, SALT_BYTES);
        unsigned int olen = 0;
        if (HMAC(EVP_sha256(), fk, sizeof fk, msg, sizeof msg, key, &olen) == NULL || olen != 32)
            st = MCX_FAIL(MCX_E_INTERNAL, "KMS: HMAC-SHA256 failed");
    }
    mcx_memzero(fk, sizeof fk);
    return st;
}

static mcx_status check_unlock(const mcx_kms_unlock *u)
{
    if (u == NULL || (u->passphrase == NULL) == (u->key_file == NULL))
        return MCX_FAIL(MCX_E_ARG, "KMS: give exactly one of a passphrase and a key file");
    if (u->passphrase != NULL && u->passphrase_len == 0)
        return MCX_FAIL(MCX_E_ARG, "KMS: empty passphrase");
    return MCX_OK;
}

mcx_status mcx_kms_secrets_seal(const mcx_kms_secrets *s, const char *path,
                                const mcx_kms_unlock *unlock, const mcx_kms_kdf_params *kdf)
{
    if (s == NULL || path == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS: NULL secrets or path");
    MCX_GUARD(check_unlock(unlock));
    uint8_t file[FILE_BYTES], key[32];
    memset(file, 0, sizeof file);
    memcpy(file, MAGIC, 8);
    if (unlock->passphrase != NULL) {
        uint32_t t = kdf != NULL && kdf->t_cost ? kdf->t_cost : MCX_KMS_ARGON2_T_DEFAULT;
        uint32_t m = kdf != NULL && kdf->m_cost_kib ? kdf->m_cost_kib : MCX_KMS_ARGON2_M_DEFAULT;
        uint32_t p = kdf != NULL && kdf->lanes ? kdf->lanes : 1;
        if (t > 100 || p > 16 || m < 8 * p || m > 4u * 1024 * 1024)
            return MCX_FAIL(MCX_E_ARG, "KMS: argon2id costs out of range (t=%u, m=%u KiB, p=%u)", t,
                            m, p);
        file[8] = MODE_PASS;
        put32(file + 12, t);
        put32(file + 16, m);
        put32(file + 20, p);
    } else {
        file[8] = MODE_KEY;
        int created = 0;
        /* created now if missing; the key is read again by derive_key */
        mcx_status ko = key_file_obtain(unlock->key_file, key, &created);
        mcx_memzero(key, sizeof key); /* also a partly decoded key of a malformed file */
        MCX_GUARD(ko);
    }
    MCX_GUARD(mcx_random(file + 24, SALT_BYTES + KMS_NONCE_BYTES));
    put32(file + 52, PT_BYTES);
    mcx_status st = derive_key(file, unlock, key);
    if (st == MCX_OK) {
        uint8_t pt[PT_BYTES];
        memcpy(pt, s->ksak, MCX_KMS_KSAK_BYTES);
        memcpy(pt + MCX_KMS_KSAK_BYTES, s->z, MCX_KMS_ZSECRET_BYTES);
        st = kms_gcm_seal(key, file + 40, file, HDR_BYTES, pt, PT_BYTES, file + HDR_BYTES);
        mcx_memzero(pt, sizeof pt);
    }
    if (st == MCX_OK)
        st = kms_write_atomic(path, file, sizeof file);
    mcx_memzero(key, sizeof key);
    mcx_memzero(file, sizeof file);
    return st;
}

mcx_status mcx_kms_secrets_load(mcx_kms_secrets **out, const char *path,
                                const mcx_kms_unlock *unlock)
{
    if (out == NULL || path == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS: NULL output or path");
    *out = NULL;
    MCX_GUARD(check_unlock(unlock));
    uint8_t file[FILE_BYTES], key[32];
    size_t n = 0;
    MCX_GUARD(read_private(path, "secrets file", file, sizeof file, &n));
    if (n < 8 || memcmp(file, MAGIC, 8) != 0)
        return MCX_FAIL(MCX_E_ENCODING, "KMS: %s is not a sealed secrets file (bad magic)", path);
    if (n != FILE_BYTES || get32(file + 52) != PT_BYTES)
        return MCX_FAIL(MCX_E_ENCODING, "KMS: %s is %zu octets, expected %d", path, n, FILE_BYTES);
    if (file[8] != MODE_PASS && file[8] != MODE_KEY)
        return MCX_FAIL(MCX_E_ENCODING, "KMS: %s: unknown sealing mode %u", path, file[8]);
    if (file[8] == MODE_PASS && unlock->passphrase == NULL)
        return MCX_FAIL(MCX_E_ENCODING, "KMS: %s is sealed with a passphrase, not a key file",
                        path);
    if (file[8] == MODE_KEY && unlock->key_file == NULL)
        return MCX_FAIL(MCX_E_ENCODING, "KMS: %s is sealed with a key file, not a passphrase",
                        path);
    /* A header altered to absurd costs would make the KDF itself the attack: bound them before
     * running it (the tag check comes after). */
    if (file[8] == MODE_PASS &&
        (get32(file + 12) < 1 || get32(file + 12) > 100 || get32(file + 20) < 1 ||
         get32(file + 20) > 16 || get32(file + 16) > 4u * 1024 * 1024))
        return MCX_FAIL(MCX_E_ENCODING, "KMS: %s: argon2id costs out of range", path);
    mcx_kms_secrets *s = mcx_secure_alloc(sizeof *s);
    if (s == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "KMS: cannot allocate secure memory");
    uint8_t *pt = s->ksak; /* ksak and z are adjacent: decrypt straight into secure memory */
    mcx_status st = derive_key(file, unlock, key);
    if (st == MCX_OK) {
        st = kms_gcm_open(key, file + 40, file, HDR_BYTES, file + HDR_BYTES, PT_BYTES, pt);
        if (st == MCX_E_TAG_INVALID)
            st = MCX_FAIL(MCX_E_TAG_INVALID,
                          "KMS: %s does not open: wrong %s, or the file was altered", path,
                          file[8] == MODE_PASS ? "passphrase" : "key file");
    }
    if (st == MCX_OK)
        st = mcx_eccsi_kpak_from_ksak(s->ksak, s->kpak);
    if (st == MCX_OK)
        st = mcx_sakke_kms_pubkey(s->z, MCX_KMS_ZSECRET_BYTES, s->Z);
    mcx_memzero(key, sizeof key);
    mcx_memzero(file, sizeof file);
    if (st != MCX_OK) {
        mcx_secure_free(s);
        return st;
    }
    *out = s;
    return MCX_OK;
}

mcx_status mcx_kms_read_passphrase(const char *path, char **out, size_t *len)
{
    if (path == NULL || out == NULL || len == NULL)
        return MCX_FAIL(MCX_E_ARG, "KMS: NULL argument");
    *out = NULL;
    *len = 0;
    enum { CAP = 1024 };
    char *buf = mcx_secure_alloc(CAP + 2);
    if (buf == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "KMS: cannot allocate secure memory");
    size_t n = 0;
    mcx_status st = read_private(path, "passphrase file", (uint8_t *)buf, CAP, &n);
    if (st == MCX_OK) {
        if (n > 0 && buf[n - 1] == '\n')
            n--;
        if (n > 0 && buf[n - 1] == '\r')
            n--;
        buf[n] = '\0';
        if (n == 0)
            st = MCX_FAIL(MCX_E_ARG, "KMS: passphrase file %s is empty", path);
    }
    if (st != MCX_OK) {
        mcx_secure_free(buf);
        return st;
    }
    *out = buf;
    *len = n;
    return MCX_OK;
}
