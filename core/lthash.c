/* LtHash16 over SHAKE256 (see lthash.h). Lane i of a pair's hash is the
 * little-endian uint16 at bytes 2i, 2i+1 of its 2048-byte SHAKE256 output. */
#include "lthash.h"

#include <string.h>

#include <openssl/evp.h>

#include "crypto.h"

#define LTHASH_DOMAIN "cairn/state/v1" /* followed by its NUL */

static EVP_MD *
shake256_md (void)
{
  static EVP_MD *md;

  if (g_once_init_enter (&md)) {
    EVP_MD *m = EVP_MD_fetch (NULL, "SHAKE256", NULL);
    if (m == NULL)
      g_error ("OpenSSL: SHAKE256 is not available");
    g_once_init_leave (&md, m);
  }
  return md;
}

static void
pair_lanes (const char *key, const void *value, size_t len,
            uint8_t out[CAIRN_LTHASH_BYTES])
{
  size_t klen = strlen (key);
  uint8_t klen_be[4];
  EVP_MD_CTX *ctx = EVP_MD_CTX_new ();

  g_assert (klen <= G_MAXUINT32);
  klen_be[0] = (uint8_t)(klen >> 24);
  klen_be[1] = (uint8_t)(klen >> 16);
  klen_be[2] = (uint8_t)(klen >> 8);
  klen_be[3] = (uint8_t)klen;
  if (ctx == NULL || EVP_DigestInit_ex2 (ctx, shake256_md (), NULL) != 1
      || EVP_DigestUpdate (ctx, LTHASH_DOMAIN, sizeof LTHASH_DOMAIN) != 1
      || EVP_DigestUpdate (ctx, klen_be, 4) != 1
      || EVP_DigestUpdate (ctx, key, klen) != 1
      || (len > 0 && EVP_DigestUpdate (ctx, value, len) != 1)
      || EVP_DigestFinalXOF (ctx, out, CAIRN_LTHASH_BYTES) != 1)
    g_error ("OpenSSL: SHAKE256 failed");
  EVP_MD_CTX_free (ctx);
}

void
cairn_lthash_init (CairnLtHash *h)
{
  memset (h->lanes, 0, sizeof h->lanes);
}

void
cairn_lthash_add (CairnLtHash *h, const char *key, const void *value,
                  size_t len)
{
  uint8_t b[CAIRN_LTHASH_BYTES];

  pair_lanes (key, value, len, b);
  for (int i = 0; i < CAIRN_LTHASH_LANES; i++)
    h->lanes[i] += (uint16_t)(b[2 * i] | b[2 * i + 1] << 8);
}

void
cairn_lthash_remove (CairnLtHash *h, const char *key, const void *value,
                     size_t len)
{
  uint8_t b[CAIRN_LTHASH_BYTES];

  pair_lanes (key, value, len, b);
  for (int i = 0; i < CAIRN_LTHASH_LANES; i++)
    h->lanes[i] -= (uint16_t)(b[2 * i] | b[2 * i + 1] << 8);
}

void
cairn_lthash_to_bytes (const CairnLtHash *h, uint8_t out[CAIRN_LTHASH_BYTES])
{
  for (int i = 0; i < CAIRN_LTHASH_LANES; i++) {
    out[2 * i] = (uint8_t)h->lanes[i];
    out[2 * i + 1] = (uint8_t)(h->lanes[i] >> 8);
  }
}

gboolean
cairn_lthash_from_bytes (CairnLtHash *h, const void *data, size_t len)
{
  const uint8_t *b = data;

  if (data == NULL || len != CAIRN_LTHASH_BYTES)
    return FALSE;
  for (int i = 0; i < CAIRN_LTHASH_LANES; i++)
    h->lanes[i] = (uint16_t)(b[2 * i] | b[2 * i + 1] << 8);
  return TRUE;
}

void
cairn_lthash_root (const CairnLtHash *h, uint8_t out[32])
{
  uint8_t b[CAIRN_LTHASH_BYTES];

  cairn_lthash_to_bytes (h, b);
  cairn_sha256 (b, sizeof b, out);
}
