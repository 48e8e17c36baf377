/* store-lmdb: convert a format-1 store to format 2.
 *
 * Format 1 kept each tx's height, index and result in table "txs", keyed by
 * tx id; format 2 keeps them per height in table "txlist" and the id index
 * in <dir>/txindex, which the open that follows builds from txlist. */
#include "store_lmdb.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  uint64_t height;
  uint32_t index;
  CairnCommitTx tx; /* pointing into the map: valid for the txn */
} OldTx;

static int
by_place (const void *a, const void *b)
{
  const OldTx *x = a, *y = b;
  if (x->height != y->height)
    return x->height < y->height ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* Write the txlist records of old (sorted) in write txns of at most
 * CHUNK_BYTES of records: LMDB keeps a txn's dirty pages in memory and
 * refuses more than 512 MiB of them (MDB_TXN_FULL). */
#define CHUNK_BYTES (64u << 20)

static gboolean
write_lists (CairnStore *store, MDB_dbi txlist, GArray *old, GError **error)
{
  g_autoptr (GArray) txs = g_array_new (FALSE, FALSE, sizeof (CairnCommitTx));
  MDB_txn *txn = NULL;
  size_t in_txn = 0;
  int rc;
  for (guint i = 0; i < old->len;) {
    const OldTx *first = &g_array_index (old, OldTx, i);
    g_array_set_size (txs, 0);
    guint j = i;
    for (;
         j < old->len && g_array_index (old, OldTx, j).height == first->height;
         j++) {
      const OldTx *t = &g_array_index (old, OldTx, j);
      if (t->index != j - i) {
        if (txn != NULL)
          mdb_txn_abort (txn);
        return store_lmdb_fail_corrupt (
            store, error,
            "table 'txs' (format 1): height %" G_GUINT64_FORMAT
            " has no tx at index %u",
            t->height, j - i);
      }
      g_array_append_val (txs, t->tx);
    }
    if (txn == NULL && (rc = mdb_txn_begin (store->env, NULL, 0, &txn)) != 0)
      return store_lmdb_fail (store, error, rc, "cannot start a write");
    uint8_t key[8];
    store_lmdb_put_u64be (key, first->height);
    MDB_val k = { 8, key };
    MDB_val v = { store_lmdb_txlist_size ((CairnCommitTx *)txs->data, txs->len),
                  NULL };
    rc = mdb_put (txn, txlist, &k, &v, MDB_APPEND | MDB_RESERVE);
    if (rc != 0) {
      mdb_txn_abort (txn);
      return store_lmdb_fail (store, error, rc, "cannot write the tx list");
    }
    store_lmdb_txlist_write (v.mv_data, (CairnCommitTx *)txs->data, txs->len);
    in_txn += v.mv_size;
    i = j;
    if (in_txn >= CHUNK_BYTES || i == old->len) {
      rc = mdb_txn_commit (txn);
      txn = NULL;
      in_txn = 0;
      if (rc != 0)
        return store_lmdb_fail (store, error, rc, "cannot write the tx list");
    }
  }
  return TRUE;
}

static gboolean
collect (CairnStore *store, MDB_txn *txn, MDB_dbi txs, GArray *out,
         GError **error)
{
  MDB_cursor *cur;
  int rc = mdb_cursor_open (txn, txs, &cur);
  if (rc != 0)
    return store_lmdb_fail (store, error, rc, "cannot read table 'txs'");
  MDB_val k, v;
  while ((rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT)) == 0) {
    if (k.mv_size != 32 || v.mv_size < 12) {
      mdb_cursor_close (cur);
      return store_lmdb_fail_corrupt (
          store, error,
          "table 'txs' (format 1): a record has a %zu-byte key "
          "and %zu bytes",
          k.mv_size, v.mv_size);
    }
    const uint8_t *p = v.mv_data;
    OldTx t = {
      .height = store_lmdb_get_u64be (p),
      .index = store_lmdb_get_u32be (p + 8),
      .tx = { .id = k.mv_data, .result = p + 12, .result_len = v.mv_size - 12 }
    };
    g_array_append_val (out, t);
  }
  mdb_cursor_close (cur);
  if (rc != MDB_NOTFOUND)
    return store_lmdb_fail (store, error, rc, "cannot read table 'txs'");
  return TRUE;
}

/* The format-1 tables, and an empty txlist (a conversion that stopped
 * halfway left part of one). */
static gboolean
open_tables (CairnStore *store, MDB_dbi *meta, MDB_dbi *txs, MDB_dbi *txlist,
             GError **error)
{
  MDB_txn *txn;
  int rc = mdb_txn_begin (store->env, NULL, 0, &txn);
  if (rc != 0)
    return store_lmdb_fail (store, error, rc, "cannot start a write");
  if ((rc = mdb_dbi_open (txn, "meta", 0, meta)) != 0
      || (rc = mdb_dbi_open (txn, "txs", 0, txs)) != 0
      || (rc = mdb_dbi_open (txn, "txlist", MDB_CREATE, txlist)) != 0
      || (rc = mdb_drop (txn, *txlist, 0)) != 0) {
    mdb_txn_abort (txn);
    if (rc == MDB_NOTFOUND)
      return store_lmdb_fail_corrupt (
          store, error, "a format-1 store without table 'meta' or 'txs'");
    return store_lmdb_fail (store, error, rc, "cannot open the tables");
  }
  if ((rc = mdb_txn_commit (txn)) != 0)
    return store_lmdb_fail (store, error, rc, "cannot open the tables");
  return TRUE;
}

gboolean
store_lmdb_migrate_v1 (CairnStore *store, GError **error)
{
  MDB_dbi meta, txs, txlist;
  if (!open_tables (store, &meta, &txs, &txlist, error))
    return FALSE;
  /* A read txn keeps the old records in place (and the pointers into them
   * valid) while the write txns add the new ones. */
  MDB_txn *read;
  int rc = mdb_txn_begin (store->env, NULL, MDB_RDONLY, &read);
  if (rc != 0)
    return store_lmdb_fail (store, error, rc, "cannot start a read");
  g_autoptr (GArray) old = g_array_new (FALSE, FALSE, sizeof (OldTx));
  gboolean ok = collect (store, read, txs, old, error);
  if (ok) {
    g_array_sort (old, by_place);
    ok = write_lists (store, txlist, old, error);
  }
  mdb_txn_abort (read);
  if (!ok)
    return FALSE;

  /* Last, in one txn: a crash before it leaves format 1, converted again. */
  MDB_txn *txn;
  if ((rc = mdb_txn_begin (store->env, NULL, 0, &txn)) != 0)
    return store_lmdb_fail (store, error, rc, "cannot start a write");
  if ((rc = mdb_drop (txn, txs, 1)) != 0
      || (rc = store_lmdb_put_format (txn, meta)) != 0) {
    mdb_txn_abort (txn);
    return store_lmdb_fail (store, error, rc,
                            "cannot convert the store to format 2");
  }
  if ((rc = mdb_txn_commit (txn)) != 0)
    return store_lmdb_fail (store, error, rc,
                            "cannot convert the store to format 2");
  if ((rc = mdb_env_sync (store->env, 1)) != 0)
    return store_lmdb_fail (store, error, rc, "cannot sync");
  store_lmdb_log (store, G_LOG_LEVEL_MESSAGE,
                  "%s: converted the store from format 1 to 2 (%u txs; the tx "
                  "index moves to %s/txindex)",
                  store->data_path, old->len, store->dir);
  return TRUE;
}
