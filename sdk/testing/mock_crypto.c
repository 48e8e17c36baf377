/* The mock host's keys, hashing, signatures and canonical JSON (OpenSSL
 * and Jansson, as the node's): see <cairn/testing/mock_host.h>. */
#include <string.h>

#include <openssl/sha.h>

#include "mock_private.h"

#define CJSON_MAX_DEPTH 64
#define CJSON_DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)

void
cairn_test__sha256 (const void *data, size_t len, uint8_t out[32])
{
  SHA256 (data, len, out);
}

char *
cairn_test__sha256_hex (const void *data, size_t len)
{
  uint8_t h[32];
  SHA256 (data, len, h);
  return cairn_hex_encode (h, 32);
}

static void
m_address_from_pubkey (const uint8_t pubkey[32], char out[41])
{
  uint8_t h[32];
  SHA256 (pubkey, 32, h);
  g_autofree char *hex = cairn_hex_encode (h, 20);
  memcpy (out, hex, 41);
}

gboolean
cairn_test__address_valid (const char *address)
{
  return cairn_hex_lower_valid (address, 20);
}

/* A deterministic key: the seed is SHA-256 of "cairn-test-key\0<seed>". */
void
cairn_test__account_init (MockAccount *a, const char *seed)
{
  uint8_t priv[32], pub[32];
  size_t publen = sizeof pub;
  g_autoptr (GString) s = g_string_new ("cairn-test-key");
  g_string_append_len (s, "", 1);
  g_string_append (s, seed);
  SHA256 ((const uint8_t *)s->str, s->len, priv);
  a->key = EVP_PKEY_new_raw_private_key (EVP_PKEY_ED25519, NULL, priv, 32);
  if (a->key == NULL || EVP_PKEY_get_raw_public_key (a->key, pub, &publen) != 1)
    g_error ("mock host: cannot make an Ed25519 key (OpenSSL)");
  m_address_from_pubkey (pub, a->address);
  g_autofree char *hex = cairn_hex_encode (pub, 32);
  memcpy (a->pubkey_hex, hex, 65);
  a->name = g_strdup (seed);
}

void
cairn_test__account_clear (MockAccount *a)
{
  EVP_PKEY_free (a->key);
  g_free (a->name);
  a->key = NULL;
  a->name = NULL;
}

static GBytes *
domain_msg (const char *domain, const void *msg, size_t len)
{
  GByteArray *a = g_byte_array_new ();
  g_byte_array_append (a, (const guint8 *)domain, (guint)strlen (domain) + 1);
  if (len > 0)
    g_byte_array_append (a, msg, (guint)len);
  return g_byte_array_free_to_bytes (a);
}

void
cairn_test__sign (EVP_PKEY *key, const char *domain, const void *msg,
                  size_t len, uint8_t sig[64])
{
  g_autoptr (GBytes) m = domain_msg (domain, msg, len);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
  size_t siglen = 64;
  gsize mlen;
  const guint8 *mp = g_bytes_get_data (m, &mlen);
  if (ctx == NULL || EVP_DigestSignInit (ctx, NULL, NULL, NULL, key) != 1
      || EVP_DigestSign (ctx, sig, &siglen, mp, mlen) != 1)
    g_error ("mock host: Ed25519 signing failed (OpenSSL)");
  EVP_MD_CTX_free (ctx);
}

static gboolean
m_ed25519_verify (const uint8_t pubkey[32], const char *domain, const void *msg,
                  size_t len, const uint8_t sig[64])
{
  if (pubkey == NULL || domain == NULL || sig == NULL
      || (msg == NULL && len > 0))
    return FALSE;
  g_autoptr (GBytes) m = domain_msg (domain, msg, len);
  EVP_PKEY *pk
      = EVP_PKEY_new_raw_public_key (EVP_PKEY_ED25519, NULL, pubkey, 32);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
  gsize mlen;
  const guint8 *mp = g_bytes_get_data (m, &mlen);
  gboolean ok = pk != NULL && ctx != NULL
                && EVP_DigestVerifyInit (ctx, NULL, NULL, NULL, pk) == 1
                && EVP_DigestVerify (ctx, sig, 64, mp, mlen) == 1;
  EVP_MD_CTX_free (ctx);
  EVP_PKEY_free (pk);
  return ok;
}

/* ---- canonical JSON, as core/cjson.c ---- */

static gboolean
check_value (const json_t *value, int depth, GError **error)
{
  switch (json_typeof (value)) {
  case JSON_REAL:
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "canonical JSON: real number %.17g (only integers are "
                       "allowed)",
                       json_real_value (value));
  case JSON_STRING: {
    size_t n = json_string_length (value);
    const char *s = json_string_value (value);
    if (memchr (s, '\0', n) != NULL || !g_utf8_validate_len (s, n, NULL))
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "canonical JSON: string holds NUL or invalid UTF-8");
    return TRUE;
  }
  case JSON_OBJECT:
  case JSON_ARRAY: {
    if (depth >= CJSON_MAX_DEPTH)
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "canonical JSON: nested deeper than %d levels",
                         CJSON_MAX_DEPTH);
    json_t *v = (json_t *)value;
    if (json_is_array (v)) {
      size_t i;
      json_t *item;
      json_array_foreach (v, i, item)
      {
        if (!check_value (item, depth + 1, error))
          return FALSE;
      }
    } else {
      const char *k;
      json_t *item;
      json_object_foreach (v, k, item)
      {
        if (!check_value (item, depth + 1, error))
          return FALSE;
      }
    }
    return TRUE;
  }
  default:
    return TRUE;
  }
}

char *
cairn_test__cjson_dump (const json_t *value, size_t *len, GError **error)
{
  if (value == NULL) {
    cairn_fail (error, CAIRN_ERROR_INVALID, "canonical JSON: no value (NULL)");
    return NULL;
  }
  if (!check_value (value, 0, error))
    return NULL;
  char *s = json_dumps (value, CJSON_DUMP_FLAGS);
  if (s == NULL) {
    cairn_fail (error, CAIRN_ERROR_INVALID, "canonical JSON: cannot encode");
    return NULL;
  }
  char *out = g_strdup (s);
  free (s);
  if (len != NULL)
    *len = strlen (out);
  return out;
}

json_t *
cairn_test__cjson_parse (const char *text, size_t len,
                         gboolean require_canonical, GError **error)
{
  json_error_t jerr;
  if (text == NULL || len == 0) {
    cairn_fail (error, CAIRN_ERROR_INVALID, "invalid JSON at byte 0: empty");
    return NULL;
  }
  json_t *v
      = json_loadb (text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
  if (v == NULL) {
    cairn_fail (error, CAIRN_ERROR_INVALID, "invalid JSON at byte %d: %s",
                jerr.position, jerr.text);
    return NULL;
  }
  if (!check_value (v, 0, error)) {
    json_decref (v);
    return NULL;
  }
  if (require_canonical) {
    size_t n;
    g_autofree char *canon = cairn_test__cjson_dump (v, &n, NULL);
    if (canon == NULL || n != len || memcmp (canon, text, len) != 0) {
      json_decref (v);
      cairn_fail (error, CAIRN_ERROR_INVALID,
                  "not canonical JSON (sorted keys, no whitespace, minimal "
                  "escapes)");
      return NULL;
    }
  }
  return v;
}

static char *
m_json_canonical (const json_t *value, size_t *len, GError **error)
{
  return cairn_test__cjson_dump (value, len, error);
}

static json_t *
m_json_parse_canonical (const char *text, size_t len, GError **error)
{
  return cairn_test__cjson_parse (text, len, TRUE, error);
}

/* ---- the node's key ---- */

static const char *
m_node_address (CairnPlugin *self)
{
  return cairn_test__host_of (self)->node.address;
}

static void
m_node_pubkey (CairnPlugin *self, uint8_t out[32])
{
  g_assert_true (
      cairn_hex_decode (cairn_test__host_of (self)->node.pubkey_hex, out, 32));
}

static gboolean
m_node_sign (CairnPlugin *self, const char *domain, const void *msg, size_t len,
             uint8_t sig[64], GError **error)
{
  if (domain == NULL || g_str_has_prefix (domain, "cairn/tx"))
    return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                       "plugin %s: node_sign needs the plugin's own domain, "
                       "not '%s'",
                       ((CairnTestPlugin *)self)->desc->id,
                       domain ? domain : "(null)");
  cairn_test__sign (cairn_test__host_of (self)->node.key, domain, msg, len,
                    sig);
  return TRUE;
}

void
cairn_test__fill_crypto_table (CairnHost *t)
{
  t->sha256 = cairn_test__sha256;
  t->ed25519_verify = m_ed25519_verify;
  t->json_canonical = m_json_canonical;
  t->json_parse_canonical = m_json_parse_canonical;
  t->address_from_pubkey = m_address_from_pubkey;
  t->address_valid = cairn_test__address_valid;
  t->node_address = m_node_address;
  t->node_pubkey = m_node_pubkey;
  t->node_sign = m_node_sign;
}

/* ---- accounts ---- */

static MockAccount *
account (CairnTestHost *h, const char *name)
{
  g_assert_nonnull (name);
  MockAccount *a = g_hash_table_lookup (h->accounts, name);
  if (a == NULL) {
    a = g_new0 (MockAccount, 1);
    cairn_test__account_init (a, name);
    g_hash_table_insert (h->accounts, a->name, a);
    g_hash_table_insert (h->pubkeys, g_strdup (a->address),
                         g_strdup (a->pubkey_hex));
  }
  return a;
}

const char *
cairn_test_host_account (CairnTestHost *h, const char *name)
{
  return account (h, name)->address;
}

const char *
cairn_test_host_account_pubkey (CairnTestHost *h, const char *name)
{
  return account (h, name)->pubkey_hex;
}

void
cairn_test_host_account_sign (CairnTestHost *h, const char *name,
                              const char *domain, const void *msg, size_t len,
                              uint8_t sig[64])
{
  cairn_test__sign (account (h, name)->key, domain, msg, len, sig);
}

const char *
cairn_test_host_node_address (CairnTestHost *h)
{
  return h->node.address;
}

const char *
cairn_test_host_node_pubkey (CairnTestHost *h)
{
  return h->node.pubkey_hex;
}
