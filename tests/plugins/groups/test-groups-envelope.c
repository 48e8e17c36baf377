/* The groups plugin's encrypted envelope (plugins/groups/envelope.h):
 * round trips, an independent decryption that follows the README byte by
 * byte, tampering (ciphertext, wraps, header fields, every single byte),
 * the strict parser (canonical header, fixed part, truncation) and the
 * X25519 key files (also with the openssl command). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "envelope.h"

static char *tmpdir;

/* ---- helpers ----------------------------------------------------------- */

typedef struct {
  GrpRecipient *r;     /* in the order given to grp_seal */
  uint8_t (*priv)[32]; /* priv[i] belongs to r[i] */
  size_t n;
} Members;

static void
members_free (Members *m)
{
  g_free (m->r);
  g_free (m->priv);
  g_free (m);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Members, members_free)

static void
sha256 (const void *data, size_t len, uint8_t out[32])
{
  g_assert_cmpint (EVP_Digest (data, len, out, NULL, EVP_sha256 (), NULL), ==,
                   1);
}

/* n members with fresh keys; addresses from SHA-256 (tag, i), given in
 * descending address order so that grp_seal has to sort them. */
static Members *
make_members (size_t n, const char *tag)
{
  Members *m = g_new0 (Members, 1);
  g_autoptr (GError) error = NULL;

  m->n = n;
  m->r = g_new0 (GrpRecipient, n);
  m->priv = g_malloc_n (n, 32);
  for (size_t i = 0; i < n; i++) {
    g_autofree char *seed = g_strdup_printf ("%s/%zu", tag, i);
    uint8_t h[32];
    sha256 (seed, strlen (seed), h);
    grp_hex (h, 20, m->r[i].addr);
    g_assert_true (grp_key_generate (m->priv[i], m->r[i].pk, &error));
    g_assert_no_error (error);
  }
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++)
      if (strcmp (m->r[i].addr, m->r[j].addr) < 0) {
        GrpRecipient t = m->r[i];
        uint8_t p[32];
        m->r[i] = m->r[j];
        m->r[j] = t;
        memcpy (p, m->priv[i], 32);
        memcpy (m->priv[i], m->priv[j], 32);
        memcpy (m->priv[j], p, 32);
      }
  return m;
}

static void
random_group (char out[65])
{
  uint8_t g[32];
  g_assert_cmpint (RAND_bytes (g, 32), ==, 1);
  grp_hex (g, 32, out);
}

static uint8_t *
random_bytes (size_t len)
{
  uint8_t *p = g_malloc (len + 1);
  for (size_t i = 0; i < len; i++)
    p[i] = (uint8_t)g_test_rand_int ();
  return p;
}

static void
assert_err (const GError *error, int code, const char *want)
{
  g_assert_error (error, G_IO_ERROR, code);
  if (want != NULL && strstr (error->message, want) == NULL)
    g_error ("message '%s' lacks '%s'", error->message, want);
}

static GrpEnvelope *
seal_ok (const char *group, uint64_t version, const Members *m,
         const void *plain, size_t len)
{
  g_autoptr (GError) error = NULL;
  GrpEnvelope *env = grp_seal (group, version, m->r, m->n, plain, len, &error);
  g_assert_no_error (error);
  g_assert_nonnull (env);
  return env;
}

static GrpEnvelope *
parse_ok (GBytes *bytes)
{
  g_autoptr (GError) error = NULL;
  GrpEnvelope *env = grp_envelope_parse (bytes, &error);
  g_assert_no_error (error);
  g_assert_nonnull (env);
  return env;
}

static void
assert_opens (const GrpEnvelope *env, const char *addr, const uint8_t *priv,
              const void *plain, size_t len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) out = grp_open (env, addr, priv, &error);
  g_assert_no_error (error);
  g_assert_nonnull (out);
  g_assert_cmpmem (g_bytes_get_data (out, NULL), g_bytes_get_size (out), plain,
                   len);
}

static void
assert_open_fails (const GrpEnvelope *env, const char *addr,
                   const uint8_t *priv, int code, const char *want)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) out = grp_open (env, addr, priv, &error);
  g_assert_null (out);
  assert_err (error, code, want);
}

static void
assert_parse_fails (GBytes *bytes, const char *want)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GrpEnvelope) env = grp_envelope_parse (bytes, &error);
  g_assert_null (env);
  assert_err (error, G_IO_ERROR_INVALID_DATA, want);
}

static const uint8_t *
bytes_of (const GrpEnvelope *env, size_t *len)
{
  gsize n;
  const uint8_t *p = g_bytes_get_data (env->bytes, &n);
  *len = n;
  return p;
}

/* The envelope's header as JSON (parsed by Jansson directly). */
static json_t *
header_of (const GrpEnvelope *env)
{
  size_t total;
  const uint8_t *p = bytes_of (env, &total);
  json_error_t jerr;
  json_t *root = json_loadb ((const char *)p + GRP_FIXED,
                             env->cipher_offset - GRP_FIXED, 0, &jerr);
  if (root == NULL)
    g_error ("header: %s", jerr.text);
  return root;
}

/* env's fixed part and ciphertext around another header text. */
static GBytes *
with_header_text (const GrpEnvelope *env, const char *text, size_t hlen)
{
  size_t total;
  const uint8_t *p = bytes_of (env, &total);
  size_t clen = total - env->cipher_offset;
  uint8_t *out = g_malloc (GRP_FIXED + hlen + clen);
  memcpy (out, p, 12);
  out[12] = (uint8_t)(hlen >> 24);
  out[13] = (uint8_t)(hlen >> 16);
  out[14] = (uint8_t)(hlen >> 8);
  out[15] = (uint8_t)hlen;
  memcpy (out + GRP_FIXED, text, hlen);
  memcpy (out + GRP_FIXED + hlen, p + env->cipher_offset, clen);
  return g_bytes_new_take (out, GRP_FIXED + hlen + clen);
}

/* The same with a header re-serialised canonically from hdr. */
static GBytes *
with_header (const GrpEnvelope *env, json_t *hdr)
{
  char *text = json_dumps (hdr, JSON_COMPACT | JSON_SORT_KEYS);
  GBytes *b = with_header_text (env, text, strlen (text));
  free (text);
  return b;
}

static void
set_hex (json_t *obj, const char *key, const uint8_t *v, size_t n)
{
  char *hex = g_malloc (2 * n + 1);
  grp_hex (v, n, hex);
  json_object_set_new (obj, key, json_string (hex));
  g_free (hex);
}

static void
get_hex (json_t *obj, const char *key, uint8_t *out, size_t n)
{
  const char *s = json_string_value (json_object_get (obj, key));
  g_assert_nonnull (s);
  g_assert_cmpuint (strlen (s), ==, 2 * n);
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    g_assert_cmpint (sscanf (s + 2 * i, "%2x", &v), ==, 1);
    out[i] = (uint8_t)v;
  }
}

static void
be64 (uint8_t *p, uint64_t v)
{
  for (int i = 7; i >= 0; i--, v >>= 8)
    p[i] = (uint8_t)v;
}

/* ---- the README's construction, written again here -------------------- */

/* KEK = HKDF-SHA256 (IKM = X25519 (priv, epk), salt = epk || pk,
 * info = "cairn.groups.wrap/1"). */
static void
spec_kek (const uint8_t priv[32], const uint8_t epk[32], const uint8_t pk[32],
          uint8_t kek[32])
{
  uint8_t shared[32], salt[64];
  size_t len = 32;
  EVP_PKEY *me = EVP_PKEY_new_raw_private_key (EVP_PKEY_X25519, NULL, priv, 32);
  EVP_PKEY *peer = EVP_PKEY_new_raw_public_key (EVP_PKEY_X25519, NULL, epk, 32);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new (me, NULL);
  g_assert_cmpint (EVP_PKEY_derive_init (ctx), ==, 1);
  g_assert_cmpint (EVP_PKEY_derive_set_peer (ctx, peer), ==, 1);
  g_assert_cmpint (EVP_PKEY_derive (ctx, shared, &len), ==, 1);
  EVP_PKEY_CTX_free (ctx);
  EVP_PKEY_free (me);
  EVP_PKEY_free (peer);

  memcpy (salt, epk, 32);
  memcpy (salt + 32, pk, 32);
  EVP_KDF *kdf = EVP_KDF_fetch (NULL, "HKDF", NULL);
  EVP_KDF_CTX *kctx = EVP_KDF_CTX_new (kdf);
  OSSL_PARAM params[] = {
    OSSL_PARAM_construct_utf8_string (OSSL_KDF_PARAM_DIGEST, "SHA256", 0),
    OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_KEY, shared, 32),
    OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_SALT, salt, 64),
    OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_INFO,
                                       "cairn.groups.wrap/1", 19),
    OSSL_PARAM_construct_end (),
  };
  g_assert_cmpint (EVP_KDF_derive (kctx, kek, 32, params), ==, 1);
  EVP_KDF_CTX_free (kctx);
  EVP_KDF_free (kdf);
}

/* AES-256-GCM; returns FALSE when decryption fails its tag. */
static gboolean
spec_gcm (gboolean enc, const uint8_t key[32], const uint8_t iv[12],
          const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
          uint8_t *out, uint8_t tag[16])
{
  uint8_t fin[16];
  int n;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new ();
  g_assert_cmpint (
      EVP_CipherInit_ex (ctx, EVP_aes_256_gcm (), NULL, key, iv, enc), ==, 1);
  g_assert_cmpint (EVP_CipherUpdate (ctx, NULL, &n, aad, (int)aad_len), ==, 1);
  if (len > 0)
    g_assert_cmpint (EVP_CipherUpdate (ctx, out, &n, in, (int)len), ==, 1);
  if (!enc)
    EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_SET_TAG, 16, tag);
  gboolean ok = EVP_CipherFinal_ex (ctx, fin, &n) == 1;
  if (enc)
    EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_GET_TAG, 16, tag);
  EVP_CIPHER_CTX_free (ctx);
  return ok;
}

static size_t
spec_wrap_aad (const char *group, uint64_t version,
               const uint8_t commitment[32], const char *addr, uint8_t *aad)
{
  memcpy (aad, "cairn.groups.wrap/1", 20); /* with the NUL */
  memcpy (aad + 20, group, 64);
  be64 (aad + 84, version);
  memcpy (aad + 92, commitment, 32);
  memcpy (aad + 124, addr, 40);
  return 164;
}

/* Unwraps the content key of addr from the header JSON alone. */
static gboolean
spec_unwrap (json_t *hdr, const uint8_t commitment[32], const char *addr,
             const uint8_t priv[32], uint8_t key[32])
{
  uint8_t epk[32], pk[32], wrap[48], kek[32], aad[164], zero[12] = { 0 };
  json_t *entry = json_object_get (json_object_get (hdr, "keys"), addr);
  const char *group = json_string_value (json_object_get (hdr, "group"));
  uint64_t version
      = (uint64_t)json_integer_value (json_object_get (hdr, "version"));

  g_assert_nonnull (entry);
  get_hex (hdr, "epk", epk, 32);
  get_hex (entry, "pk", pk, 32);
  get_hex (entry, "wrap", wrap, 48);
  spec_kek (priv, epk, pk, kek);
  spec_wrap_aad (group, version, commitment, addr, aad);
  return spec_gcm (FALSE, kek, zero, aad, sizeof aad, wrap, 32, key, wrap + 32);
}

/* Wraps key for addr into hdr as the README says (needs addr's private
 * key: X25519 is symmetric). */
static void
spec_rewrap (json_t *hdr, const uint8_t commitment[32], const char *addr,
             const uint8_t priv[32], const uint8_t key[32])
{
  uint8_t epk[32], pk[32], wrap[48], kek[32], aad[164], zero[12] = { 0 };
  json_t *entry = json_object_get (json_object_get (hdr, "keys"), addr);
  const char *group = json_string_value (json_object_get (hdr, "group"));
  uint64_t version
      = (uint64_t)json_integer_value (json_object_get (hdr, "version"));

  get_hex (hdr, "epk", epk, 32);
  get_hex (entry, "pk", pk, 32);
  spec_kek (priv, epk, pk, kek);
  spec_wrap_aad (group, version, commitment, addr, aad);
  g_assert_true (
      spec_gcm (TRUE, kek, zero, aad, sizeof aad, key, 32, wrap, wrap + 32));
  set_hex (entry, "wrap", wrap, 48);
}

/* ---- round trips -------------------------------------------------------- */

static void
check_same (const GrpEnvelope *a, const GrpEnvelope *b)
{
  g_assert_cmpstr (a->group, ==, b->group);
  g_assert_cmpuint (a->version, ==, b->version);
  g_assert_cmpmem (a->epk, 32, b->epk, 32);
  g_assert_cmpmem (a->nonce, GRP_NONCE, b->nonce, GRP_NONCE);
  g_assert_cmpuint (a->n_recipients, ==, b->n_recipients);
  for (size_t i = 0; i < a->n_recipients; i++) {
    g_assert_cmpstr (a->recipients[i].addr, ==, b->recipients[i].addr);
    g_assert_cmpmem (a->recipients[i].pk, 32, b->recipients[i].pk, 32);
    g_assert_cmpmem (a->wraps[i], GRP_WRAP, b->wraps[i], GRP_WRAP);
  }
  g_assert_cmpmem (a->commitment, 32, b->commitment, 32);
  g_assert_cmpmem (a->keys_hash, 32, b->keys_hash, 32);
  g_assert_cmpuint (a->size, ==, b->size);
  g_assert_cmpuint (a->cipher_offset, ==, b->cipher_offset);
  g_assert_true (g_bytes_equal (a->bytes, b->bytes));
}

static void
round_trip (size_t n, size_t len)
{
  g_autoptr (Members) m = make_members (n, "round-trip");
  g_autoptr (Members) outsider = make_members (1, "outsider");
  g_autofree uint8_t *plain = random_bytes (len);
  char group[65];
  uint8_t h[32];
  size_t total;

  random_group (group);
  g_autoptr (GrpEnvelope) env = seal_ok (group, 7, m, plain, len);
  const uint8_t *p = bytes_of (env, &total);

  /* The layout and the fields. */
  g_assert_cmpmem (p, 8, GRP_MAGIC, 8);
  g_assert_cmpuint (p[8], ==, 1);
  g_assert_cmpuint (p[9] | p[10] | p[11], ==, 0);
  g_assert_cmpuint ((size_t)p[12] << 24 | p[13] << 16 | p[14] << 8 | p[15], ==,
                    env->cipher_offset - GRP_FIXED);
  g_assert_cmpuint (total, ==, env->cipher_offset + len + GRP_TAG);
  g_assert_cmpstr (env->group, ==, group);
  g_assert_cmpuint (env->version, ==, 7);
  g_assert_cmpuint (env->size, ==, len);
  g_assert_cmpuint (env->n_recipients, ==, n);
  for (size_t i = 0; i < n; i++) {
    /* make_members gives them in descending order: sorted, reversed. */
    const GrpRecipient *r = &env->recipients[i];
    g_assert_cmpstr (r->addr, ==, m->r[n - 1 - i].addr);
    g_assert_cmpmem (r->pk, 32, m->r[n - 1 - i].pk, 32);
    if (i > 0)
      g_assert_cmpint (strcmp (env->recipients[i - 1].addr, r->addr), <, 0);
  }
  /* The hashes, computed here on their own. */
  sha256 (p + env->cipher_offset, len + GRP_TAG, h);
  g_assert_cmpmem (env->commitment, 32, h, 32);
  sha256 (p + GRP_FIXED, env->cipher_offset - GRP_FIXED, h);
  g_assert_cmpmem (env->keys_hash, 32, h, 32);
  /* The plaintext does not appear in the envelope. */
  if (len >= 16)
    g_assert_null (memmem (p, total, plain, 16));

  /* Every recipient reads it; nobody else does. */
  for (size_t i = 0; i < n; i++)
    assert_opens (env, m->r[i].addr, m->priv[i], plain, len);
  assert_open_fails (env, outsider->r[0].addr, outsider->priv[0],
                     G_IO_ERROR_NOT_FOUND, "is not a recipient");
  assert_open_fails (env, m->r[0].addr, outsider->priv[0], G_IO_ERROR_NOT_FOUND,
                     "this key is not the one the envelope was wrapped for");
  if (n > 1)
    assert_open_fails (env, m->r[0].addr, m->priv[1], G_IO_ERROR_NOT_FOUND,
                       "this key is not the one");
  assert_open_fails (env, "", m->priv[0], G_IO_ERROR_NOT_FOUND,
                     "is not a recipient");
  {
    g_autofree char *longer = g_strconcat (m->r[0].addr, "0", NULL);
    assert_open_fails (env, longer, m->priv[0], G_IO_ERROR_NOT_FOUND,
                       "is not a recipient");
  }

  /* parse (seal (...)) gives the same fields, and opens the same. */
  g_autoptr (GrpEnvelope) parsed = parse_ok (env->bytes);
  check_same (env, parsed);
  assert_opens (parsed, m->r[n - 1].addr, m->priv[n - 1], plain, len);
}

static void
test_round_trip (void)
{
  const size_t ns[] = { 1, 3, 32 };
  const size_t lens[] = { 0, 1, 1 << 20 };
  for (size_t i = 0; i < G_N_ELEMENTS (ns); i++)
    for (size_t j = 0; j < G_N_ELEMENTS (lens); j++)
      round_trip (ns[i], lens[j]);
}

/* Each seal takes a fresh content key, nonce and ephemeral key. */
static void
test_fresh (void)
{
  g_autoptr (Members) m = make_members (2, "fresh");
  const char *text = "same plaintext, same recipients";
  char group[65];

  random_group (group);
  g_autoptr (GrpEnvelope) a = seal_ok (group, 1, m, text, strlen (text));
  g_autoptr (GrpEnvelope) b = seal_ok (group, 1, m, text, strlen (text));
  g_assert_true (memcmp (a->epk, b->epk, 32) != 0);
  g_assert_true (memcmp (a->nonce, b->nonce, GRP_NONCE) != 0);
  g_assert_true (memcmp (a->commitment, b->commitment, 32) != 0);
  g_assert_true (memcmp (a->wraps[0], b->wraps[0], GRP_WRAP) != 0);
  assert_opens (a, m->r[0].addr, m->priv[0], text, strlen (text));
  assert_opens (b, m->r[0].addr, m->priv[0], text, strlen (text));
}

/* The largest version there is (a JSON integer) works both ways. */
static void
test_version_max (void)
{
  g_autoptr (Members) m = make_members (1, "vmax");
  char group[65];
  random_group (group);
  g_autoptr (GrpEnvelope) env = seal_ok (group, G_MAXINT64, m, "x", 1);
  g_autoptr (GrpEnvelope) parsed = parse_ok (env->bytes);
  g_assert_cmpuint (parsed->version, ==, G_MAXINT64);
  assert_opens (parsed, m->r[0].addr, m->priv[0], "x", 1);
}

/* Decrypt as the README describes, without envelope.c: the format is the
 * documented one. */
static void
test_spec (void)
{
  g_autoptr (Members) m = make_members (3, "spec");
  const char *text = "{\"order\":42,\"qty\":7}";
  size_t len = strlen (text), total;
  uint8_t key[32], commitment[32], nonce[12], aad[95];
  char group[65];

  random_group (group);
  g_autoptr (GrpEnvelope) env = seal_ok (group, 3, m, text, len);
  const uint8_t *p = bytes_of (env, &total);
  json_t *hdr = header_of (env);
  const uint8_t *cipher = p + env->cipher_offset;

  /* The header holds exactly the documented fields. */
  g_assert_cmpuint (json_object_size (hdr), ==, 5);
  g_assert_cmpstr (json_string_value (json_object_get (hdr, "group")), ==,
                   group);
  g_assert_cmpint (json_integer_value (json_object_get (hdr, "version")), ==,
                   3);
  g_assert_cmpuint (json_object_size (json_object_get (hdr, "keys")), ==, 3);
  sha256 (cipher, len + 16, commitment);
  get_hex (hdr, "nonce", nonce, 12);

  memcpy (aad, "cairn.groups.content/1", 23); /* with the NUL */
  memcpy (aad + 23, group, 64);
  be64 (aad + 87, 3);
  for (size_t i = 0; i < m->n; i++) {
    uint8_t plain[64], tag[16];
    g_assert_true (
        spec_unwrap (hdr, commitment, m->r[i].addr, m->priv[i], key));
    memcpy (tag, cipher + len, 16);
    g_assert_true (
        spec_gcm (FALSE, key, nonce, aad, sizeof aad, cipher, len, plain, tag));
    g_assert_cmpmem (plain, len, text, len);
  }
  /* The wrap is bound to the commitment. */
  commitment[0] ^= 1;
  g_assert_false (spec_unwrap (hdr, commitment, m->r[0].addr, m->priv[0], key));
  json_decref (hdr);
}

/* ---- tampering ---------------------------------------------------------- */

static GBytes *
flipped (const GrpEnvelope *env, size_t at, uint8_t mask)
{
  size_t total;
  const uint8_t *p = bytes_of (env, &total);
  uint8_t *copy = g_memdup2 (p, total);
  copy[at] ^= mask;
  return g_bytes_new_take (copy, total);
}

static void
test_tamper_ciphertext (void)
{
  g_autoptr (Members) m = make_members (2, "tamper-ct");
  g_autofree uint8_t *plain = random_bytes (40);
  char group[65];
  size_t total;

  random_group (group);
  g_autoptr (GrpEnvelope) env = seal_ok (group, 1, m, plain, 40);
  bytes_of (env, &total);
  for (size_t at = env->cipher_offset; at < total; at++) {
    g_autoptr (GBytes) b = flipped (env, at, (uint8_t)(1u << (at % 8)));
    g_autoptr (GrpEnvelope) bad = parse_ok (b);
    g_assert_true (memcmp (bad->commitment, env->commitment, 32) != 0);
    g_assert_cmpmem (bad->keys_hash, 32, env->keys_hash, 32);
    for (size_t i = 0; i < m->n; i++)
      assert_open_fails (bad, m->r[i].addr, m->priv[i], G_IO_ERROR_INVALID_DATA,
                         "tampered");
  }
  assert_opens (env, m->r[0].addr, m->priv[0], plain, 40);
}

/* Any one byte changed anywhere (fixed part, header, ciphertext): parse
 * fails cleanly, or the envelope's hashes differ from the original (what a
 * member compares with the chain), at least one member cannot open it and
 * no member ever gets other plaintext. (A change in one member's entry
 * leaves the others able to read: the on-chain keys_hash catches that.) */
static void
test_tamper_every_byte (void)
{
  g_autoptr (Members) m = make_members (2, "tamper-any");
  char group[65];
  size_t total;
  const uint8_t masks[] = { 0x01, 0x20, 0x80, 0xff };
  guint parse_failed = 0, open_failed = 0;

  random_group (group);
  g_autoptr (GrpEnvelope) env = seal_ok (group, 9, m, "hello", 5);
  bytes_of (env, &total);
  for (size_t at = 0; at < total; at++)
    for (size_t k = 0; k < G_N_ELEMENTS (masks); k++) {
      g_autoptr (GBytes) b = flipped (env, at, masks[k]);
      g_autoptr (GError) error = NULL;
      g_autoptr (GrpEnvelope) bad = grp_envelope_parse (b, &error);
      guint failed = 0;
      if (bad == NULL) {
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
        g_assert_true (g_str_has_prefix (error->message, "envelope"));
        parse_failed++;
        continue;
      }
      g_assert_no_error (error);
      g_assert_true (memcmp (bad->keys_hash, env->keys_hash, 32) != 0
                     || memcmp (bad->commitment, env->commitment, 32) != 0);
      for (size_t i = 0; i < m->n; i++) {
        g_autoptr (GError) e2 = NULL;
        g_autoptr (GBytes) out = grp_open (bad, m->r[i].addr, m->priv[i], &e2);
        if (out != NULL) {
          g_assert_cmpmem (g_bytes_get_data (out, NULL), g_bytes_get_size (out),
                           "hello", 5);
          continue;
        }
        g_assert_true (e2->domain == G_IO_ERROR
                       && (e2->code == G_IO_ERROR_INVALID_DATA
                           || e2->code == G_IO_ERROR_NOT_FOUND));
        failed++;
      }
      if (failed == 0)
        g_error ("byte %zu ^ 0x%02x: every member still opens it", at,
                 masks[k]);
      open_failed++;
    }
  g_test_message ("%zu bytes x %zu masks: %u refused by parse, %u by open",
                  total, G_N_ELEMENTS (masks), parse_failed, open_failed);
  g_assert_cmpuint (parse_failed + open_failed, ==,
                    total * G_N_ELEMENTS (masks));
}

static void
test_tamper_wrap (void)
{
  g_autoptr (Members) m = make_members (2, "tamper-wrap");
  const char *text = "wrapped";
  char group[65];

  random_group (group);
  g_autoptr (GrpEnvelope) env = seal_ok (group, 4, m, text, 7);
  const char *a = m->r[0].addr;
  json_t *hdr = header_of (env);

  /* Control: re-serialising the header unchanged gives the same bytes. */
  {
    g_autoptr (GBytes) same = with_header (env, hdr);
    g_assert_true (g_bytes_equal (same, env->bytes));
  }
  for (size_t j = 0; j < GRP_WRAP; j++) {
    json_t *h = json_deep_copy (hdr);
    json_t *entry = json_object_get (json_object_get (h, "keys"), a);
    uint8_t wrap[GRP_WRAP];
    get_hex (entry, "wrap", wrap, GRP_WRAP);
    wrap[j] ^= (uint8_t)(1u << (j % 8));
    set_hex (entry, "wrap", wrap, GRP_WRAP);
    g_autoptr (GBytes) b = with_header (env, h);
    g_autoptr (GrpEnvelope) bad = parse_ok (b);
    g_autofree char *want
        = g_strdup_printf ("key wrap for %s fails its tag: tampered", a);
    assert_open_fails (bad, a, m->priv[0], G_IO_ERROR_INVALID_DATA, want);
    /* The other member's wrap is intact. */
    assert_opens (bad, m->r[1].addr, m->priv[1], text, 7);
    json_decref (h);
  }
  json_decref (hdr);
}

static void
test_swap_wraps (void)
{
  g_autoptr (Members) m = make_members (3, "swap");
  const char *text = "swap";
  char group[65];

  random_group (group);
  g_autoptr (GrpEnvelope) env = seal_ok (group, 2, m, text, 4);
  json_t *hdr = header_of (env);
  json_t *keys = json_object_get (hdr, "keys");
  json_t *e0 = json_object_get (keys, m->r[0].addr);
  json_t *e1 = json_object_get (keys, m->r[1].addr);

  /* Only the wraps swapped. */
  {
    json_t *h = json_deep_copy (hdr);
    json_t *k = json_object_get (h, "keys");
    json_object_set (json_object_get (k, m->r[0].addr), "wrap",
                     json_object_get (e1, "wrap"));
    json_object_set (json_object_get (k, m->r[1].addr), "wrap",
                     json_object_get (e0, "wrap"));
    g_autoptr (GBytes) b = with_header (env, h);
    g_autoptr (GrpEnvelope) bad = parse_ok (b);
    assert_open_fails (bad, m->r[0].addr, m->priv[0], G_IO_ERROR_INVALID_DATA,
                       "key wrap for");
    assert_open_fails (bad, m->r[1].addr, m->priv[1], G_IO_ERROR_INVALID_DATA,
                       "key wrap for");
    assert_opens (bad, m->r[2].addr, m->priv[2], text, 4);
    json_decref (h);
  }
  /* Whole entries (key and wrap) swapped: member 1's key and wrap now
   * stand under member 0's address; the address in the AAD refuses it. */
  {
    json_t *h = json_deep_copy (hdr);
    json_t *k = json_object_get (h, "keys");
    json_object_set_new (k, m->r[0].addr, json_deep_copy (e1));
    json_object_set_new (k, m->r[1].addr, json_deep_copy (e0));
    g_autoptr (GBytes) b = with_header (env, h);
    g_autoptr (GrpEnvelope) bad = parse_ok (b);
    assert_open_fails (bad, m->r[0].addr, m->priv[1], G_IO_ERROR_INVALID_DATA,
                       "key wrap for");
    assert_open_fails (bad, m->r[0].addr, m->priv[0], G_IO_ERROR_NOT_FOUND,
                       "this key is not the one");
    json_decref (h);
  }
  json_decref (hdr);
}

/* One header field changed, the header re-serialised canonically: it
 * parses, and open fails (AAD binding). */
static void
test_header_binding (void)
{
  g_autoptr (Members) m = make_members (2, "binding");
  const char *text = "bound to group and version";
  size_t len = strlen (text);
  char group[65], other[65];
  uint8_t key[32], bytes[32];
  uint8_t pub[32], priv[32];

  random_group (group);
  random_group (other);
  g_autoptr (GrpEnvelope) env = seal_ok (group, 5, m, text, len);
  const char *a = m->r[0].addr;
  json_t *hdr = header_of (env);
  g_autoptr (GError) error = NULL;

  /* version, group, epk: the wrap no longer matches. */
  for (int field = 0; field < 4; field++) {
    json_t *h = json_deep_copy (hdr);
    if (field == 0)
      json_object_set_new (h, "version", json_integer (6));
    else if (field == 1)
      json_object_set_new (h, "version", json_integer (4));
    else if (field == 2)
      json_object_set_new (h, "group", json_string (other));
    else {
      g_assert_true (grp_key_generate (priv, pub, &error));
      set_hex (h, "epk", pub, 32);
    }
    g_autoptr (GBytes) b = with_header (env, h);
    g_autoptr (GrpEnvelope) bad = parse_ok (b);
    assert_open_fails (bad, a, m->priv[0], G_IO_ERROR_INVALID_DATA,
                       "key wrap for");
    json_decref (h);
  }
  /* An epk of small order. */
  {
    json_t *h = json_deep_copy (hdr);
    memset (bytes, 0, 32);
    set_hex (h, "epk", bytes, 32);
    g_autoptr (GBytes) b = with_header (env, h);
    g_autoptr (GrpEnvelope) bad = parse_ok (b);
    assert_open_fails (bad, a, m->priv[0], G_IO_ERROR_INVALID_DATA, "epk");
    json_decref (h);
  }
  /* The nonce is not in the wrap's AAD: the key unwraps, the content
   * fails. */
  {
    json_t *h = json_deep_copy (hdr);
    get_hex (h, "nonce", bytes, 12);
    bytes[11] ^= 1;
    set_hex (h, "nonce", bytes, 12);
    g_autoptr (GBytes) b = with_header (env, h);
    g_autoptr (GrpEnvelope) bad = parse_ok (b);
    assert_open_fails (bad, a, m->priv[0], G_IO_ERROR_INVALID_DATA,
                       "ciphertext fails its tag: tampered");
    json_decref (h);
  }
  /* A member key changed: that member's private key no longer fits. */
  {
    json_t *h = json_deep_copy (hdr);
    json_t *entry = json_object_get (json_object_get (h, "keys"), a);
    g_assert_true (grp_key_generate (priv, pub, &error));
    set_hex (entry, "pk", pub, 32);
    g_autoptr (GBytes) b = with_header (env, h);
    g_autoptr (GrpEnvelope) bad = parse_ok (b);
    assert_open_fails (bad, a, m->priv[0], G_IO_ERROR_NOT_FOUND,
                       "this key is not the one");
    /* ... and with the matching private key, the wrap fails. */
    assert_open_fails (bad, a, priv, G_IO_ERROR_INVALID_DATA, "key wrap for");
    json_decref (h);
  }

  /* The content AAD: re-wrap the real content key (as the README says)
   * under another group or version, so the wrap passes and only the
   * content's AAD can refuse. Control first: re-wrapped unchanged, it
   * opens. */
  g_assert_true (spec_unwrap (hdr, env->commitment, a, m->priv[0], key));
  for (int field = 0; field < 3; field++) {
    json_t *h = json_deep_copy (hdr);
    if (field == 1)
      json_object_set_new (h, "version", json_integer (6));
    else if (field == 2)
      json_object_set_new (h, "group", json_string (other));
    spec_rewrap (h, env->commitment, a, m->priv[0], key);
    g_autoptr (GBytes) b = with_header (env, h);
    g_autoptr (GrpEnvelope) bad = parse_ok (b);
    if (field == 0)
      assert_opens (bad, a, m->priv[0], text, len);
    else
      assert_open_fails (bad, a, m->priv[0], G_IO_ERROR_INVALID_DATA,
                         "ciphertext fails its tag: tampered");
    json_decref (h);
  }
  json_decref (hdr);
}

/* ---- the parser --------------------------------------------------------- */

static GBytes *
text_variant (const GrpEnvelope *env, const char *text)
{
  return with_header_text (env, text, strlen (text));
}

static void
assert_text_fails (const GrpEnvelope *env, const char *text, const char *want)
{
  g_autoptr (GBytes) b = text_variant (env, text);
  assert_parse_fails (b, want);
}

static void
assert_json_fails (const GrpEnvelope *env, json_t *h, const char *want)
{
  g_autoptr (GBytes) b = with_header (env, h);
  assert_parse_fails (b, want);
  json_decref (h);
}

/* Replaces the first occurrence of from in s (which must hold it). */
static char *
replace (const char *s, const char *from, const char *to)
{
  const char *at = strstr (s, from);
  g_assert_nonnull (at);
  return g_strdup_printf ("%.*s%s%s", (int)(at - s), s, to, at + strlen (from));
}

static void
test_non_canonical (void)
{
  g_autoptr (Members) m = make_members (2, "canonical");
  char group[65];
  random_group (group);
  g_autoptr (GrpEnvelope) env = seal_ok (group, 1, m, "c", 1);
  json_t *hdr = header_of (env);
  char *canon = json_dumps (hdr, JSON_COMPACT | JSON_SORT_KEYS);
  const char *a0 = env->recipients[0].addr;

  /* Control: the canonical text parses. */
  {
    g_autoptr (GBytes) b = text_variant (env, canon);
    g_autoptr (GrpEnvelope) ok = parse_ok (b);
    check_same (ok, env);
  }

  /* Text that is valid JSON with the same content but not canonical. */
  {
    g_autofree char *t = replace (canon, "\"epk\":", "\"epk\": ");
    assert_text_fails (env, t, "not canonical");
  }
  {
    g_autofree char *t = g_strconcat (canon, "\n", NULL);
    assert_text_fails (env, t, "not canonical");
  }
  {
    g_autofree char *t = g_strconcat (" ", canon, NULL);
    assert_text_fails (env, t, "not canonical");
  }
  {
    /* Keys unsorted: version first. */
    g_autofree char *tail = replace (canon, ",\"version\":1}", "}");
    g_autofree char *t = replace (tail, "{\"epk\"", "{\"version\":1,\"epk\"");
    assert_text_fails (env, t, "not canonical");
  }
  {
    /* The two recipients in reverse order. */
    json_t *keys = json_object_get (hdr, "keys");
    char *e0 = json_dumps (json_object_get (keys, a0), JSON_COMPACT);
    char *e1 = json_dumps (json_object_get (keys, env->recipients[1].addr),
                           JSON_COMPACT);
    g_autofree char *sorted = g_strdup_printf (
        "\"keys\":{\"%s\":%s,\"%s\":%s}", a0, e0, env->recipients[1].addr, e1);
    g_autofree char *reversed = g_strdup_printf (
        "\"keys\":{\"%s\":%s,\"%s\":%s}", env->recipients[1].addr, e1, a0, e0);
    g_autofree char *t = replace (canon, sorted, reversed);
    assert_text_fails (env, t, "not canonical");
    free (e0);
    free (e1);
  }
  {
    /* An escape where a plain character would do. */
    char first[2] = { group[0], 0 };
    g_autofree char *from = g_strdup_printf ("\"group\":\"%s", first);
    g_autofree char *to = g_strdup_printf ("\"group\":\"\\u00%02x", group[0]);
    g_autofree char *t = replace (canon, from, to);
    assert_text_fails (env, t, "not canonical");
  }
  {
    g_autofree char *t = replace (canon, "\"version\":1}", "\"version\":1e0}");
    assert_text_fails (env, t, "envelope header");
  }
  /* Not JSON, or not what Jansson accepts here. */
  {
    g_autofree char *dup = g_strdup_printf (
        "{\"epk\":\"%s\",%s", json_string_value (json_object_get (hdr, "epk")),
        canon + 1);
    assert_text_fails (env, dup, "not valid JSON");
  }
  {
    g_autofree char *t = g_strconcat (canon, "x", NULL);
    assert_text_fails (env, t, "not valid JSON");
  }
  {
    g_autofree char *t
        = replace (canon, "\"version\":1}", "\"version\":9223372036854775808}");
    assert_text_fails (env, t, "not valid JSON");
  }
  {
    g_autofree char *t = replace (canon, "\"nonce\":\"", "\"nonce\":\"\\u0000");
    assert_text_fails (env, t, "not valid JSON");
  }
  {
    g_autoptr (GBytes) b = with_header_text (env, canon, strlen (canon) - 1);
    assert_parse_fails (b, "not valid JSON");
  }
  {
    /* A NUL byte inside the header. */
    g_autofree char *t = g_strdup (canon);
    t[5] = '\0';
    g_autoptr (GBytes) b = with_header_text (env, t, strlen (canon));
    assert_parse_fails (b, "envelope header");
  }
  assert_text_fails (env, "", "not valid JSON");
  assert_text_fails (env, "[]", "not a JSON object");
  assert_text_fails (env, "{}", "missing 'epk'");
  assert_text_fails (env, "null", "not valid JSON");

  /* Canonical, but the wrong shape. */
  json_t *h;
  h = json_deep_copy (hdr);
  json_object_set_new (h, "version", json_real (1.0));
  assert_json_fails (env, h, "'version' is not a positive integer");
  h = json_deep_copy (hdr);
  json_object_set_new (h, "version", json_integer (0));
  assert_json_fails (env, h, "'version' is not a positive integer");
  h = json_deep_copy (hdr);
  json_object_set_new (h, "version", json_integer (-1));
  assert_json_fails (env, h, "'version' is not a positive integer");
  h = json_deep_copy (hdr);
  json_object_set_new (h, "version", json_string ("1"));
  assert_json_fails (env, h, "'version' is not a positive integer");
  h = json_deep_copy (hdr);
  json_object_set_new (h, "extra", json_integer (1));
  assert_json_fails (env, h, "unknown key 'extra'");
  h = json_deep_copy (hdr);
  json_object_del (h, "nonce");
  assert_json_fails (env, h, "missing 'nonce'");
  h = json_deep_copy (hdr);
  json_object_set_new (h, "nonce", json_integer (1));
  assert_json_fails (env, h, "nonce is not 24 lowercase hex chars");
  h = json_deep_copy (hdr);
  json_object_set_new (h, "nonce", json_string ("00112233445566778899aa"));
  assert_json_fails (env, h, "nonce is not 24 lowercase hex chars");
  h = json_deep_copy (hdr);
  {
    g_autofree char *up
        = g_ascii_strup (json_string_value (json_object_get (hdr, "epk")), -1);
    json_object_set_new (h, "epk", json_string (up));
  }
  assert_json_fails (env, h, "epk is not 64 lowercase hex chars");
  h = json_deep_copy (hdr);
  {
    g_autofree char *g = g_strdup (group);
    g[63] = 'g';
    json_object_set_new (h, "group", json_string (g));
  }
  assert_json_fails (env, h, "group is not 64 lowercase hex chars");
  h = json_deep_copy (hdr);
  json_object_set_new (h, "group", json_string ("abc"));
  assert_json_fails (env, h, "group is not 64 lowercase hex chars");
  h = json_deep_copy (hdr);
  json_object_set_new (h, "keys", json_object ());
  assert_json_fails (env, h, "'keys' is empty");
  h = json_deep_copy (hdr);
  json_object_set_new (h, "keys", json_array ());
  assert_json_fails (env, h, "'keys' is not an object");

  /* The keys entries. */
  json_t *entry0 = json_object_get (json_object_get (hdr, "keys"), a0);
  const char *bad_addrs[] = { "",
                              "00",
                              "0123456789abcdef0123456789abcdef012345",
                              "0123456789abcdef0123456789abcdef01234567a",
                              "0123456789ABCDEF0123456789abcdef01234567",
                              "0123456789abcdef0123456789abcdef0123456g" };
  for (size_t i = 0; i < G_N_ELEMENTS (bad_addrs); i++) {
    h = json_deep_copy (hdr);
    json_object_set (json_object_get (h, "keys"), bad_addrs[i], entry0);
    assert_json_fails (env, h, "is not an address");
  }
  g_autofree char *where = g_strdup_printf ("'keys' entry for %s: ", a0);
  struct {
    const char *key;
    json_t *value;
    const char *want;
  } entry_cases[] = {
    { "x", json_integer (1), "unknown key 'x'" },
    { "wrap", NULL, "missing 'wrap'" },
    { "pk", NULL, "missing 'pk'" },
    { "wrap", json_string ("00"), "wrap is not 96 lowercase hex chars" },
    { "wrap", json_integer (0), "wrap is not 96 lowercase hex chars" },
    { "pk", json_string ("ff"), "pk is not 64 lowercase hex chars" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (entry_cases); i++) {
    h = json_deep_copy (hdr);
    json_t *e = json_object_get (json_object_get (h, "keys"), a0);
    if (entry_cases[i].value != NULL)
      json_object_set_new (e, entry_cases[i].key, entry_cases[i].value);
    else
      json_object_del (e, entry_cases[i].key);
    g_autofree char *want = g_strconcat (where, entry_cases[i].want, NULL);
    assert_json_fails (env, h, want);
  }
  {
    /* The wrap 94 chars, and in uppercase. */
    const char *w = json_string_value (json_object_get (entry0, "wrap"));
    g_autofree char *short_w = g_strndup (w, 94);
    g_autofree char *up = g_ascii_strup (w, -1);
    g_autofree char *want
        = g_strconcat (where, "wrap is not 96 lowercase hex chars", NULL);
    h = json_deep_copy (hdr);
    json_object_set_new (json_object_get (json_object_get (h, "keys"), a0),
                         "wrap", json_string (short_w));
    assert_json_fails (env, h, want);
    h = json_deep_copy (hdr);
    json_object_set_new (json_object_get (json_object_get (h, "keys"), a0),
                         "wrap", json_string (up));
    assert_json_fails (env, h, want);
  }
  h = json_deep_copy (hdr);
  json_object_set_new (json_object_get (h, "keys"), a0, json_string ("x"));
  {
    g_autofree char *want = g_strconcat (where, "not an object", NULL);
    assert_json_fails (env, h, want);
  }

  free (canon);
  json_decref (hdr);
}

static GBytes *
patched (const GrpEnvelope *env, size_t at, const uint8_t *v, size_t n)
{
  size_t total;
  const uint8_t *p = bytes_of (env, &total);
  uint8_t *copy = g_memdup2 (p, total);
  memcpy (copy + at, v, n);
  return g_bytes_new_take (copy, total);
}

static void
test_fixed_part (void)
{
  g_autoptr (Members) m = make_members (1, "fixed");
  char group[65];
  size_t total;

  random_group (group);
  g_autoptr (GrpEnvelope) env = seal_ok (group, 1, m, "fixed", 5);
  bytes_of (env, &total);
  uint32_t hlen = (uint32_t)(env->cipher_offset - GRP_FIXED);

  for (size_t i = 0; i < 8; i++) {
    g_autoptr (GBytes) b = flipped (env, i, 0x20);
    assert_parse_fails (b, "bad magic");
  }
  {
    const uint8_t v[] = { 0 }, w[] = { 2 }, x[] = { 0xff };
    g_autoptr (GBytes) b0 = patched (env, 8, v, 1);
    g_autoptr (GBytes) b2 = patched (env, 8, w, 1);
    g_autoptr (GBytes) bf = patched (env, 8, x, 1);
    assert_parse_fails (b0, "format version 0, this build reads only 1");
    assert_parse_fails (b2, "format version 2");
    assert_parse_fails (bf, "format version 255");
  }
  for (size_t i = 9; i < 12; i++) {
    g_autoptr (GBytes) b = flipped (env, i, 1);
    assert_parse_fails (b, "reserved bytes");
  }
  /* Header lengths: too large for the limit, past the end, leaving no room
   * for the tag, shorter than the JSON. */
  struct {
    uint32_t h;
    const char *want;
  } cases[] = {
    { 0xffffffffu, "over the limit" },
    { 0x80000000u, "over the limit" },
    { GRP_MAX_HEADER + 1, "over the limit" },
    { GRP_MAX_HEADER, "truncated: header length" },
    { (uint32_t)(total - GRP_FIXED + 1), "truncated: header length" },
    { (uint32_t)(total - GRP_FIXED), "less than the 16-byte tag" },
    { (uint32_t)(total - GRP_FIXED - GRP_TAG + 1),
      "less than the 16-byte tag" },
    { (uint32_t)(total - GRP_FIXED - GRP_TAG), "envelope header" },
    { hlen + 1, "envelope header" },
    { hlen - 1, "not valid JSON" },
    { 0, "not valid JSON" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    uint8_t be[4] = { (uint8_t)(cases[i].h >> 24), (uint8_t)(cases[i].h >> 16),
                      (uint8_t)(cases[i].h >> 8), (uint8_t)cases[i].h };
    g_autoptr (GBytes) b = patched (env, 12, be, 4);
    assert_parse_fails (b, cases[i].want);
  }
}

/* Every prefix of a small envelope: parse refuses it until ciphertext and
 * tag can be there; after that it parses (the bytes are well formed) with
 * another commitment, and open refuses it. Also one byte too many. */
static void
test_truncated (void)
{
  g_autoptr (Members) m = make_members (1, "truncated");
  char group[65];
  size_t total;

  random_group (group);
  g_autoptr (GrpEnvelope) env = seal_ok (group, 1, m, "short payload", 13);
  const uint8_t *p = bytes_of (env, &total);
  for (size_t len = 0; len < total; len++) {
    /* A copy of exactly len bytes, so ASan sees any read past them. */
    g_autoptr (GBytes) b = g_bytes_new (p, len);
    g_autoptr (GError) error = NULL;
    g_autoptr (GrpEnvelope) t = grp_envelope_parse (b, &error);
    if (len < env->cipher_offset + GRP_TAG) {
      g_assert_null (t);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      if (len < GRP_FIXED)
        g_assert_nonnull (strstr (error->message, "truncated"));
      continue;
    }
    g_assert_no_error (error);
    g_assert_cmpuint (t->size, ==, len - env->cipher_offset - GRP_TAG);
    g_assert_true (memcmp (t->commitment, env->commitment, 32) != 0);
    assert_open_fails (t, m->r[0].addr, m->priv[0], G_IO_ERROR_INVALID_DATA,
                       "tampered");
  }
  {
    uint8_t *longer = g_malloc (total + 1);
    memcpy (longer, p, total);
    longer[total] = 0;
    g_autoptr (GBytes) b = g_bytes_new_take (longer, total + 1);
    g_autoptr (GrpEnvelope) t = parse_ok (b);
    g_assert_cmpuint (t->size, ==, 14);
    assert_open_fails (t, m->r[0].addr, m->priv[0], G_IO_ERROR_INVALID_DATA,
                       "tampered");
  }
}

/* ---- grp_seal's refusals ----------------------------------------------- */

static void
assert_seal_fails (const char *group, uint64_t version, const GrpRecipient *r,
                   size_t n, const char *want)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GrpEnvelope) env = grp_seal (group, version, r, n, "p", 1, &error);
  g_assert_null (env);
  assert_err (error, G_IO_ERROR_INVALID_ARGUMENT, want);
}

static void
test_seal_errors (void)
{
  g_autoptr (Members) m = make_members (3, "seal-errors");
  char group[65];
  GrpRecipient r[3];

  random_group (group);
  /* Duplicates, wherever they are in the list. */
  memcpy (r, m->r, sizeof r);
  r[2] = r[0];
  {
    g_autofree char *want
        = g_strdup_printf ("recipient %s appears twice", r[0].addr);
    assert_seal_fails (group, 1, r, 3, want);
  }
  memcpy (r, m->r, sizeof r);
  r[1] = r[2];
  r[1].pk[0] ^= 1; /* same address, another key */
  assert_seal_fails (group, 1, r, 3, "appears twice");

  assert_seal_fails (group, 1, m->r, 0, "no recipients");
  assert_seal_fails (group, 1, NULL, 0, "no recipients");

  g_autofree char *upper = g_ascii_strup (group, -1);
  g_autofree char *g63 = g_strndup (group, 63);
  g_autofree char *g65 = g_strconcat (group, "0", NULL);
  g_autofree char *gg = g_strdup (group);
  gg[10] = 'g';
  const char *bad_groups[] = { upper, g63, g65, gg, "" };
  for (size_t i = 0; i < G_N_ELEMENTS (bad_groups); i++)
    assert_seal_fails (bad_groups[i], 1, m->r, 3,
                       "is not 64 lowercase hex chars");
  assert_seal_fails (NULL, 1, m->r, 3, "group id");

  assert_seal_fails (group, 0, m->r, 3, "version 0 is out of range");
  assert_seal_fails (group, (uint64_t)G_MAXINT64 + 1, m->r, 3,
                     "is out of range");

  /* Addresses: uppercase, short, no NUL in its 41 bytes. */
  memcpy (r, m->r, sizeof r);
  r[1].addr[3] = 'A';
  assert_seal_fails (group, 1, r, 3, "recipient 1: address");
  memcpy (r, m->r, sizeof r);
  r[2].addr[39] = '\0';
  assert_seal_fails (group, 1, r, 3, "is not 40 lowercase hex chars");
  memcpy (r, m->r, sizeof r);
  memset (r[0].addr, 'a', sizeof r[0].addr);
  assert_seal_fails (group, 1, r, 3, "recipient 0: address");

  /* A member key of small order (0 and 1) gives no shared secret. */
  memcpy (r, m->r, sizeof r);
  memset (r[1].pk, 0, 32);
  {
    g_autofree char *want
        = g_strdup_printf ("recipient %s: its public key", r[1].addr);
    assert_seal_fails (group, 1, r, 3, want);
  }
  r[1].pk[0] = 1;
  assert_seal_fails (group, 1, r, 3, "not a usable X25519 key");
}

/* The header limit: about 1175 recipients fit in GRP_MAX_HEADER. */
static void
test_header_limit (void)
{
  g_autoptr (Members) m = make_members (1200, "limit");
  g_autoptr (GError) error = NULL;
  char group[65];

  random_group (group);
  g_autoptr (GrpEnvelope) big = grp_seal (group, 1, m->r, 1100, "x", 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (big->cipher_offset - GRP_FIXED, <=, GRP_MAX_HEADER);
  g_autoptr (GrpEnvelope) parsed = parse_ok (big->bytes);
  g_assert_cmpuint (parsed->n_recipients, ==, 1100);
  assert_opens (parsed, m->r[1099].addr, m->priv[1099], "x", 1);

  assert_seal_fails (group, 1, m->r, 1200, "over the limit of 262144");
}

/* ---- keys --------------------------------------------------------------- */

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmpdir, name, NULL);
}

/* Runs argv, asserts that it succeeds; returns its stdout. */
static char *
run_cmd (const char *const *argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *err = NULL;
  char *out = NULL;
  int status = 0;

  g_assert_true (g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH,
                               NULL, NULL, &out, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("%s %s exited with %d: %s", argv[0], argv[1], status, err);
  return out;
}

/* The public key the openssl command derives from a PEM file. */
static void
openssl_pub (const char *pem, uint8_t pub[32])
{
  g_autofree char *der_path = g_strconcat (pem, ".pub.der", NULL);
  const char *argv[] = { "openssl",  "pkey", "-in",  pem,      "-pubout",
                         "-outform", "DER",  "-out", der_path, NULL };
  g_autofree char *out = run_cmd (argv);
  g_autofree char *der = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (der_path, &der, &len, NULL));
  /* SubjectPublicKeyInfo of X25519: 12 bytes of prefix, then the key. */
  g_assert_cmpuint (len, ==, 44);
  memcpy (pub, der + 12, 32);
  g_unlink (der_path);
}

static guint
dir_entries (void)
{
  g_autoptr (GDir) d = g_dir_open (tmpdir, 0, NULL);
  guint n = 0;
  while (d != NULL && g_dir_read_name (d) != NULL)
    n++;
  return n;
}

static void
test_keys (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = tmp_path ("enc.pem");
  uint8_t priv[32], pub[32], back[32], pub2[32];
  g_autofree char *before = NULL, *after = NULL;
  GStatBuf st;

  g_assert_true (grp_key_generate (priv, pub, &error));
  g_assert_no_error (error);
  g_assert_true (grp_key_public (priv, pub2, &error));
  g_assert_cmpmem (pub, 32, pub2, 32);

  guint n0 = dir_entries ();
  g_assert_true (grp_key_save (path, priv, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpuint (dir_entries (), ==, n0 + 1); /* no temporary file left */
  g_assert_true (g_file_get_contents (path, &before, NULL, NULL));
  g_assert_true (g_str_has_prefix (before, "-----BEGIN PRIVATE KEY-----\n"));

  g_assert_true (grp_key_load (path, back, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (back, 32, priv, 32);
  /* The openssl command reads it as the same X25519 key. */
  openssl_pub (path, pub2);
  g_assert_cmpmem (pub2, 32, pub, 32);

  /* Never overwritten. */
  {
    uint8_t other[32], other_pub[32];
    g_assert_true (grp_key_generate (other, other_pub, NULL));
    g_assert_false (grp_key_save (path, other, &error));
    assert_err (error, G_IO_ERROR_EXISTS, path);
    g_clear_error (&error);
    g_assert_true (g_file_get_contents (path, &after, NULL, NULL));
    g_assert_cmpstr (before, ==, after);
    g_assert_cmpuint (dir_entries (), ==, n0 + 1);
  }
  /* A directory that is not there. */
  {
    g_autofree char *nodir = tmp_path ("no/such/dir/enc.pem");
    g_assert_false (grp_key_save (nodir, priv, &error));
    assert_err (error, G_IO_ERROR_NOT_FOUND, nodir);
    g_clear_error (&error);
  }
  g_unlink (path);
}

static void
write_file (const char *path, const char *text, gssize len)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_set_contents (path, text, len, &error));
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);
}

static void
test_key_load_errors (void)
{
  g_autoptr (GError) error = NULL;
  uint8_t priv[32], pub[32], mine[32];
  g_autofree char *missing = tmp_path ("missing.pem");
  g_autofree char *ed = tmp_path ("ed25519.pem");
  g_autofree char *garbage = tmp_path ("garbage.pem");
  g_autofree char *empty = tmp_path ("empty.pem");
  g_autofree char *huge = tmp_path ("huge.pem");
  g_autofree char *gen = tmp_path ("genpkey.pem");
  g_autofree char *enc = tmp_path ("encrypted.pem");

  g_assert_false (grp_key_load (missing, priv, &error));
  assert_err (error, G_IO_ERROR_NOT_FOUND, missing);
  g_clear_error (&error);

  /* An Ed25519 key (what the node key is) is the wrong type. */
  {
    EVP_PKEY *k = EVP_PKEY_Q_keygen (NULL, NULL, "ED25519");
    BIO *bio = BIO_new_file (ed, "w");
    g_assert_nonnull (k);
    g_assert_nonnull (bio);
    g_assert_cmpint (
        PEM_write_bio_PrivateKey (bio, k, NULL, NULL, 0, NULL, NULL), ==, 1);
    BIO_free (bio);
    EVP_PKEY_free (k);
    g_assert_cmpint (g_chmod (ed, 0600), ==, 0);
  }
  g_assert_false (grp_key_load (ed, priv, &error));
  assert_err (error, G_IO_ERROR_INVALID_DATA, ed);
  g_assert_nonnull (strstr (error->message, "not an X25519 key"));
  g_clear_error (&error);

  write_file (garbage, "-----BEGIN PRIVATE KEY-----\nAAAA\n", -1);
  g_assert_false (grp_key_load (garbage, priv, &error));
  assert_err (error, G_IO_ERROR_INVALID_DATA, garbage);
  g_clear_error (&error);
  write_file (empty, "", 0);
  g_assert_false (grp_key_load (empty, priv, &error));
  assert_err (error, G_IO_ERROR_INVALID_DATA, empty);
  g_clear_error (&error);
  {
    g_autofree char *big = g_strnfill (20000, 'A');
    write_file (huge, big, -1);
  }
  g_assert_false (grp_key_load (huge, priv, &error));
  assert_err (error, G_IO_ERROR_INVALID_DATA, "larger than");
  g_clear_error (&error);
  g_assert_false (grp_key_load (tmpdir, priv, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, tmpdir));
  g_clear_error (&error);

  /* A key made by `openssl genpkey` loads, with the same public key. */
  {
    const char *argv[]
        = { "openssl", "genpkey", "-algorithm", "X25519", "-out", gen, NULL };
    g_autofree char *out = run_cmd (argv);
  }
  /* Readable by others: refused, naming the mode and the fix. */
  g_assert_cmpint (g_chmod (gen, 0640), ==, 0);
  g_assert_false (grp_key_load (gen, priv, &error));
  assert_err (error, G_IO_ERROR_PERMISSION_DENIED, gen);
  g_assert_nonnull (strstr (error->message, "mode 0640"));
  g_assert_nonnull (strstr (error->message, "chmod 600"));
  g_clear_error (&error);
  g_assert_cmpint (g_chmod (gen, 0600), ==, 0);
  g_assert_true (grp_key_load (gen, priv, &error));
  g_assert_no_error (error);
  g_assert_true (grp_key_public (priv, mine, &error));
  openssl_pub (gen, pub);
  g_assert_cmpmem (mine, 32, pub, 32);

  /* An encrypted one is refused (and nothing asks for a passphrase). */
  {
    const char *argv[]
        = { "openssl", "genpkey",     "-algorithm", "X25519", "-aes-256-cbc",
            "-pass",   "pass:secret", "-out",       enc,      NULL };
    g_autofree char *out = run_cmd (argv);
  }
  g_assert_false (grp_key_load (enc, priv, &error));
  assert_err (error, G_IO_ERROR_INVALID_DATA, enc);
  g_assert_nonnull (strstr (error->message, "encrypted"));
  g_clear_error (&error);

  const char *files[] = { ed, garbage, empty, huge, gen, enc };
  for (size_t i = 0; i < G_N_ELEMENTS (files); i++)
    g_unlink (files[i]);
}

static void
test_hex (void)
{
  const uint8_t in[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
  char out[13];
  memset (out, 'x', sizeof out);
  grp_hex (in, sizeof in, out);
  g_assert_cmpstr (out, ==, "00017f80abff");
  grp_hex (in, 0, out);
  g_assert_cmpstr (out, ==, "");
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int rc;

  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("cairn-test-groups-envelope-XXXXXX", &error);
  g_assert_no_error (error);

  g_test_add_func ("/groups/envelope/round-trip", test_round_trip);
  g_test_add_func ("/groups/envelope/fresh", test_fresh);
  g_test_add_func ("/groups/envelope/version-max", test_version_max);
  g_test_add_func ("/groups/envelope/spec", test_spec);
  g_test_add_func ("/groups/envelope/tamper-ciphertext",
                   test_tamper_ciphertext);
  g_test_add_func ("/groups/envelope/tamper-every-byte",
                   test_tamper_every_byte);
  g_test_add_func ("/groups/envelope/tamper-wrap", test_tamper_wrap);
  g_test_add_func ("/groups/envelope/swap-wraps", test_swap_wraps);
  g_test_add_func ("/groups/envelope/header-binding", test_header_binding);
  g_test_add_func ("/groups/envelope/non-canonical", test_non_canonical);
  g_test_add_func ("/groups/envelope/fixed-part", test_fixed_part);
  g_test_add_func ("/groups/envelope/truncated", test_truncated);
  g_test_add_func ("/groups/envelope/seal-errors", test_seal_errors);
  g_test_add_func ("/groups/envelope/header-limit", test_header_limit);
  g_test_add_func ("/groups/envelope/keys", test_keys);
  g_test_add_func ("/groups/envelope/key-load-errors", test_key_load_errors);
  g_test_add_func ("/groups/envelope/hex", test_hex);
  rc = g_test_run ();

  if (g_rmdir (tmpdir) != 0)
    g_printerr ("cannot remove %s: %s\n", tmpdir, g_strerror (errno));
  g_free (tmpdir);
  return rc;
}
