/* store-lmdb: key tokens and the records of long keys.
 *
 * LMDB limits keys to 511 bytes, a Cairn key can be longer ("<ns>/" plus
 * CAIRN_MAX_KEY). A long key is stored under its first
 * STORE_LMDB_TOKEN_PREFIX bytes, 0x01 and its SHA-256; the record then
 * starts with the full key and '\0'. Tokens keep the bytewise order of keys
 * except among long keys sharing those first bytes; readers sort such a
 * group (rare: it takes two keys longer than 469 bytes with equal starts).
 */
#include "store_lmdb.h"

#include <string.h>

size_t
store_lmdb_token (const char *key, size_t len,
                  uint8_t out[STORE_LMDB_TOKEN_MAX])
{
  if (len <= STORE_LMDB_TOKEN_PREFIX) {
    memcpy (out, key, len);
    return len;
  }
  memcpy (out, key, STORE_LMDB_TOKEN_PREFIX);
  out[STORE_LMDB_TOKEN_PREFIX] = 0x01;
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (sum, (const guchar *)key, (gssize)len);
  gsize digest_len = 32;
  g_checksum_get_digest (sum, out + STORE_LMDB_TOKEN_PREFIX + 1, &digest_len);
  g_assert (digest_len == 32);
  return STORE_LMDB_TOKEN_LONG;
}

size_t
store_lmdb_history_key (const uint8_t *token, size_t token_len, uint64_t height,
                        uint8_t out[STORE_LMDB_HKEY_MAX])
{
  memcpy (out, token, token_len);
  out[token_len] = '\0';
  /* Inverted so that the newest version of a key sorts first and a read
   * at height h is one MDB_SET_RANGE to (key, h). */
  store_lmdb_put_u64be (out + token_len + 1, UINT64_MAX - height);
  return token_len + 9;
}

gboolean
store_lmdb_split_long (CairnStore *store, const char *table,
                       const uint8_t *token, size_t token_len,
                       const uint8_t *rec, size_t rec_len, const char **key,
                       const uint8_t **value, size_t *value_len, GError **error)
{
  const uint8_t *nul = memchr (rec, '\0', rec_len);
  uint8_t check[STORE_LMDB_TOKEN_MAX];

  if (nul == NULL || (size_t)(nul - rec) <= STORE_LMDB_TOKEN_PREFIX
      || store_lmdb_token ((const char *)rec, (size_t)(nul - rec), check)
             != token_len
      || memcmp (check, token, token_len) != 0) {
    return store_lmdb_fail_corrupt (store, error,
                                    "table '%s': the record of a long key "
                                    "does not start with a key matching its "
                                    "token (%zu bytes)",
                                    table, rec_len);
  }
  *key = (const char *)rec;
  *value = nul + 1;
  *value_len = rec_len - (size_t)(nul - rec) - 1;
  return TRUE;
}
