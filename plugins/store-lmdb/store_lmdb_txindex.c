/* store-lmdb: the tx index, tx id -> (height, index), in a LevelDB database
 * <dir>/txindex written without fsync after each block's commit.
 *
 * Why not LMDB: tx ids are random, so in a B-tree every tx of a block
 * dirties its own leaf page, and once the index outgrows memory each
 * block's commit writes (and syncs) several MB; commit time then grows with
 * the chain. An LSM tree appends the ids to a log and writes them out
 * sorted, in the background, in large sequential files.
 *
 * Each id is indexed once: the core refuses a block that repeats a
 * committed tx, so a commit does not look its ids up first (an id given
 * again would point at its later place).
 *
 * Why no fsync: the index is derived from table txlist, which commits with
 * the block, and it records the first height it does not hold ("next") in
 * the same atomic batch as the ids. A killed node loses nothing (LevelDB's
 * log is in the page cache); a machine crash may lose the last batches,
 * which the next open indexes again from txlist. A log LevelDB cannot read
 * back whole (paranoid checks) makes the open rebuild the index. */
#include "store_lmdb.h"

#include <string.h>

#include <leveldb/c.h>

#define INDEX_DIR "txindex"
/* Shorter than a tx id (32 bytes), so never one. */
#define KEY_NEXT "next"
/* Txs per batch while indexing from txlist. */
#define CATCH_UP_BATCH 65536u
/* Catch-ups of more heights than this say so in the log. */
#define LOG_HEIGHTS 1000u
/* LevelDB's default is 1,000 open table files: a node has other uses for
 * its descriptors. */
#define MAX_OPEN_FILES 128
#define BLOOM_BITS 10

struct StoreLmdbTxIndex {
  char *dir;
  leveldb_t *db;
  leveldb_options_t *options;
  leveldb_filterpolicy_t *bloom;
  leveldb_readoptions_t *read;
  leveldb_writeoptions_t *write;
  uint64_t next; /* main loop only: heights below it are indexed */
};

/* Takes err (LevelDB's malloc'd message). Says when the file system is
 * full, as the main store's errors do. */
static gboolean
fail (CairnStore *store, GError **error, char *err, const char *what)
{
  g_autofree char *space = store_lmdb_space_hint (store);
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO, "%s: %s: %s%s",
               store->txindex->dir, what, err ? err : "unknown error", space);
  leveldb_free (err);
  return FALSE;
}

/* Add id -> (height, index) to b. */
static void
batch_put_id (leveldb_writebatch_t *b, const uint8_t *id, uint64_t height,
              uint32_t index)
{
  uint8_t rec[12];
  store_lmdb_put_u64be (rec, height);
  store_lmdb_put_u32be (rec + 8, index);
  leveldb_writebatch_put (b, (const char *)id, 32, (const char *)rec, 12);
}

/* Write b with "next" in the same batch; then x->next = next. FALSE with
 * *err (LevelDB's) when the write fails. */
static gboolean
write_batch (StoreLmdbTxIndex *x, leveldb_writebatch_t *b, uint64_t next,
             char **err)
{
  uint8_t v[8];
  store_lmdb_put_u64be (v, next);
  leveldb_writebatch_put (b, KEY_NEXT, strlen (KEY_NEXT), (const char *)v, 8);
  leveldb_write (x->db, x->write, b, err);
  if (*err != NULL)
    return FALSE;
  x->next = next;
  return TRUE;
}

/* The stored "next": TRUE with *next, FALSE when absent or malformed. */
static gboolean
read_next (StoreLmdbTxIndex *x, uint64_t *next, char **err)
{
  size_t len = 0;
  char *v
      = leveldb_get (x->db, x->read, KEY_NEXT, strlen (KEY_NEXT), &len, err);
  gboolean ok = v != NULL && len == 8;
  if (ok)
    *next = store_lmdb_get_u64be ((const uint8_t *)v);
  leveldb_free (v);
  return ok;
}

/* Index the records of txlist from height x->next up to the head. */
static gboolean
catch_up (CairnStore *store, GError **error)
{
  StoreLmdbTxIndex *x = store->txindex;
  MDB_txn *rtxn = store_lmdb_reader_acquire (store, error);
  if (rtxn == NULL)
    return FALSE;
  uint64_t head = 0;
  g_autoptr (GError) local = NULL;
  if (!store_lmdb_read_head (store, rtxn, &head, &local)) {
    store_lmdb_reader_release (store, rtxn);
    if (g_error_matches (local, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND))
      return TRUE; /* an empty store */
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  if (x->next > head) {
    store_lmdb_reader_release (store, rtxn);
    return TRUE;
  }
  gboolean say = head - x->next >= LOG_HEIGHTS;
  if (say)
    store_lmdb_log (store, G_LOG_LEVEL_MESSAGE,
                    "%s: indexing the txs of heights %" G_GUINT64_FORMAT
                    "..%" G_GUINT64_FORMAT,
                    x->dir, x->next, head);
  int64_t t0 = g_get_monotonic_time ();
  uint64_t total = 0;
  gboolean ok = FALSE;
  MDB_cursor *cur = NULL;
  leveldb_writebatch_t *b = leveldb_writebatch_create ();
  char *err = NULL;
  int rc;
  if ((rc = mdb_cursor_open (rtxn, store->txlist, &cur)) != 0) {
    store_lmdb_fail (store, error, rc, "cannot read table 'txlist'");
    goto out;
  }
  uint8_t key[8];
  store_lmdb_put_u64be (key, x->next);
  MDB_val k = { 8, key }, v;
  guint batched = 0;
  for (rc = mdb_cursor_get (cur, &k, &v, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT)) {
    uint32_t n;
    if (k.mv_size != 8 || !store_lmdb_txlist_check (v.mv_data, v.mv_size, &n)) {
      store_lmdb_fail_corrupt (store, error,
                               "table 'txlist': a record does not decode");
      goto out;
    }
    uint64_t h = store_lmdb_get_u64be (k.mv_data);
    if (h > head)
      break;
    for (uint32_t i = 0; i < n; i++) {
      const uint8_t *id, *result;
      size_t result_len;
      store_lmdb_txlist_entry (v.mv_data, i, &id, &result, &result_len);
      batch_put_id (b, id, h, i);
    }
    total += n;
    batched += n;
    if (batched >= CATCH_UP_BATCH) {
      if (!write_batch (x, b, h + 1, &err)) {
        fail (store, error, err, "cannot write the tx index");
        goto out;
      }
      leveldb_writebatch_clear (b);
      batched = 0;
    }
  }
  if (rc != 0 && rc != MDB_NOTFOUND) {
    store_lmdb_fail (store, error, rc, "cannot read table 'txlist'");
    goto out;
  }
  if (!write_batch (x, b, head + 1, &err)) {
    fail (store, error, err, "cannot write the tx index");
    goto out;
  }
  ok = TRUE;
  if (say)
    store_lmdb_log (store, G_LOG_LEVEL_MESSAGE,
                    "%s: indexed %" G_GUINT64_FORMAT " txs in %.1f s", x->dir,
                    total, (double)(g_get_monotonic_time () - t0) / 1e6);
out:
  leveldb_writebatch_destroy (b);
  if (cur != NULL)
    mdb_cursor_close (cur);
  store_lmdb_reader_release (store, rtxn);
  return ok;
}

/* Why the opened index cannot be used as it is, or NULL (x->next set). */
static char *
distrust (CairnStore *store, StoreLmdbTxIndex *x)
{
  char *err = NULL;
  uint64_t next = 0;
  if (!read_next (x, &next, &err)) {
    g_autofree char *why
        = g_strdup_printf ("it has no record of the heights it holds%s%s",
                           err ? ": " : "", err ? err : "");
    leveldb_free (err);
    return g_steal_pointer (&why);
  }
  uint64_t head = 0;
  uint64_t stored = store_lmdb_head (store, &head, NULL) ? head + 1 : 0;
  /* A store restored from a copy older than its index. */
  if (next > stored)
    return g_strdup_printf (
        "it indexes heights below %" G_GUINT64_FORMAT
        ", the store holds heights below %" G_GUINT64_FORMAT,
        next, stored);
  x->next = next;
  return NULL;
}

static gboolean
open_db (StoreLmdbTxIndex *x, char **err)
{
  x->db = leveldb_open (x->options, x->dir, err);
  return x->db != NULL;
}

gboolean
store_lmdb_txindex_open (CairnStore *store, GError **error)
{
  StoreLmdbTxIndex *x = g_new0 (StoreLmdbTxIndex, 1);
  store->txindex = x;
  x->dir = g_build_filename (store->dir, INDEX_DIR, NULL);
  x->options = leveldb_options_create ();
  x->bloom = leveldb_filterpolicy_create_bloom (BLOOM_BITS);
  leveldb_options_set_create_if_missing (x->options, 1);
  /* A log record that does not read back fails the open (then the index
   * is rebuilt) instead of being skipped with the batches after it kept. */
  leveldb_options_set_paranoid_checks (x->options, 1);
  leveldb_options_set_filter_policy (x->options, x->bloom);
  leveldb_options_set_max_open_files (x->options, MAX_OPEN_FILES);
  /* Random ids do not compress: snappy would only cost CPU. */
  leveldb_options_set_compression (x->options, leveldb_no_compression);
  x->read = leveldb_readoptions_create ();
  x->write = leveldb_writeoptions_create ();
  leveldb_writeoptions_set_sync (x->write, 0);

  gboolean existed = g_file_test (x->dir, G_FILE_TEST_IS_DIR);
  char *err = NULL;
  g_autofree char *why = NULL;
  if (!open_db (x, &err)) {
    why = g_strdup (err);
    leveldb_free (err);
    err = NULL;
  } else if (existed) /* a new one holds nothing: next is 0 */
    why = distrust (store, x);
  if (why != NULL) {
    store_lmdb_log (store, G_LOG_LEVEL_WARNING,
                    "%s: rebuilding the tx index: %s", x->dir, why);
    if (x->db != NULL)
      leveldb_close (x->db);
    x->db = NULL;
    leveldb_destroy_db (x->options, x->dir, &err);
    leveldb_free (err);
    err = NULL;
    x->next = 0;
    if (!open_db (x, &err))
      return fail (store, error, err, "cannot create the tx index");
  }
  return catch_up (store, error);
}

void
store_lmdb_txindex_close (CairnStore *store)
{
  StoreLmdbTxIndex *x = store->txindex;
  if (x == NULL)
    return;
  if (x->db != NULL)
    leveldb_close (x->db);
  leveldb_options_destroy (x->options);
  leveldb_filterpolicy_destroy (x->bloom);
  leveldb_readoptions_destroy (x->read);
  leveldb_writeoptions_destroy (x->write);
  g_free (x->dir);
  g_free (x);
  store->txindex = NULL;
}

void
store_lmdb_txindex_add (CairnStore *store, uint64_t height,
                        const CairnCommitTx *txs, size_t n)
{
  StoreLmdbTxIndex *x = store->txindex;
  g_autoptr (GError) error = NULL;
  /* Behind after a failed write: from txlist, this height included. */
  if (x->next < height) {
    if (!catch_up (store, &error))
      store_lmdb_log (store, G_LOG_LEVEL_WARNING,
                      "cannot index the txs of heights %" G_GUINT64_FORMAT
                      "..%" G_GUINT64_FORMAT " (%s): the next commit tries "
                      "again",
                      x->next, height, error->message);
    return;
  }
  leveldb_writebatch_t *b = leveldb_writebatch_create ();
  for (size_t i = 0; i < n; i++)
    batch_put_id (b, txs[i].id, height, (uint32_t)i);
  char *err = NULL;
  gboolean ok = write_batch (x, b, height + 1, &err);
  leveldb_writebatch_destroy (b);
  if (ok)
    return;
  g_autofree char *space = store_lmdb_space_hint (store);
  store_lmdb_log (store, G_LOG_LEVEL_WARNING,
                  "%s: cannot index the txs of height %" G_GUINT64_FORMAT
                  " (%s%s): the next commit indexes them again",
                  x->dir, height, err, space);
  leveldb_free (err);
}

gboolean
store_lmdb_txindex_find (CairnStore *store, const uint8_t id[32],
                         uint64_t *height, uint32_t *index, GError **error)
{
  StoreLmdbTxIndex *x = store->txindex;
  char *err = NULL;
  size_t len = 0;
  char *v = leveldb_get (x->db, x->read, (const char *)id, 32, &len, &err);
  if (err != NULL)
    return fail (store, error, err, "cannot read the tx index");
  g_autofree char *hex = cairn_hex_encode (id, 32);
  if (v == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND, "tx %s not found",
                 hex);
    return FALSE;
  }
  gboolean ok = len == 12;
  if (ok) {
    *height = store_lmdb_get_u64be ((const uint8_t *)v);
    *index = store_lmdb_get_u32be ((const uint8_t *)v + 8);
  } else
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "%s: the index record of tx %s has %zu bytes instead of 12; "
                 "remove %s and restart to rebuild it",
                 x->dir, hex, len, x->dir);
  leveldb_free (v);
  return ok;
}
