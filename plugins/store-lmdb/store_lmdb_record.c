/* store-lmdb: versioned state records, a list of (height, value) newest
 * first (see store_lmdb.h, "Versions"). */
#include "store_lmdb.h"

static void
put_varint (GByteArray *out, uint64_t v)
{
  uint8_t buf[10];
  guint n = 0;
  do {
    buf[n] = (uint8_t)(v & 0x7f);
    v >>= 7;
    if (v != 0)
      buf[n] |= 0x80;
    n++;
  } while (v != 0);
  g_byte_array_append (out, buf, n);
}

static gboolean
get_varint (const uint8_t **p, const uint8_t *end, uint64_t *out)
{
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    if (shift == 63 && b > 1)
      return FALSE;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return TRUE;
    }
  }
  return FALSE;
}

void
store_lmdb_version_append (GByteArray *out, uint64_t height,
                           const uint8_t *value, size_t len)
{
  put_varint (out, height);
  put_varint (out, len);
  if (len > 0)
    g_byte_array_append (out, value, (guint)len);
}

gboolean
store_lmdb_version_next (const uint8_t **p, const uint8_t *end,
                         StoreLmdbVersion *v)
{
  uint64_t len;
  if (!get_varint (p, end, &v->height) || !get_varint (p, end, &len)
      || len > (uint64_t)(end - *p))
    return FALSE;
  v->value = *p;
  v->len = (size_t)len;
  *p += len;
  return TRUE;
}

gboolean
store_lmdb_record_split (CairnStore *store, const uint8_t *token,
                         size_t token_len, const MDB_val *rec, const char **key,
                         const uint8_t **versions, size_t *versions_len,
                         GError **error)
{
  const uint8_t *data = rec->mv_data;
  size_t len = rec->mv_size;

  *key = NULL;
  if (store_lmdb_token_is_long (token_len)
      && !store_lmdb_split_long (store, "state", token, token_len, data, len,
                                 key, &data, &len, error))
    return FALSE;

  /* Check the whole list once, so that readers can trust it. */
  const uint8_t *p = data, *end = data + len;
  uint64_t prev = UINT64_MAX;
  guint n = 0;
  gboolean ok = TRUE;
  while (ok && p < end) {
    StoreLmdbVersion v;
    ok = store_lmdb_version_next (&p, end, &v) && (n == 0 || v.height < prev);
    prev = v.height;
    n++;
  }
  if (!ok || n == 0)
    return store_lmdb_fail_corrupt (store, error,
                                    "table 'state': a record of %zu bytes "
                                    "does not decode as a list of versions",
                                    rec->mv_size);
  *versions = data;
  *versions_len = len;
  return TRUE;
}
