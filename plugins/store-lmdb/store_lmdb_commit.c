/* store-lmdb: commit a block, its tx list and its write-set in one LMDB
 * write transaction, so that after a crash all of it is visible or none;
 * then index its txs (store_lmdb_txindex.c). */
#include "store_lmdb.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* File-backed pages resident in this process (/proc/self/statm "shared"),
 * in bytes; 0 when unknown. Read at every commit: through an fd kept
 * open, one pread. */
static uint64_t
resident_file_bytes (CairnStore *store)
{
  if (store->statm_fd < 0)
    store->statm_fd = open ("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  char buf[128];
  ssize_t n = store->statm_fd < 0
                  ? -1
                  : pread (store->statm_fd, buf, sizeof buf - 1, 0);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  unsigned long size = 0, resident = 0, shared = 0;
  if (sscanf (buf, "%lu %lu %lu", &size, &resident, &shared) != 3)
    return 0;
  return (uint64_t)shared * (uint64_t)sysconf (_SC_PAGESIZE);
}

/* The address and length of this store's mapping of data.mdb: the line
 * of /proc/self/maps with its device and inode. */
static gboolean
find_map (CairnStore *store)
{
  struct stat st;
  g_autofree char *maps = NULL;
  /* Overlay file systems show another device in maps than stat: the
   * resolved path is the other way to know the line. */
  g_autofree char *real = realpath (store->data_path, NULL);
  if (stat (store->data_path, &st) != 0
      || !g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL))
    return FALSE;
  g_auto (GStrv) lines = g_strsplit (maps, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    unsigned long start, end, off, ino;
    unsigned int major, minor;
    char perms[8];
    const char *path = strchr (lines[i], '/');
    if (sscanf (lines[i], "%lx-%lx %7s %lx %x:%x %lu", &start, &end, perms,
                &off, &major, &minor, &ino)
            == 7
        && off == 0 && end > start
        && ((ino == (unsigned long)st.st_ino
             && makedev (major, minor) == st.st_dev)
            || (real && path && strcmp (path, real) == 0))) {
      store->map_addr = (void *)start;
      store->map_len = end - start;
      return TRUE;
    }
  }
  return FALSE;
}

/* The map's pages that reads touched stay mapped into this process until
 * the kernel needs the memory: the tx index takes random inserts, so over
 * hours every page of it would count in the node's RSS. Once the file
 * pages this process maps grew by more than [store-lmdb] resident_limit
 * since the last trim, drop the mapping's pages (MADV_DONTNEED): they stay
 * in the page cache, and a later read maps them again. Safe with readers
 * on other threads: the map is read-only (no MDB_WRITEMAP), so a dropped
 * page faults back in with the same bytes. */
static void
trim_map (CairnStore *store)
{
  uint64_t limit = store->plugin->resident_limit;
  if (limit == 0)
    return;
  uint64_t now = resident_file_bytes (store);
  if (store->resident_after_trim == 0) { /* first commit: the base line */
    store->resident_after_trim = now;
    return;
  }
  if (now <= store->resident_after_trim + limit)
    return;
  /* LMDB does not tell where it mapped the file (mdb_env_info's
   * me_mapaddr is only set with MDB_FIXEDMAP): /proc/self/maps does. */
  if (store->map_addr == NULL && !find_map (store))
    return;
  MDB_envinfo info;
  MDB_stat st;
  if (mdb_env_info (store->env, &info) != 0
      || mdb_env_stat (store->env, &st) != 0)
    return;
  size_t used
      = MIN ((size_t)(info.me_last_pgno + 1) * st.ms_psize, store->map_len);
  if (madvise (store->map_addr, used, MADV_DONTNEED) == 0)
    store->resident_after_trim = resident_file_bytes (store);
}

static gboolean fail_invalid (uint64_t height, GError **error, const char *fmt,
                              ...) G_GNUC_PRINTF (3, 4);
static gboolean
fail_invalid (uint64_t height, GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  /* CAIRN_HEAD: a private write, which belongs to no block */
  if (height == CAIRN_HEAD)
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "store-lmdb: private write: %s", what);
  else
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "store-lmdb: commit of height %" G_GUINT64_FORMAT ": %s",
                 height, what);
  return FALSE;
}

static gboolean
check_writes (uint64_t height, const char *field, const CairnWrite *writes,
              size_t n, GError **error)
{
  if (n > 0 && writes == NULL)
    return fail_invalid (height, error, "%s is NULL but n_%s is %zu", field,
                         field, n);
  for (size_t i = 0; i < n; i++) {
    const CairnWrite *w = &writes[i];
    if (w->key == NULL || w->key[0] == '\0')
      return fail_invalid (height, error, "%s[%zu]: empty key", field, i);
    if (!(w->flags & CAIRN_WRITE_DELETE) && w->value == NULL
        && w->value_len > 0)
      return fail_invalid (height, error,
                           "%s[%zu] '%s': value is NULL but value_len is %zu",
                           field, i, w->key, w->value_len);
    if (i > 0 && strcmp (writes[i - 1].key, w->key) >= 0)
      return fail_invalid (height, error,
                           "%s[%zu] '%s': keys must be sorted and unique "
                           "(follows '%s')",
                           field, i, w->key, writes[i - 1].key);
  }
  return TRUE;
}

static gboolean
check_data (const CairnCommitData *data, GError **error)
{
  if (data == NULL || data->size < sizeof (CairnCommitData)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "store-lmdb: commit data is %s (size %u, need %zu)",
                 data == NULL ? "NULL" : "too small", data ? data->size : 0,
                 sizeof (CairnCommitData));
    return FALSE;
  }
  uint64_t h = data->height;
  if (h == CAIRN_HEAD)
    return fail_invalid (h, error, "height is CAIRN_HEAD");
  if (data->block_hash == NULL)
    return fail_invalid (h, error, "block_hash is NULL");
  if (data->block == NULL && data->block_len > 0)
    return fail_invalid (h, error, "block is NULL but block_len is %zu",
                         data->block_len);
  if ((data->n_txs > 0 && data->txs == NULL)
#if SIZE_MAX > UINT32_MAX
      || data->n_txs > UINT32_MAX
#endif
  )
    return fail_invalid (h, error, "bad txs array (n_txs %zu)", data->n_txs);
  for (size_t i = 0; i < data->n_txs; i++) {
    const CairnCommitTx *t = &data->txs[i];
    if (t->id == NULL || (t->result == NULL && t->result_len > 0))
      return fail_invalid (h, error, "txs[%zu]: %s is NULL", i,
                           t->id == NULL ? "id" : "result");
  }
  return check_writes (h, "writes", data->writes, data->n_writes, error)
         && check_writes (h, "private_writes", data->private_writes,
                          data->n_private_writes, error);
}

/* Put key -> [tag] [full_key '\0'] value, written in place (MDB_RESERVE). */
static int
put_record (MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t key_len,
            int tag, const char *full_key, size_t full_len,
            const uint8_t *value, size_t value_len, unsigned flags)
{
  MDB_val k = { key_len, (void *)key };
  MDB_val v = { (tag >= 0) + (full_key ? full_len + 1 : 0) + value_len, NULL };
  int rc = mdb_put (txn, dbi, &k, &v, flags | MDB_RESERVE);
  if (rc != 0)
    return rc;
  uint8_t *o = v.mv_data;
  if (tag >= 0)
    *o++ = (uint8_t)tag;
  if (full_key != NULL) {
    memcpy (o, full_key, full_len);
    o[full_len] = '\0';
    o += full_len + 1;
  }
  if (value_len > 0)
    memcpy (o, value, value_len);
  return 0;
}

static gboolean
fail_key (CairnStore *store, GError **error, int rc, uint64_t height,
          const char *table, const char *key)
{
  g_autofree char *at
      = height == CAIRN_HEAD
            ? g_strdup ("private write")
            : g_strdup_printf ("commit of height %" G_GUINT64_FORMAT, height);
  g_autofree char *what
      = g_strdup_printf ("%s: cannot write key '%.80s%s' to table '%s'", at,
                         key, strlen (key) > 80 ? "..." : "", table);
  return store_lmdb_fail (store, error, rc, what);
}

/* Private namespace: plain key -> value, no versions. */
static gboolean
apply_private (CairnStore *store, MDB_txn *txn, uint64_t height,
               const CairnWrite *writes, size_t n, GError **error)
{
  uint8_t token[STORE_LMDB_TOKEN_MAX];

  for (size_t i = 0; i < n; i++) {
    const CairnWrite *w = &writes[i];
    size_t len = strlen (w->key);
    size_t tlen = store_lmdb_token (w->key, len, token);
    const char *full = store_lmdb_token_is_long (tlen) ? w->key : NULL;
    int rc;

    if (w->flags & CAIRN_WRITE_DELETE) {
      MDB_val k = { tlen, token };
      rc = mdb_del (txn, store->priv, &k, NULL);
      if (rc == MDB_NOTFOUND)
        rc = 0;
    } else {
      rc = put_record (txn, store->priv, token, tlen, -1, full, len, w->value,
                       w->value_len, 0);
    }
    if (rc != 0)
      return fail_key (store, error, rc, height, "private", w->key);
  }
  return TRUE;
}

/* Move versions (a list, newest first) of a key to history. */
static gboolean
spill (CairnStore *store, MDB_txn *txn, const uint8_t *token, size_t tlen,
       const char *full, size_t full_len, const uint8_t *versions,
       size_t versions_len, uint64_t height, GError **error)
{
  uint8_t hkey[STORE_LMDB_HKEY_MAX];
  const uint8_t *p = versions, *end = versions + versions_len;

  while (p < end) {
    StoreLmdbVersion v;
    /* The caller checked the list with store_lmdb_record_split(). */
    if (!store_lmdb_version_next (&p, end, &v))
      return store_lmdb_fail_corrupt (store, error,
                                      "table 'state': a record changed while "
                                      "being moved to history");
    size_t hlen = store_lmdb_history_key (token, tlen, v.height, hkey);
    int rc = put_record (txn, store->history, hkey, hlen, STORE_LMDB_TAG_PUT,
                         full, full_len, v.value, v.len, 0);
    if (rc != 0)
      return fail_key (store, error, rc, height, "history",
                       full ? full : "(key)");
  }
  return TRUE;
}

/* Shared state: each write rewrites the key's versioned record (see
 * store_lmdb.h); versions that no longer fit move to history. */
static gboolean
apply_state (CairnStore *store, MDB_txn *txn, uint64_t height,
             const CairnWrite *writes, size_t n, GError **error)
{
  uint8_t token[STORE_LMDB_TOKEN_MAX];
  uint8_t hkey[STORE_LMDB_HKEY_MAX];
  g_autoptr (GByteArray) rec = g_byte_array_new ();
  MDB_cursor *cur;
  gboolean ok = FALSE;
  int rc;

  if ((rc = mdb_cursor_open (txn, store->state, &cur)) != 0)
    return store_lmdb_fail (store, error, rc, "cannot write table 'state'");

  for (size_t i = 0; i < n; i++) {
    const CairnWrite *w = &writes[i];
    size_t len = strlen (w->key);
    size_t tlen = store_lmdb_token (w->key, len, token);
    const char *full = store_lmdb_token_is_long (tlen) ? w->key : NULL;
    gboolean del = (w->flags & CAIRN_WRITE_DELETE) != 0;
    MDB_val k = { tlen, token }, old;
    const char *old_key;
    const uint8_t *old_versions = NULL;
    size_t old_len = 0, head_len;

    rc = mdb_cursor_get (cur, &k, &old, MDB_SET_KEY);
    if (rc != 0 && rc != MDB_NOTFOUND) {
      fail_key (store, error, rc, height, "state", w->key);
      goto out;
    }
    gboolean have_old = rc == 0;
    if (have_old
        && !store_lmdb_record_split (store, token, tlen, &old, &old_key,
                                     &old_versions, &old_len, error))
      goto out;
    if (!have_old && del)
      continue; /* absent before and after: no version to record */

    /* The new record: [full key '\0'] (height, value) older versions.
     * Built in memory first: old points into a page the writes below may
     * change. */
    g_byte_array_set_size (rec, 0);
    if (full != NULL)
      g_byte_array_append (rec, (const guint8 *)full, (guint)len + 1);
    if (!del)
      store_lmdb_version_append (rec, height, w->value, w->value_len);
    head_len = rec->len;
    g_byte_array_append (rec, old_versions, (guint)old_len);

    if (del
        || (have_old
            && rec->len - (full ? len + 1 : 0) > STORE_LMDB_RECORD_CAP)) {
      if (!spill (store, txn, token, tlen, full, len, rec->data + head_len,
                  old_len, height, error))
        goto out;
      g_byte_array_set_size (rec, head_len);
    }
    if (del) {
      size_t hlen = store_lmdb_history_key (token, tlen, height, hkey);
      rc = put_record (txn, store->history, hkey, hlen, STORE_LMDB_TAG_DELETE,
                       full, len, NULL, 0, 0);
      /* The history put did not move the state cursor: still on the key. */
      if (rc == 0)
        rc = mdb_cursor_del (cur, 0);
    } else {
      MDB_val v = { rec->len, rec->data };
      k = (MDB_val){ tlen, token };
      rc = mdb_cursor_put (cur, &k, &v, have_old ? MDB_CURRENT : 0);
    }
    if (rc != 0) {
      fail_key (store, error, rc, height, del ? "history" : "state", w->key);
      goto out;
    }
  }
  ok = TRUE;
out:
  mdb_cursor_close (cur);
  return ok;
}

static gboolean
check_height (CairnStore *store, MDB_txn *txn, uint64_t height, GError **error)
{
  g_autoptr (GError) local = NULL;
  uint64_t head;

  if (store_lmdb_read_head (store, txn, &head, &local)) {
    if (height == head + 1)
      return TRUE;
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
                 "%s: cannot commit height %" G_GUINT64_FORMAT
                 ": the head is %" G_GUINT64_FORMAT
                 ", so the next block must be %" G_GUINT64_FORMAT,
                 store->dir, height, head, head + 1);
    return FALSE;
  }
  if (!g_error_matches (local, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND)) {
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  if (height == 0)
    return TRUE;
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
               "%s: cannot commit height %" G_GUINT64_FORMAT
               ": the store is empty, so the first block must be height 0",
               store->dir, height);
  return FALSE;
}

static gboolean
write_block (CairnStore *store, MDB_txn *txn, const CairnCommitData *data,
             GError **error)
{
  uint8_t hkey[8];
  int rc;

  store_lmdb_put_u64be (hkey, data->height);
  MDB_val k = { 8, hkey };
  MDB_val v = { data->block_len, (void *)data->block };
  /* Heights only grow and keys are big-endian: always an append. */
  if ((rc = mdb_put (txn, store->blocks, &k, &v, MDB_APPEND)) != 0) {
    g_autofree char *what = g_strdup_printf (
        "commit of height %" G_GUINT64_FORMAT ": cannot write the block",
        data->height);
    return store_lmdb_fail (store, error, rc, what);
  }

  MDB_val hk = { 32, (void *)data->block_hash };
  MDB_val hv = { 8, hkey };
  rc = mdb_put (txn, store->hashes, &hk, &hv, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST) {
    g_autofree char *hex = cairn_hex_encode (data->block_hash, 32);
    g_set_error (
        error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
        "%s: cannot commit height %" G_GUINT64_FORMAT
        ": block hash %s is already stored at height %" G_GUINT64_FORMAT,
        store->dir, data->height, hex,
        hv.mv_size == 8 ? store_lmdb_get_u64be (hv.mv_data) : 0);
    return FALSE;
  }
  if (rc != 0)
    return store_lmdb_fail (store, error, rc, "cannot index the block hash");

  if (data->n_txs == 0)
    return TRUE;
  /* Heights only grow: an append, like the block. */
  MDB_val tv = { store_lmdb_txlist_size (data->txs, data->n_txs), NULL };
  rc = mdb_put (txn, store->txlist, &k, &tv, MDB_APPEND | MDB_RESERVE);
  if (rc != 0)
    return store_lmdb_fail (store, error, rc, "cannot write the tx list");
  store_lmdb_txlist_write (tv.mv_data, data->txs, data->n_txs);
  return TRUE;
}

gboolean
store_lmdb_commit (CairnStore *store, const CairnCommitData *data,
                   GError **error)
{
  MDB_txn *txn;
  int rc;

  g_return_val_if_fail (store != NULL, FALSE);
  if (!check_data (data, error))
    return FALSE;
  if ((rc = mdb_txn_begin (store->env, NULL, 0, &txn)) != 0)
    return store_lmdb_fail (store, error, rc, "cannot start a write");

  uint8_t head[8];
  store_lmdb_put_u64be (head, data->height);
  MDB_val hk = { strlen (STORE_LMDB_META_HEAD), (void *)STORE_LMDB_META_HEAD };
  MDB_val hv = { 8, head };
  if (!check_height (store, txn, data->height, error)
      || !write_block (store, txn, data, error)
      || !apply_state (store, txn, data->height, data->writes, data->n_writes,
                       error)
      || !apply_private (store, txn, data->height, data->private_writes,
                         data->n_private_writes, error))
    goto fail;
  if ((rc = mdb_put (txn, store->meta, &hk, &hv, 0)) != 0) {
    store_lmdb_fail (store, error, rc, "cannot write the head");
    goto fail;
  }
  /* A deferred commit skips LMDB's fsyncs; LMDB stays consistent (the
   * meta page flips last) and store_lmdb_sync makes it durable. */
  gboolean defer = store->plugin->sync
                   && CAIRN_STRUCT_HAS (data, data->size, flags)
                   && (data->flags & CAIRN_COMMIT_DEFER_SYNC);
  if (defer)
    mdb_env_set_flags (store->env, MDB_NOSYNC, 1);
  rc = mdb_txn_commit (txn);
  if (defer)
    mdb_env_set_flags (store->env, MDB_NOSYNC, 0);
  if (rc != 0) {
    g_autofree char *space = store_lmdb_space_hint (store);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO,
                 "%s: cannot commit height %" G_GUINT64_FORMAT ": %s%s%s",
                 store->data_path, data->height, mdb_strerror (rc),
                 rc == MDB_MAP_FULL ? "; raise [store-lmdb] map_size" : "",
                 space);
    return FALSE;
  }
  /* After the block: the index never holds a height the store lacks. */
  store_lmdb_txindex_add (store, data->height, data->txs, data->n_txs);
  trim_map (store);
  return TRUE;

fail:
  mdb_txn_abort (txn);
  return FALSE;
}

/* Private keys outside any block: one write transaction, synced (the env
 * syncs every commit unless the node runs with sync = false). */
gboolean
store_lmdb_private_write (CairnStore *store, const CairnWrite *writes, size_t n,
                          GError **error)
{
  MDB_txn *txn;
  int rc;

  g_return_val_if_fail (store != NULL, FALSE);
  if (!check_writes (CAIRN_HEAD, "writes", writes, n, error))
    return FALSE;
  if ((rc = mdb_txn_begin (store->env, NULL, 0, &txn)) != 0)
    return store_lmdb_fail (store, error, rc, "cannot start a private write");
  if (!apply_private (store, txn, CAIRN_HEAD, writes, n, error)) {
    mdb_txn_abort (txn);
    return FALSE;
  }
  if ((rc = mdb_txn_commit (txn)) != 0)
    return store_lmdb_fail (store, error, rc, "cannot commit a private write");
  return TRUE;
}

gboolean
store_lmdb_sync (CairnStore *store, GError **error)
{
  int rc = mdb_env_sync (store->env, 1);
  if (rc != 0)
    return store_lmdb_fail (store, error, rc, "cannot sync");
  return TRUE;
}
