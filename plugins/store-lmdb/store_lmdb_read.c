/* store-lmdb: lookups and iteration (read txns, state at past heights). */
#include "store_lmdb.h"

#include <string.h>

/* How many reset read txns to keep for reuse. */
#define MAX_IDLE_READERS 4

MDB_txn *
store_lmdb_reader_acquire (CairnStore *store, GError **error)
{
  MDB_txn *txn = NULL;
  int rc;

  g_mutex_lock (&store->readers_lock);
  if (store->idle_readers->len > 0)
    txn = g_ptr_array_steal_index_fast (store->idle_readers,
                                        store->idle_readers->len - 1);
  g_mutex_unlock (&store->readers_lock);
  if (txn != NULL) {
    if (mdb_txn_renew (txn) == 0)
      return txn;
    mdb_txn_abort (txn); /* start afresh below */
  }
  rc = mdb_txn_begin (store->env, NULL, MDB_RDONLY, &txn);
  if (rc == 0)
    return txn;
  store_lmdb_fail (store, error, rc, "cannot start a read");
  return NULL;
}

void
store_lmdb_reader_release (CairnStore *store, MDB_txn *txn)
{
  mdb_txn_reset (txn);
  g_mutex_lock (&store->readers_lock);
  if (store->idle_readers->len < MAX_IDLE_READERS) {
    g_ptr_array_add (store->idle_readers, txn);
    txn = NULL;
  }
  g_mutex_unlock (&store->readers_lock);
  if (txn != NULL)
    mdb_txn_abort (txn);
}

gboolean
store_lmdb_read_head (CairnStore *store, MDB_txn *txn, uint64_t *height,
                      GError **error)
{
  MDB_val k = { strlen (STORE_LMDB_META_HEAD), (void *)STORE_LMDB_META_HEAD };
  MDB_val v;
  int rc = mdb_get (txn, store->meta, &k, &v);
  if (rc == MDB_NOTFOUND) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                 "%s: the store is empty (no block committed yet)", store->dir);
    return FALSE;
  }
  if (rc != 0)
    return store_lmdb_fail (store, error, rc, "cannot read the head");
  if (v.mv_size != 8)
    return store_lmdb_fail_corrupt (store, error,
                                    "table 'meta': the head record has %zu "
                                    "bytes instead of 8",
                                    v.mv_size);
  *height = store_lmdb_get_u64be (v.mv_data);
  return TRUE;
}

gboolean
store_lmdb_head (CairnStore *store, uint64_t *height, GError **error)
{
  MDB_txn *txn = store_lmdb_reader_acquire (store, error);
  if (txn == NULL)
    return FALSE;
  uint64_t h = 0;
  gboolean ok = store_lmdb_read_head (store, txn, &h, error);
  store_lmdb_reader_release (store, txn);
  if (ok && height != NULL)
    *height = h;
  return ok;
}

/* mdb_get into *v; FALSE with NOT_FOUND ("<what> not found") or an error. */
static gboolean
get_raw (CairnStore *store, MDB_txn *txn, MDB_dbi dbi, const void *key,
         size_t key_len, MDB_val *v, const char *what, GError **error)
{
  MDB_val k = { key_len, (void *)key };
  int rc = mdb_get (txn, dbi, &k, v);
  if (rc == MDB_NOTFOUND) {
    /* An ordinary answer that reaches API clients: no data dir in it. */
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND, "%s not found",
                 what);
    return FALSE;
  }
  if (rc != 0)
    return store_lmdb_fail (store, error, rc, what);
  return TRUE;
}

GBytes *
store_lmdb_block_get (CairnStore *store, uint64_t height, GError **error)
{
  uint8_t key[8];
  MDB_val v;
  GBytes *out = NULL;

  MDB_txn *txn = store_lmdb_reader_acquire (store, error);
  if (txn == NULL)
    return NULL;
  store_lmdb_put_u64be (key, height);
  g_autofree char *what
      = g_strdup_printf ("block at height %" G_GUINT64_FORMAT, height);
  if (get_raw (store, txn, store->blocks, key, 8, &v, what, error))
    out = g_bytes_new (v.mv_data, v.mv_size);
  store_lmdb_reader_release (store, txn);
  return out;
}

gboolean
store_lmdb_block_find (CairnStore *store, const uint8_t hash[32],
                       uint64_t *height, GError **error)
{
  MDB_val v;
  gboolean ok = FALSE;

  MDB_txn *txn = store_lmdb_reader_acquire (store, error);
  if (txn == NULL)
    return FALSE;
  g_autofree char *hex = cairn_hex_encode (hash, 32);
  g_autofree char *what = g_strdup_printf ("block with hash %s", hex);
  if (get_raw (store, txn, store->hashes, hash, 32, &v, what, error)) {
    if (v.mv_size != 8) {
      store_lmdb_fail_corrupt (store, error,
                               "table 'hashes': the record of %s has %zu "
                               "bytes instead of 8",
                               hex, v.mv_size);
    } else {
      if (height != NULL)
        *height = store_lmdb_get_u64be (v.mv_data);
      ok = TRUE;
    }
  }
  store_lmdb_reader_release (store, txn);
  return ok;
}

gboolean
store_lmdb_tx_get (CairnStore *store, const uint8_t id[32], uint64_t *height,
                   uint32_t *index, GBytes **result, GError **error)
{
  uint64_t h;
  uint32_t i;
  if (!store_lmdb_txindex_find (store, id, &h, &i, error))
    return FALSE;
  MDB_txn *txn = store_lmdb_reader_acquire (store, error);
  if (txn == NULL)
    return FALSE;
  uint8_t key[8];
  store_lmdb_put_u64be (key, h);
  g_autofree char *hex = cairn_hex_encode (id, 32);
  g_autofree char *what = g_strdup_printf (
      "the tx list of height %" G_GUINT64_FORMAT " (tx %s)", h, hex);
  MDB_val v;
  uint32_t n = 0;
  gboolean ok = FALSE;
  if (!get_raw (store, txn, store->txlist, key, 8, &v, what, error))
    ; /* the index names a height the store lacks */
  else if (!store_lmdb_txlist_check (v.mv_data, v.mv_size, &n) || i >= n)
    store_lmdb_fail_corrupt (store, error,
                             "table 'txlist': the record of height "
                             "%" G_GUINT64_FORMAT " does not decode or has no "
                             "tx %u (tx %s)",
                             h, i, hex);
  else {
    const uint8_t *stored_id, *res;
    size_t res_len;
    store_lmdb_txlist_entry (v.mv_data, i, &stored_id, &res, &res_len);
    if (memcmp (stored_id, id, 32) != 0)
      store_lmdb_fail_corrupt (store, error,
                               "the tx index puts tx %s at height "
                               "%" G_GUINT64_FORMAT " index %u, which holds "
                               "another tx; remove %s/txindex and restart to "
                               "rebuild the index",
                               hex, h, i, store->dir);
    else {
      if (height != NULL)
        *height = h;
      if (index != NULL)
        *index = i;
      if (result != NULL)
        *result = g_bytes_new (res, res_len);
      ok = TRUE;
    }
  }
  store_lmdb_reader_release (store, txn);
  return ok;
}

static gboolean
check_key (const char *key, GError **error)
{
  if (key != NULL && key[0] != '\0')
    return TRUE;
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
               "store-lmdb: the key is empty");
  return FALSE;
}

static gboolean
fail_key_not_found (CairnStore *store, GError **error, const char *key,
                    uint64_t height)
{
  if (height == CAIRN_HEAD)
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                 "key '%s' not found", key);
  else
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                 "key '%s' not found at height %" G_GUINT64_FORMAT, key,
                 height);
  return FALSE;
}

/* The first version in versions at or below height (CAIRN_HEAD: the
 * newest); FALSE when all are newer. The list was checked to decode. */
static gboolean
version_at (const uint8_t *versions, size_t len, uint64_t height,
            StoreLmdbVersion *out)
{
  const uint8_t *p = versions, *end = versions + len;
  while (p < end) {
    if (!store_lmdb_version_next (&p, end, out))
      return FALSE;
    if (out->height <= height)
      return TRUE;
  }
  return FALSE;
}

typedef enum { VERSION_ABSENT, VERSION_PUT, VERSION_ERROR } VersionKind;

/* The version of token at height from its state record, if that record
 * reaches back far enough. VERSION_ABSENT means: ask history. */
static VersionKind
state_at (CairnStore *store, MDB_txn *txn, const uint8_t *token, size_t tlen,
          uint64_t height, const char **key, const uint8_t **value,
          size_t *value_len, GError **error)
{
  MDB_val k = { tlen, (void *)token }, rec;
  const uint8_t *versions;
  size_t versions_len;
  StoreLmdbVersion v;

  int rc = mdb_get (txn, store->state, &k, &rec);
  if (rc == MDB_NOTFOUND)
    return VERSION_ABSENT;
  if (rc != 0) {
    store_lmdb_fail (store, error, rc, "cannot read table 'state'");
    return VERSION_ERROR;
  }
  if (!store_lmdb_record_split (store, token, tlen, &rec, key, &versions,
                                &versions_len, error))
    return VERSION_ERROR;
  if (!version_at (versions, versions_len, height, &v))
    return VERSION_ABSENT;
  *value = v.value;
  *value_len = v.len;
  return VERSION_PUT;
}

/* The version of token at height from history: the newest record at or
 * below it. The cursor is left wherever the lookup ended. */
static VersionKind
history_at (CairnStore *store, MDB_cursor *cur, const uint8_t *token,
            size_t tlen, uint64_t height, const char **key,
            const uint8_t **value, size_t *value_len, GError **error)
{
  uint8_t hkey[STORE_LMDB_HKEY_MAX];
  size_t hlen = store_lmdb_history_key (token, tlen, height, hkey);
  MDB_val k = { hlen, hkey };
  MDB_val v;

  int rc = mdb_cursor_get (cur, &k, &v, MDB_SET_RANGE);
  if (rc == MDB_NOTFOUND)
    return VERSION_ABSENT;
  if (rc != 0) {
    store_lmdb_fail (store, error, rc, "cannot read table 'history'");
    return VERSION_ERROR;
  }
  const uint8_t *found = k.mv_data;
  if (k.mv_size != tlen + 9 || memcmp (found, token, tlen) != 0
      || found[tlen] != '\0')
    return VERSION_ABSENT; /* the next key: none at or below height */
  const uint8_t *rec = v.mv_data;
  if (v.mv_size < 1
      || (rec[0] != STORE_LMDB_TAG_PUT && rec[0] != STORE_LMDB_TAG_DELETE)) {
    store_lmdb_fail_corrupt (store, error,
                             "table 'history': a record has no valid tag "
                             "(%zu bytes)",
                             v.mv_size);
    return VERSION_ERROR;
  }
  *key = NULL;
  *value = rec + 1;
  *value_len = v.mv_size - 1;
  if (store_lmdb_token_is_long (tlen)
      && !store_lmdb_split_long (store, "history", token, tlen, rec + 1,
                                 v.mv_size - 1, key, value, value_len, error))
    return VERSION_ERROR;
  return rec[0] == STORE_LMDB_TAG_PUT ? VERSION_PUT : VERSION_ABSENT;
}

/* The version of token at height (CAIRN_HEAD: the head) from state, then
 * history. */
static VersionKind
version_of (CairnStore *store, MDB_txn *txn, MDB_cursor **hcur,
            const uint8_t *token, size_t tlen, uint64_t height,
            const char **key, const uint8_t **value, size_t *value_len,
            GError **error)
{
  VersionKind kind = state_at (store, txn, token, tlen, height, key, value,
                               value_len, error);
  if (kind != VERSION_ABSENT || height == CAIRN_HEAD)
    return kind;
  if (*hcur == NULL) {
    int rc = mdb_cursor_open (txn, store->history, hcur);
    if (rc != 0) {
      store_lmdb_fail (store, error, rc, "cannot read table 'history'");
      return VERSION_ERROR;
    }
  }
  return history_at (store, *hcur, token, tlen, height, key, value, value_len,
                     error);
}

/* Resolve `height` against the head: *query is CAIRN_HEAD when the head
 * answers. An explicit height above the head (or on an empty store) is
 * NOT_FOUND. */
static gboolean
resolve_height (CairnStore *store, MDB_txn *txn, uint64_t height,
                uint64_t *query, gboolean *empty, GError **error)
{
  g_autoptr (GError) local = NULL;
  uint64_t head;

  *empty = FALSE;
  *query = CAIRN_HEAD;
  if (!store_lmdb_read_head (store, txn, &head, &local)) {
    if (!g_error_matches (local, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND)
        || height != CAIRN_HEAD) {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
    *empty = TRUE;
    return TRUE;
  }
  if (height != CAIRN_HEAD && height > head) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                 "%s: height %" G_GUINT64_FORMAT
                 " is above the head (%" G_GUINT64_FORMAT ")",
                 store->dir, height, head);
    return FALSE;
  }
  if (height != head)
    *query = height;
  return TRUE;
}

GBytes *
store_lmdb_state_get (CairnStore *store, const char *key, uint64_t height,
                      GError **error)
{
  uint8_t token[STORE_LMDB_TOKEN_MAX];
  MDB_cursor *hcur = NULL;
  const char *full = NULL;
  const uint8_t *value = NULL;
  size_t value_len = 0;
  uint64_t query;
  gboolean empty;
  GBytes *out = NULL;

  if (!check_key (key, error))
    return NULL;
  MDB_txn *txn = store_lmdb_reader_acquire (store, error);
  if (txn == NULL)
    return NULL;
  if (!resolve_height (store, txn, height, &query, &empty, error))
    goto out;
  if (empty) {
    fail_key_not_found (store, error, key, height);
    goto out;
  }
  size_t tlen = store_lmdb_token (key, strlen (key), token);
  switch (version_of (store, txn, &hcur, token, tlen, query, &full, &value,
                      &value_len, error)) {
  case VERSION_PUT:
    if (full != NULL && strcmp (full, key) != 0)
      store_lmdb_fail_corrupt (store, error,
                               "the record of a long key holds another key");
    else
      out = g_bytes_new (value, value_len);
    break;
  case VERSION_ABSENT:
    fail_key_not_found (store, error, key, height);
    break;
  case VERSION_ERROR:
    break;
  }
out:
  if (hcur != NULL)
    mdb_cursor_close (hcur);
  store_lmdb_reader_release (store, txn);
  return out;
}

GBytes *
store_lmdb_private_get (CairnStore *store, const char *key, GError **error)
{
  uint8_t token[STORE_LMDB_TOKEN_MAX];
  const char *full;
  const uint8_t *value;
  size_t value_len;
  MDB_val v;
  GBytes *out = NULL;

  if (!check_key (key, error))
    return NULL;
  MDB_txn *txn = store_lmdb_reader_acquire (store, error);
  if (txn == NULL)
    return NULL;
  size_t tlen = store_lmdb_token (key, strlen (key), token);
  MDB_val k = { tlen, token };
  int rc = mdb_get (txn, store->priv, &k, &v);
  if (rc == MDB_NOTFOUND) {
    fail_key_not_found (store, error, key, CAIRN_HEAD);
  } else if (rc != 0) {
    store_lmdb_fail (store, error, rc, "cannot read table 'private'");
  } else if (!store_lmdb_token_is_long (tlen)) {
    out = g_bytes_new (v.mv_data, v.mv_size);
  } else if (store_lmdb_split_long (store, "private", token, tlen, v.mv_data,
                                    v.mv_size, &full, &value, &value_len,
                                    error)) {
    if (strcmp (full, key) != 0)
      store_lmdb_fail_corrupt (store, error,
                               "table 'private': the record of a long key "
                               "holds another key");
    else
      out = g_bytes_new (value, value_len);
  }
  store_lmdb_reader_release (store, txn);
  return out;
}

/* ---- iteration ---------------------------------------------------------- */

/* One visit: a prefix, a callback and the group of long keys being sorted.
 * Tokens come in key order except among long keys sharing their first
 * STORE_LMDB_TOKEN_PREFIX bytes (ordered by hash): such a group is
 * collected and sorted before it is given to the callback. */
typedef struct {
  CairnStore *store;
  MDB_txn *txn;
  const char *prefix;
  size_t plen;
  size_t cmp; /* bytes of prefix a token can hold: min(plen, TOKEN_PREFIX) */
  CairnKvFn fn;
  void *user_data;
  gboolean stopped;
  GArray *group; /* LongEntry */
  uint8_t group_first[STORE_LMDB_TOKEN_PREFIX];
  char keybuf[STORE_LMDB_TOKEN_PREFIX + 1];
} Visit;

typedef struct {
  const char *key;
  const uint8_t *value; /* in the map: valid as long as the read txn */
  size_t value_len;
} LongEntry;

static gint
long_entry_cmp (gconstpointer a, gconstpointer b)
{
  return strcmp (((const LongEntry *)a)->key, ((const LongEntry *)b)->key);
}

static void
group_flush (Visit *vi)
{
  if (vi->group == NULL || vi->group->len == 0)
    return;
  g_array_sort (vi->group, long_entry_cmp);
  for (guint i = 0; i < vi->group->len && !vi->stopped; i++) {
    const LongEntry *e = &g_array_index (vi->group, LongEntry, i);
    if (vi->plen > vi->cmp && strncmp (e->key, vi->prefix, vi->plen) != 0)
      continue;
    if (!vi->fn (e->key, e->value, e->value_len, vi->user_data))
      vi->stopped = TRUE;
  }
  g_array_set_size (vi->group, 0);
}

/* Give (key, value) of token to the callback, or to the group. */
static void
visit_emit (Visit *vi, const uint8_t *token, size_t tlen, const char *full,
            const uint8_t *value, size_t value_len)
{
  if (store_lmdb_token_is_long (tlen)) {
    if (vi->group == NULL)
      vi->group = g_array_new (FALSE, FALSE, sizeof (LongEntry));
    if (vi->group->len > 0
        && memcmp (vi->group_first, token, STORE_LMDB_TOKEN_PREFIX) != 0)
      group_flush (vi);
    memcpy (vi->group_first, token, STORE_LMDB_TOKEN_PREFIX);
    LongEntry e = { full, value, value_len };
    g_array_append_val (vi->group, e);
    return;
  }
  group_flush (vi);
  if (vi->stopped || tlen < vi->plen)
    return; /* shorter than the prefix: cannot start with it */
  memcpy (vi->keybuf, token, tlen);
  vi->keybuf[tlen] = '\0';
  if (!vi->fn (vi->keybuf, value, value_len, vi->user_data))
    vi->stopped = TRUE;
}

static gboolean
token_in_range (const Visit *vi, const uint8_t *token, size_t tlen)
{
  return tlen >= vi->cmp && memcmp (token, vi->prefix, vi->cmp) == 0;
}

static gboolean
check_token (Visit *vi, const char *table, const uint8_t *token, size_t tlen,
             GError **error)
{
  if (tlen > 0
      && (!store_lmdb_token_is_long (tlen)
          || (tlen == STORE_LMDB_TOKEN_LONG
              && token[STORE_LMDB_TOKEN_PREFIX] == 0x01)))
    return TRUE;
  return store_lmdb_fail_corrupt (vi->store, error,
                                  "table '%s': a key of %zu bytes is no valid "
                                  "token",
                                  table, tlen);
}

static int
seek_start (Visit *vi, MDB_cursor *cur, MDB_val *k, MDB_val *v)
{
  if (vi->cmp == 0)
    return mdb_cursor_get (cur, k, v, MDB_FIRST);
  k->mv_size = vi->cmp;
  k->mv_data = (void *)vi->prefix;
  return mdb_cursor_get (cur, k, v, MDB_SET_RANGE);
}

static gboolean
fail_read (Visit *vi, const char *table, int rc, GError **error)
{
  g_autofree char *what = g_strdup_printf ("cannot read table '%s'", table);
  return store_lmdb_fail (vi->store, error, rc, what);
}

/* The private table, or the state at the head (the newest versions). */
static gboolean
iter_head (Visit *vi, MDB_dbi dbi, gboolean versioned, GError **error)
{
  const char *table = versioned ? "state" : "private";
  MDB_cursor *cur;
  MDB_val k, v;
  int rc = mdb_cursor_open (vi->txn, dbi, &cur);
  if (rc != 0)
    return fail_read (vi, table, rc, error);

  gboolean ok = TRUE;
  rc = seek_start (vi, cur, &k, &v);
  while (ok && rc == 0 && !vi->stopped
         && token_in_range (vi, k.mv_data, k.mv_size)) {
    const char *full = NULL;
    const uint8_t *value = v.mv_data;
    size_t value_len = v.mv_size;
    ok = check_token (vi, table, k.mv_data, k.mv_size, error);
    if (ok && versioned) {
      const uint8_t *versions;
      size_t versions_len;
      StoreLmdbVersion ver;
      ok = store_lmdb_record_split (vi->store, k.mv_data, k.mv_size, &v, &full,
                                    &versions, &versions_len, error);
      if (ok) {
        version_at (versions, versions_len, CAIRN_HEAD, &ver);
        value = ver.value;
        value_len = ver.len;
      }
    } else if (ok && store_lmdb_token_is_long (k.mv_size)) {
      ok = store_lmdb_split_long (vi->store, table, k.mv_data, k.mv_size,
                                  v.mv_data, v.mv_size, &full, &value,
                                  &value_len, error);
    }
    if (ok) {
      visit_emit (vi, k.mv_data, k.mv_size, full, value, value_len);
      rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT);
    }
  }
  mdb_cursor_close (cur);
  if (ok && rc != 0 && rc != MDB_NOTFOUND)
    return fail_read (vi, table, rc, error);
  return ok;
}

/* Move the cursor past every history record of token. */
static int
seek_past (MDB_cursor *cur, const uint8_t *token, size_t tlen, MDB_val *k,
           MDB_val *v)
{
  uint8_t next[STORE_LMDB_TOKEN_MAX + 1];
  memcpy (next, token, tlen);
  next[tlen] = 0x01; /* > token '\0' <height> */
  k->mv_size = tlen + 1;
  k->mv_data = next;
  return mdb_cursor_get (cur, k, v, MDB_SET_RANGE);
}

/* A cursor over the distinct tokens of a table, in order: state keys are
 * tokens, history keys are token '\0' height. */
typedef struct {
  MDB_cursor *cur;
  gboolean history;
  gboolean done;
  uint8_t token[STORE_LMDB_TOKEN_MAX];
  size_t tlen;
} TokenStream;

/* After a move that returned rc to key k: load the token or finish. */
static gboolean
stream_load (Visit *vi, TokenStream *ts, int rc, const MDB_val *k,
             GError **error)
{
  const char *table = ts->history ? "history" : "state";
  if (rc == MDB_NOTFOUND) {
    ts->done = TRUE;
    return TRUE;
  }
  if (rc != 0)
    return fail_read (vi, table, rc, error);
  size_t tlen = k->mv_size;
  if (ts->history) {
    const uint8_t *p = k->mv_data;
    if (k->mv_size < 10 || k->mv_size > STORE_LMDB_HKEY_MAX
        || p[k->mv_size - 9] != '\0')
      return store_lmdb_fail_corrupt (vi->store, error,
                                      "table 'history': a key of %zu bytes "
                                      "does not decode",
                                      k->mv_size);
    tlen -= 9;
  }
  if (!token_in_range (vi, k->mv_data, tlen)) {
    ts->done = TRUE;
    return TRUE;
  }
  if (!check_token (vi, table, k->mv_data, tlen, error))
    return FALSE;
  memcpy (ts->token, k->mv_data, tlen);
  ts->tlen = tlen;
  return TRUE;
}

static gboolean
stream_start (Visit *vi, TokenStream *ts, MDB_dbi dbi, gboolean history,
              GError **error)
{
  MDB_val k, v;
  ts->history = history;
  ts->done = FALSE;
  int rc = mdb_cursor_open (vi->txn, dbi, &ts->cur);
  if (rc != 0) {
    ts->cur = NULL;
    return fail_read (vi, history ? "history" : "state", rc, error);
  }
  return stream_load (vi, ts, seek_start (vi, ts->cur, &k, &v), &k, error);
}

static gboolean
stream_advance (Visit *vi, TokenStream *ts, GError **error)
{
  MDB_val k, v;
  int rc;
  if (ts->history)
    rc = seek_past (ts->cur, ts->token, ts->tlen, &k, &v);
  else
    rc = mdb_cursor_get (ts->cur, &k, &v, MDB_NEXT);
  return stream_load (vi, ts, rc, &k, error);
}

/* Bytewise order of two tokens (a prefix sorts first). */
static int
token_cmp (const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
  int c = memcmp (a, b, MIN (alen, blen));
  if (c != 0)
    return c;
  return alen < blen ? -1 : alen > blen;
}

/* The state at a past height: every token of state and history, merged,
 * each resolved at height. */
static gboolean
iter_past (Visit *vi, uint64_t height, GError **error)
{
  TokenStream st = { 0 }, hs = { 0 };
  MDB_cursor *hcur = NULL;
  gboolean ok = stream_start (vi, &st, vi->store->state, FALSE, error)
                && stream_start (vi, &hs, vi->store->history, TRUE, error);

  while (ok && !vi->stopped && !(st.done && hs.done)) {
    int c = st.done   ? 1
            : hs.done ? -1
                      : token_cmp (st.token, st.tlen, hs.token, hs.tlen);
    const TokenStream *cur = c <= 0 ? &st : &hs;
    const char *full = NULL;
    const uint8_t *value = NULL;
    size_t value_len = 0;

    /* A raw token shorter than the prefix cannot match: skip lookups. */
    if (store_lmdb_token_is_long (cur->tlen) || cur->tlen >= vi->plen) {
      switch (version_of (vi->store, vi->txn, &hcur, cur->token, cur->tlen,
                          height, &full, &value, &value_len, error)) {
      case VERSION_PUT:
        visit_emit (vi, cur->token, cur->tlen, full, value, value_len);
        break;
      case VERSION_ABSENT:
        break;
      case VERSION_ERROR:
        ok = FALSE;
        break;
      }
    }
    if (ok && c <= 0)
      ok = stream_advance (vi, &st, error);
    if (ok && c >= 0)
      ok = stream_advance (vi, &hs, error);
  }
  if (hcur != NULL)
    mdb_cursor_close (hcur);
  if (st.cur != NULL)
    mdb_cursor_close (st.cur);
  if (hs.cur != NULL)
    mdb_cursor_close (hs.cur);
  return ok;
}

static gboolean
iterate (CairnStore *store, MDB_txn *txn, const char *prefix,
         gboolean private_table, uint64_t height, CairnKvFn fn, void *user_data,
         GError **error)
{
  Visit vi = { 0 };

  vi.store = store;
  vi.txn = txn;
  vi.prefix = prefix != NULL ? prefix : "";
  vi.plen = strlen (vi.prefix);
  vi.cmp = MIN (vi.plen, STORE_LMDB_TOKEN_PREFIX);
  vi.fn = fn;
  vi.user_data = user_data;

  gboolean ok;
  if (private_table)
    ok = iter_head (&vi, store->priv, FALSE, error);
  else if (height == CAIRN_HEAD)
    ok = iter_head (&vi, store->state, TRUE, error);
  else
    ok = iter_past (&vi, height, error);
  if (ok)
    group_flush (&vi);
  if (vi.group != NULL)
    g_array_unref (vi.group);
  return ok;
}

gboolean
store_lmdb_state_iter (CairnStore *store, const char *prefix, uint64_t height,
                       CairnKvFn fn, void *user_data, GError **error)
{
  uint64_t query;
  gboolean empty;

  g_return_val_if_fail (fn != NULL, FALSE);
  MDB_txn *txn = store_lmdb_reader_acquire (store, error);
  if (txn == NULL)
    return FALSE;
  gboolean ok = resolve_height (store, txn, height, &query, &empty, error);
  if (ok && !empty)
    ok = iterate (store, txn, prefix, FALSE, query, fn, user_data, error);
  store_lmdb_reader_release (store, txn);
  return ok;
}

gboolean
store_lmdb_private_iter (CairnStore *store, const char *prefix, CairnKvFn fn,
                         void *user_data, GError **error)
{
  g_return_val_if_fail (fn != NULL, FALSE);
  MDB_txn *txn = store_lmdb_reader_acquire (store, error);
  if (txn == NULL)
    return FALSE;
  gboolean ok
      = iterate (store, txn, prefix, TRUE, CAIRN_HEAD, fn, user_data, error);
  store_lmdb_reader_release (store, txn);
  return ok;
}
