/* The encrypted envelope of one version of a group activity (see
 * envelope.h and plugins/groups/README.md, "The envelope"). */
#include "envelope.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

/* Domains: the content AAD and the wrap AAD start with these and their NUL;
 * the HKDF info is the wrap domain without its NUL. */
#define CONTENT_DOMAIN "cairn.groups.content/1"
#define WRAP_DOMAIN "cairn.groups.wrap/1"
#define CONTENT_AAD_LEN (sizeof CONTENT_DOMAIN + 64 + 8)
#define WRAP_AAD_LEN (sizeof WRAP_DOMAIN + 64 + 8 + 32 + 40)

#define KEY_FILE_MAX 16384  /* a PEM X25519 key is about 120 bytes */
#define GCM_CHUNK (1 << 30) /* EVP lengths are ints */

/* ---- small helpers ---------------------------------------------------- */

static char *
openssl_why (void)
{
  unsigned long e = ERR_get_error ();
  char buf[256];
  if (e == 0)
    return g_strdup ("no OpenSSL error reported");
  ERR_error_string_n (e, buf, sizeof buf);
  ERR_clear_error ();
  return g_strdup (buf);
}

static void
set_openssl_error (GError **error, const char *what)
{
  g_autofree char *why = openssl_why ();
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s failed: %s", what,
               why);
}

static gboolean
is_hex (const char *s, size_t len)
{
  if (s == NULL || strlen (s) != len)
    return FALSE;
  for (size_t i = 0; i < len; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return FALSE;
  return TRUE;
}

/* A recipient address: 40 lowercase hex then NUL, within its 41 bytes. */
static gboolean
is_addr (const char addr[41])
{
  return memchr (addr, '\0', 41) != NULL && is_hex (addr, 40);
}

static int
hex_nibble (char c)
{
  return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* s is known to be 2n lowercase hex chars. */
static void
unhex (const char *s, uint8_t *out, size_t n)
{
  for (size_t i = 0; i < n; i++)
    out[i] = (uint8_t)(hex_nibble (s[2 * i]) << 4 | hex_nibble (s[2 * i + 1]));
}

void
grp_hex (const uint8_t *in, size_t n, char *out)
{
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

static void
be32_put (uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t
be32_get (const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8
         | p[3];
}

static void
be64_put (uint8_t *p, uint64_t v)
{
  be32_put (p, (uint32_t)(v >> 32));
  be32_put (p + 4, (uint32_t)v);
}

static gboolean
sha256 (const void *data, size_t len, uint8_t out[32])
{
  return EVP_Digest (data, len, out, NULL, EVP_sha256 (), NULL) == 1;
}

static int
cmp_addr (const void *a, const void *b)
{
  return strcmp (((const GrpRecipient *)a)->addr,
                 ((const GrpRecipient *)b)->addr);
}

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

/* ---- primitives -------------------------------------------------------- */

/* AES-256-GCM of len bytes (in may be NULL when len is 0). Returns 1, 0
 * when decrypting and the tag does not match, -1 when OpenSSL fails. */
static int
gcm (gboolean enc, const uint8_t key[32], const uint8_t iv[GRP_NONCE],
     const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
     uint8_t *out, uint8_t tag[GRP_TAG])
{
  uint8_t fin[32];
  int n = 0, rc = -1;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new ();

  if (ctx == NULL)
    return -1;
  if (EVP_CipherInit_ex (ctx, EVP_aes_256_gcm (), NULL, NULL, NULL, enc) != 1
      || EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_SET_IVLEN, GRP_NONCE, NULL) != 1
      || EVP_CipherInit_ex (ctx, NULL, NULL, key, iv, enc) != 1
      || EVP_CipherUpdate (ctx, NULL, &n, aad, (int)aad_len) != 1)
    goto out;
  for (size_t done = 0; done < len;) {
    size_t chunk = MIN (len - done, (size_t)GCM_CHUNK);
    if (EVP_CipherUpdate (ctx, out + done, &n, in + done, (int)chunk) != 1
        || (size_t)n != chunk)
      goto out;
    done += chunk;
  }
  if (!enc
      && EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_SET_TAG, GRP_TAG, tag) != 1)
    goto out;
  if (EVP_CipherFinal_ex (ctx, fin, &n) != 1) {
    rc = enc ? -1 : 0;
    goto out;
  }
  if (enc && EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_GET_TAG, GRP_TAG, tag) != 1)
    goto out;
  rc = 1;
out:
  EVP_CIPHER_CTX_free (ctx);
  OPENSSL_cleanse (fin, sizeof fin);
  return rc;
}

static EVP_PKEY *
x25519_private (const uint8_t priv[32])
{
  return EVP_PKEY_new_raw_private_key (EVP_PKEY_X25519, NULL, priv, 32);
}

/* X25519 (mine, peer). Fails for a peer key of small order (OpenSSL refuses
 * an all-zero shared secret). */
static gboolean
x25519 (EVP_PKEY *mine, const uint8_t peer[32], uint8_t out[32])
{
  size_t len = 32;
  gboolean ok = FALSE;
  EVP_PKEY *pk = EVP_PKEY_new_raw_public_key (EVP_PKEY_X25519, NULL, peer, 32);
  EVP_PKEY_CTX *ctx = pk ? EVP_PKEY_CTX_new_from_pkey (NULL, mine, NULL) : NULL;

  if (ctx != NULL && EVP_PKEY_derive_init (ctx) == 1
      && EVP_PKEY_derive_set_peer (ctx, pk) == 1
      && EVP_PKEY_derive (ctx, out, &len) == 1 && len == 32)
    ok = TRUE;
  EVP_PKEY_CTX_free (ctx);
  EVP_PKEY_free (pk);
  if (!ok)
    OPENSSL_cleanse (out, 32);
  return ok;
}

gboolean
grp_x25519_kek (EVP_PKEY *mine, const uint8_t peer[32], const uint8_t epk[32],
                const uint8_t pk[32], const char *info, uint8_t kek[32])
{
  uint8_t shared[32], salt[64];
  gboolean ok = FALSE;
  EVP_KDF *kdf = NULL;
  EVP_KDF_CTX *ctx = NULL;

  if (!x25519 (mine, peer, shared))
    return FALSE;
  memcpy (salt, epk, 32);
  memcpy (salt + 32, pk, 32);
  kdf = EVP_KDF_fetch (NULL, OSSL_KDF_NAME_HKDF, NULL);
  ctx = kdf ? EVP_KDF_CTX_new (kdf) : NULL;
  if (ctx != NULL) {
    OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string (OSSL_KDF_PARAM_DIGEST,
                                        (char *)SN_sha256, 0),
      OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_KEY, shared, 32),
      OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_SALT, salt, 64),
      OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_INFO, (char *)info,
                                         strlen (info)),
      OSSL_PARAM_construct_end (),
    };
    ok = EVP_KDF_derive (ctx, kek, 32, params) == 1;
  }
  EVP_KDF_CTX_free (ctx);
  EVP_KDF_free (kdf);
  OPENSSL_cleanse (shared, sizeof shared);
  if (!ok)
    OPENSSL_cleanse (kek, 32);
  return ok;
}

static void
content_aad (const char *group, uint64_t version, uint8_t aad[CONTENT_AAD_LEN])
{
  memcpy (aad, CONTENT_DOMAIN, sizeof CONTENT_DOMAIN); /* with its NUL */
  memcpy (aad + sizeof CONTENT_DOMAIN, group, 64);
  be64_put (aad + sizeof CONTENT_DOMAIN + 64, version);
}

static void
wrap_aad (const char *group, uint64_t version, const uint8_t commitment[32],
          const char *addr, uint8_t aad[WRAP_AAD_LEN])
{
  uint8_t *p = aad;
  memcpy (p, WRAP_DOMAIN, sizeof WRAP_DOMAIN); /* with its NUL */
  p += sizeof WRAP_DOMAIN;
  memcpy (p, group, 64);
  p += 64;
  be64_put (p, version);
  p += 8;
  memcpy (p, commitment, 32);
  p += 32;
  memcpy (p, addr, 40);
}

/* ---- the envelope ------------------------------------------------------ */

void
grp_envelope_free (GrpEnvelope *env)
{
  if (env == NULL)
    return;
  g_free (env->recipients);
  g_free (env->wraps);
  if (env->bytes != NULL)
    g_bytes_unref (env->bytes);
  g_free (env);
}

/* The canonical header of env (all fields but bytes and the hashes set). */
static char *
header_json (const GrpEnvelope *env)
{
  char hex[2 * GRP_WRAP + 1];
  json_t *keys = json_object ();
  json_t *root;
  char *text;

  for (size_t i = 0; i < env->n_recipients; i++) {
    json_t *entry = json_object ();
    grp_hex (env->recipients[i].pk, 32, hex);
    json_object_set_new (entry, "pk", json_string (hex));
    grp_hex (env->wraps[i], GRP_WRAP, hex);
    json_object_set_new (entry, "wrap", json_string (hex));
    json_object_set_new (keys, env->recipients[i].addr, entry);
  }
  root = json_object ();
  grp_hex (env->epk, 32, hex);
  json_object_set_new (root, "epk", json_string (hex));
  json_object_set_new (root, "group", json_string (env->group));
  json_object_set_new (root, "keys", keys);
  grp_hex (env->nonce, GRP_NONCE, hex);
  json_object_set_new (root, "nonce", json_string (hex));
  json_object_set_new (root, "version",
                       json_integer ((json_int_t)env->version));
  text = json_dumps (root, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref (root);
  return text;
}

GrpEnvelope *
grp_seal (const char *group, uint64_t version, const GrpRecipient *recipients,
          size_t n, const void *plain, size_t len, GError **error)
{
  g_autoptr (GrpEnvelope) env = NULL;
  uint8_t key[32], kek[32], aad[WRAP_AAD_LEN], zero_iv[GRP_NONCE] = { 0 };
  uint8_t *cipher = NULL, *buf;
  char *header = NULL;
  EVP_PKEY *eph = NULL;
  size_t hlen, elen = 32;
  gboolean ok = FALSE;

  g_return_val_if_fail (n == 0 || recipients != NULL, NULL);
  g_return_val_if_fail (len == 0 || plain != NULL, NULL);

  if (!is_hex (group, 64)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "group id '%.80s' is not 64 lowercase hex chars",
                 group ? group : "(null)");
    return NULL;
  }
  if (version == 0 || version > (uint64_t)G_MAXINT64) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "version %" G_GUINT64_FORMAT
                 " is out of range (1 to %" G_GINT64_FORMAT ")",
                 version, G_MAXINT64);
    return NULL;
  }
  if (n == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "no recipients: an envelope needs at least one");
    return NULL;
  }
  for (size_t i = 0; i < n; i++)
    if (!is_addr (recipients[i].addr)) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "recipient %zu: address '%.40s' is not 40 lowercase hex "
                   "chars",
                   i, recipients[i].addr);
      return NULL;
    }
  if (len > G_MAXSIZE - GRP_FIXED - GRP_MAX_HEADER - GRP_TAG) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "payload of %zu bytes is too large", len);
    return NULL;
  }

  env = g_new0 (GrpEnvelope, 1);
  memcpy (env->group, group, 65);
  env->version = version;
  env->n_recipients = n;
  env->recipients = g_memdup2 (recipients, n * sizeof *recipients);
  qsort (env->recipients, n, sizeof *env->recipients, cmp_addr);
  for (size_t i = 1; i < n; i++)
    if (strcmp (env->recipients[i - 1].addr, env->recipients[i].addr) == 0) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "recipient %s appears twice", env->recipients[i].addr);
      return NULL;
    }
  env->wraps = g_malloc_n (n, GRP_WRAP);
  env->size = len;

  /* The content first: the commitment it gives is part of every wrap. */
  if (RAND_bytes (key, sizeof key) != 1
      || RAND_bytes (env->nonce, GRP_NONCE) != 1) {
    set_openssl_error (error, "envelope: random key or nonce");
    goto out;
  }
  cipher = g_malloc (len + GRP_TAG);
  content_aad (group, version, aad);
  if (gcm (TRUE, key, env->nonce, aad, CONTENT_AAD_LEN, plain, len, cipher,
           cipher + len)
      != 1) {
    set_openssl_error (error,
                       "envelope: AES-256-GCM encryption of the content");
    goto out;
  }
  if (!sha256 (cipher, len + GRP_TAG, env->commitment)) {
    set_openssl_error (error, "envelope: SHA-256 of the ciphertext");
    goto out;
  }

  eph = EVP_PKEY_Q_keygen (NULL, NULL, "X25519");
  if (eph == NULL || EVP_PKEY_get_raw_public_key (eph, env->epk, &elen) != 1
      || elen != 32) {
    set_openssl_error (error, "envelope: ephemeral X25519 key generation");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    const GrpRecipient *r = &env->recipients[i];
    if (!grp_x25519_kek (eph, r->pk, env->epk, r->pk, WRAP_DOMAIN, kek)) {
      g_autofree char *why = openssl_why ();
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "recipient %s: its public key is not a usable X25519 key "
                   "(a point of small order?): %s",
                   r->addr, why);
      goto out;
    }
    wrap_aad (group, version, env->commitment, r->addr, aad);
    if (gcm (TRUE, kek, zero_iv, aad, WRAP_AAD_LEN, key, 32, env->wraps[i],
             env->wraps[i] + 32)
        != 1) {
      set_openssl_error (error, "envelope: AES-256-GCM key wrap");
      goto out;
    }
  }

  header = header_json (env);
  if (header == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "envelope: cannot serialise the header");
    goto out;
  }
  hlen = strlen (header);
  if (hlen > GRP_MAX_HEADER) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "%zu recipients: the envelope header would be %zu bytes, "
                 "over the limit of %u",
                 n, hlen, GRP_MAX_HEADER);
    goto out;
  }
  if (!sha256 (header, hlen, env->keys_hash)) {
    set_openssl_error (error, "envelope: SHA-256 of the header");
    goto out;
  }

  env->cipher_offset = GRP_FIXED + hlen;
  buf = g_malloc (env->cipher_offset + len + GRP_TAG);
  memcpy (buf, GRP_MAGIC, 8);
  buf[8] = GRP_FORMAT;
  buf[9] = buf[10] = buf[11] = 0;
  be32_put (buf + 12, (uint32_t)hlen);
  memcpy (buf + GRP_FIXED, header, hlen);
  memcpy (buf + env->cipher_offset, cipher, len + GRP_TAG);
  env->bytes = g_bytes_new_take (buf, env->cipher_offset + len + GRP_TAG);
  ok = TRUE;

out:
  OPENSSL_cleanse (key, sizeof key);
  OPENSSL_cleanse (kek, sizeof kek);
  EVP_PKEY_free (eph);
  g_free (cipher);
  free (header);
  return ok ? g_steal_pointer (&env) : NULL;
}

#define HDR_ERROR(...)                                                         \
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,                     \
               "envelope header: " __VA_ARGS__)

/* A string field of obj of exactly 2n lowercase hex chars, decoded. */
static gboolean
hex_field (json_t *obj, const char *key, const char *where, uint8_t *out,
           size_t n, GError **error)
{
  const char *s = json_string_value (json_object_get (obj, key));
  if (!is_hex (s, 2 * n)) {
    HDR_ERROR ("%s%s is not %zu lowercase hex chars", where, key, 2 * n);
    return FALSE;
  }
  unhex (s, out, n);
  return TRUE;
}

/* obj has exactly these keys (n of them, sorted). */
static gboolean
exact_keys (json_t *obj, const char *const *names, size_t n, const char *where,
            GError **error)
{
  const char *key;
  json_t *value;

  json_object_foreach (obj, key, value)
  {
    gboolean known = FALSE;
    for (size_t i = 0; i < n; i++)
      known = known || strcmp (key, names[i]) == 0;
    if (!known) {
      HDR_ERROR ("%sunknown key '%.64s'", where, key);
      return FALSE;
    }
  }
  for (size_t i = 0; i < n; i++)
    if (json_object_get (obj, names[i]) == NULL) {
      HDR_ERROR ("%smissing '%s'", where, names[i]);
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_keys (json_t *keys, GrpEnvelope *env, GError **error)
{
  static const char *const entry_keys[] = { "pk", "wrap" };
  g_autofree const char **addrs = NULL;
  const char *addr;
  json_t *value;
  size_t n = 0;

  if (!json_is_object (keys)) {
    HDR_ERROR ("'keys' is not an object");
    return FALSE;
  }
  if (json_object_size (keys) == 0) {
    HDR_ERROR ("'keys' is empty: an envelope has at least one recipient");
    return FALSE;
  }
  /* Canonical JSON has them sorted and unique already; sort anyway so the
   * order never depends on how Jansson iterates. */
  addrs = g_new (const char *, json_object_size (keys));
  json_object_foreach (keys, addr, value)
  {
    (void)value;
    addrs[n++] = addr;
  }
  qsort (addrs, n, sizeof *addrs, cmp_str);

  env->n_recipients = n;
  env->recipients = g_new0 (GrpRecipient, n);
  env->wraps = g_malloc_n (n, GRP_WRAP);
  for (size_t i = 0; i < n; i++) {
    g_autofree char *where = NULL;
    json_t *entry = json_object_get (keys, addrs[i]);
    if (!is_hex (addrs[i], 40)) {
      HDR_ERROR ("'keys' entry '%.64s' is not an address (40 lowercase hex "
                 "chars)",
                 addrs[i]);
      return FALSE;
    }
    where = g_strdup_printf ("'keys' entry for %s: ", addrs[i]);
    if (!json_is_object (entry)) {
      HDR_ERROR ("%snot an object", where);
      return FALSE;
    }
    if (!exact_keys (entry, entry_keys, G_N_ELEMENTS (entry_keys), where, error)
        || !hex_field (entry, "pk", where, env->recipients[i].pk, 32, error)
        || !hex_field (entry, "wrap", where, env->wraps[i], GRP_WRAP, error))
      return FALSE;
    memcpy (env->recipients[i].addr, addrs[i], 41);
  }
  return TRUE;
}

static gboolean
parse_header (const uint8_t *h, size_t hlen, GrpEnvelope *env, GError **error)
{
  static const char *const top_keys[]
      = { "epk", "group", "keys", "nonce", "version" };
  json_error_t jerr;
  json_t *root, *version;
  char *again = NULL;
  gboolean ok = FALSE;
  json_int_t v;

  root = json_loadb ((const char *)h, hlen, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL) {
    HDR_ERROR ("not valid JSON: %s (at byte %d)", jerr.text, jerr.position);
    return FALSE;
  }
  if (!json_is_object (root)) {
    HDR_ERROR ("not a JSON object");
    goto out;
  }
  again = json_dumps (root, JSON_COMPACT | JSON_SORT_KEYS);
  if (again == NULL || strlen (again) != hlen || memcmp (again, h, hlen) != 0) {
    HDR_ERROR ("not canonical JSON (compact, keys sorted, no needless "
               "escapes)");
    goto out;
  }
  if (!exact_keys (root, top_keys, G_N_ELEMENTS (top_keys), "", error))
    goto out;

  version = json_object_get (root, "version");
  v = json_is_integer (version) ? json_integer_value (version) : 0;
  if (v < 1) {
    HDR_ERROR ("'version' is not a positive integer");
    goto out;
  }
  env->version = (uint64_t)v;
  if (!is_hex (json_string_value (json_object_get (root, "group")), 64)) {
    HDR_ERROR ("group is not 64 lowercase hex chars");
    goto out;
  }
  memcpy (env->group, json_string_value (json_object_get (root, "group")), 65);
  if (!hex_field (root, "epk", "", env->epk, 32, error)
      || !hex_field (root, "nonce", "", env->nonce, GRP_NONCE, error)
      || !parse_keys (json_object_get (root, "keys"), env, error))
    goto out;
  ok = TRUE;
out:
  free (again);
  json_decref (root);
  return ok;
}

GrpEnvelope *
grp_envelope_parse (GBytes *bytes, GError **error)
{
  g_autoptr (GrpEnvelope) env = NULL;
  gsize total = 0;
  const uint8_t *p;
  uint32_t hlen;
  size_t rest;

  g_return_val_if_fail (bytes != NULL, NULL);
  p = g_bytes_get_data (bytes, &total);
  if (total < GRP_FIXED) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "envelope: truncated: %zu bytes, less than its %u-byte fixed "
                 "part",
                 (size_t)total, GRP_FIXED);
    return NULL;
  }
  if (memcmp (p, GRP_MAGIC, 8) != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "envelope: bad magic (not a Cairn group envelope: it does "
                 "not start with '%s')",
                 GRP_MAGIC);
    return NULL;
  }
  if (p[8] != GRP_FORMAT) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "envelope: format version %u, this build reads only %u", p[8],
                 GRP_FORMAT);
    return NULL;
  }
  if (p[9] != 0 || p[10] != 0 || p[11] != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "envelope: reserved bytes 9 to 11 are not zero");
    return NULL;
  }
  hlen = be32_get (p + 12);
  if (hlen > GRP_MAX_HEADER) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "envelope: header length %u is over the limit of %u bytes",
                 hlen, GRP_MAX_HEADER);
    return NULL;
  }
  if (hlen > total - GRP_FIXED) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "envelope: truncated: header length %u, but only %zu bytes "
                 "follow the fixed part",
                 hlen, (size_t)(total - GRP_FIXED));
    return NULL;
  }
  rest = total - GRP_FIXED - hlen;
  if (rest < GRP_TAG) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "envelope: truncated: %zu bytes after the header, less than "
                 "the %u-byte tag",
                 rest, GRP_TAG);
    return NULL;
  }

  env = g_new0 (GrpEnvelope, 1);
  if (!parse_header (p + GRP_FIXED, hlen, env, error))
    return NULL;
  env->cipher_offset = GRP_FIXED + hlen;
  env->size = rest - GRP_TAG;
  if (!sha256 (p + GRP_FIXED, hlen, env->keys_hash)
      || !sha256 (p + env->cipher_offset, rest, env->commitment)) {
    set_openssl_error (error, "envelope: SHA-256");
    return NULL;
  }
  env->bytes = g_bytes_ref (bytes);
  return g_steal_pointer (&env);
}

GBytes *
grp_open (const GrpEnvelope *env, const char *addr, const uint8_t priv[32],
          GError **error)
{
  uint8_t pub[32], kek[32], key[32], aad[WRAP_AAD_LEN];
  uint8_t zero_iv[GRP_NONCE] = { 0 };
  uint8_t *plain = NULL;
  const uint8_t *cipher;
  const GrpRecipient *r;
  GrpRecipient probe = { { 0 } };
  size_t publen = 32, i;
  EVP_PKEY *mine = NULL;
  GBytes *result = NULL;
  int rc;

  g_return_val_if_fail (env != NULL && env->bytes != NULL, NULL);
  g_return_val_if_fail (addr != NULL && priv != NULL, NULL);

  g_strlcpy (probe.addr, addr, sizeof probe.addr);
  r = strlen (addr) == 40 ? bsearch (&probe, env->recipients, env->n_recipients,
                                     sizeof *r, cmp_addr)
                          : NULL;
  if (r == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "%.64s is not a recipient of this envelope (group %s, "
                 "version %" G_GUINT64_FORMAT ")",
                 addr, env->group, env->version);
    return NULL;
  }
  i = (size_t)(r - env->recipients);

  mine = x25519_private (priv);
  if (mine == NULL || EVP_PKEY_get_raw_public_key (mine, pub, &publen) != 1
      || publen != 32) {
    set_openssl_error (error, "envelope: X25519 private key");
    goto out;
  }
  if (CRYPTO_memcmp (pub, r->pk, 32) != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "this key is not the one the envelope was wrapped for "
                 "(recipient %s)",
                 addr);
    goto out;
  }
  if (!grp_x25519_kek (mine, env->epk, env->epk, r->pk, WRAP_DOMAIN, kek)) {
    g_autofree char *why = openssl_why ();
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "envelope: its ephemeral key (epk) is not a usable X25519 "
                 "key: %s",
                 why);
    goto out;
  }
  wrap_aad (env->group, env->version, env->commitment, r->addr, aad);
  rc = gcm (FALSE, kek, zero_iv, aad, WRAP_AAD_LEN, env->wraps[i], 32, key,
            env->wraps[i] + 32);
  if (rc != 1) {
    if (rc == 0)
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "key wrap for %s fails its tag: tampered", r->addr);
    else
      set_openssl_error (error, "envelope: AES-256-GCM key unwrap");
    goto out;
  }

  cipher = (const uint8_t *)g_bytes_get_data (env->bytes, NULL)
           + env->cipher_offset;
  plain = g_malloc (env->size);
  content_aad (env->group, env->version, aad);
  rc = gcm (FALSE, key, env->nonce, aad, CONTENT_AAD_LEN, cipher, env->size,
            plain, (uint8_t *)cipher + env->size);
  if (rc != 1) {
    if (rc == 0)
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "ciphertext fails its tag: tampered");
    else
      set_openssl_error (error, "envelope: AES-256-GCM decryption");
    if (plain != NULL)
      OPENSSL_cleanse (plain, env->size);
    goto out;
  }
  result = g_bytes_new_take (g_steal_pointer (&plain), env->size);

out:
  g_free (plain);
  OPENSSL_cleanse (kek, sizeof kek);
  OPENSSL_cleanse (key, sizeof key);
  EVP_PKEY_free (mine);
  return result;
}

/* ---- X25519 keys ------------------------------------------------------- */

gboolean
grp_key_generate (uint8_t priv[32], uint8_t pub[32], GError **error)
{
  size_t plen = 32, qlen = 32;
  EVP_PKEY *k = EVP_PKEY_Q_keygen (NULL, NULL, "X25519");
  gboolean ok = k != NULL && EVP_PKEY_get_raw_private_key (k, priv, &plen) == 1
                && EVP_PKEY_get_raw_public_key (k, pub, &qlen) == 1
                && plen == 32 && qlen == 32;
  if (!ok) {
    OPENSSL_cleanse (priv, 32);
    set_openssl_error (error, "X25519 key generation");
  }
  EVP_PKEY_free (k);
  return ok;
}

gboolean
grp_key_public (const uint8_t priv[32], uint8_t pub[32], GError **error)
{
  size_t len = 32;
  EVP_PKEY *k = x25519_private (priv);
  gboolean ok = k != NULL && EVP_PKEY_get_raw_public_key (k, pub, &len) == 1
                && len == 32;
  if (!ok)
    set_openssl_error (error, "X25519 public key");
  EVP_PKEY_free (k);
  return ok;
}

/* Never prompt for a passphrase: encrypted keys are refused. */
static int
no_passphrase_cb (char *buf, int size, int rwflag, void *u)
{
  return -1;
}

static void
set_errno_error (GError **error, int e, const char *path, const char *what)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "%s: %s: %s", path,
               what, g_strerror (e));
}

gboolean
grp_key_load (const char *path, uint8_t priv[32], GError **error)
{
  char *buf = g_malloc (KEY_FILE_MAX + 1);
  size_t n = 0, len = 32;
  EVP_PKEY *pkey = NULL;
  BIO *bio = NULL;
  gboolean ok = FALSE;
  int fd;

  g_return_val_if_fail (path != NULL && priv != NULL, FALSE);

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    set_errno_error (error, errno, path,
                     "cannot open the group encryption key");
    goto out;
  }
  struct stat st;
  if (fstat (fd, &st) == 0 && (st.st_mode & 077) != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                 "%s: the group encryption key is accessible by others "
                 "(mode %04o); run: chmod 600 %s",
                 path, (unsigned)(st.st_mode & 07777), path);
    close (fd);
    goto out;
  }
  for (;;) {
    ssize_t r = read (fd, buf + n, KEY_FILE_MAX + 1 - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int e = errno;
      close (fd);
      set_errno_error (error, e, path, "cannot read the group encryption key");
      goto out;
    }
    if (r == 0)
      break;
    n += (size_t)r;
    if (n > KEY_FILE_MAX) {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: not a key file (larger than %d bytes)", path,
                   KEY_FILE_MAX);
      goto out;
    }
  }
  close (fd);

  bio = BIO_new_mem_buf (buf, (int)n);
  pkey = bio ? PEM_read_bio_PrivateKey_ex (bio, NULL, no_passphrase_cb, NULL,
                                           NULL, NULL)
             : NULL;
  if (pkey == NULL) {
    g_autofree char *why = openssl_why ();
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "%s: not a readable PEM private key%s (%s)", path,
                 g_strstr_len (buf, (gssize)n, "ENCRYPTED")
                     ? "; encrypted keys are not supported"
                     : "",
                 why);
    goto out;
  }
  if (EVP_PKEY_get_id (pkey) != EVP_PKEY_X25519) {
    const char *type = EVP_PKEY_get0_type_name (pkey);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "%s: an %s key, not an X25519 key (the group encryption key "
                 "is X25519, separate from the Ed25519 node key)",
                 path, type ? type : "unknown");
    goto out;
  }
  if (EVP_PKEY_get_raw_private_key (pkey, priv, &len) != 1 || len != 32) {
    OPENSSL_cleanse (priv, 32);
    g_autofree char *why = openssl_why ();
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "%s: cannot read the X25519 private key (%s)", path, why);
    goto out;
  }
  ok = TRUE;
out:
  BIO_free (bio);
  EVP_PKEY_free (pkey);
  OPENSSL_cleanse (buf, KEY_FILE_MAX + 1);
  g_free (buf);
  return ok;
}

static gboolean
write_all (int fd, const char *data, size_t len)
{
  while (len > 0) {
    ssize_t w = write (fd, data, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      if (w == 0)
        errno = EIO;
      return FALSE;
    }
    data += w;
    len -= (size_t)w;
  }
  return TRUE;
}

/* Moves tmp to path unless path exists: renameat2 (RENAME_NOREPLACE), or
 * link + unlink where the file system has no such rename. */
static int
rename_noreplace (const char *tmp, const char *path)
{
  if (renameat2 (AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
    return 0;
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
    return errno;
  if (link (tmp, path) != 0)
    return errno;
  unlink (tmp);
  return 0;
}

gboolean
grp_key_save (const char *path, const uint8_t priv[32], GError **error)
{
  g_autofree char *dir = NULL, *base = NULL, *tmp = NULL;
  EVP_PKEY *pkey = NULL;
  BIO *bio = NULL;
  char *pem = NULL;
  long pem_len;
  int fd, e = 0;
  GStatBuf st;

  g_return_val_if_fail (path != NULL && priv != NULL, FALSE);

  if (g_lstat (path, &st) == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                 "%s: already exists; refusing to overwrite a key", path);
    return FALSE;
  }
  pkey = x25519_private (priv);
  bio = BIO_new (BIO_s_secmem ());
  if (pkey == NULL || bio == NULL
      || PEM_write_bio_PrivateKey (bio, pkey, NULL, NULL, 0, NULL, NULL) != 1) {
    g_autofree char *why = openssl_why ();
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "%s: cannot encode the key as PEM: %s", path, why);
    EVP_PKEY_free (pkey);
    BIO_free (bio);
    return FALSE;
  }
  EVP_PKEY_free (pkey);
  pem_len = BIO_get_mem_data (bio, &pem);

  /* A temporary file in the same directory, renamed into place: a crash
   * leaves either no key or a whole one, never half of it. */
  dir = g_path_get_dirname (path);
  base = g_path_get_basename (path);
  tmp = g_strdup_printf ("%s/.%s.XXXXXX", dir, base);
  fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    set_errno_error (error, errno, path,
                     "cannot create a temporary file next to it");
    BIO_free (bio);
    return FALSE;
  }
  /* The umask may have removed bits, never added any; make it exactly 0600. */
  if (fchmod (fd, 0600) != 0 || !write_all (fd, pem, (size_t)pem_len)
      || fsync (fd) != 0)
    e = errno;
  if (close (fd) != 0 && e == 0)
    e = errno;
  BIO_free (bio); /* secure heap: cleared on free */
  if (e != 0) {
    g_unlink (tmp);
    set_errno_error (error, e, path, "cannot write the key file");
    return FALSE;
  }
  e = rename_noreplace (tmp, path);
  if (e != 0) {
    g_unlink (tmp);
    if (e == EEXIST)
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   "%s: already exists; refusing to overwrite a key", path);
    else
      set_errno_error (error, e, path, "cannot move the key file into place");
    return FALSE;
  }
  /* Make the new name durable too. */
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync (fd);
    close (fd);
  }
  return TRUE;
}
