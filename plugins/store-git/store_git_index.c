/* store-git: the index beside the repository (LMDB in <dir>/index):
 *   meta     "format" -> u32be, "head" -> u64be height + 20-byte commit id
 *   heights  u64be height -> 20-byte commit id
 *   hashes   32-byte block hash -> u64be height
 *   txs      32-byte tx id -> u64be height, u32be index, u64be offset and
 *            u64be length of the result in the block's results blob
 * It is a cache: everything in it comes from chain.git, and opening the
 * store rebuilds what is missing, behind or wrong. It is written after the
 * chain's ref moved, with MDB_NOMETASYNC (a crash of the machine may lose
 * its last block, which the next open adds back). */
#include "store_git.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#define META_FORMAT "format"
#define META_HEAD "head"
#define TX_RECORD 28
/* Blocks per write transaction while rebuilding. */
#define REBUILD_BATCH 512

static gboolean
index_fail (CairnStore *store, GError **error, int rc, const char *what)
{
  g_set_error (
      error, CAIRN_ERROR,
      rc == MDB_MAP_FULL ? CAIRN_ERROR_IO
      : rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID
          ? CAIRN_ERROR_CORRUPT
          : CAIRN_ERROR_IO,
      "%s/data.mdb: %s: %s%s", store->index_dir, what, mdb_strerror (rc),
      rc == MDB_MAP_FULL ? "; raise [store-git] index_map_size" : "");
  return FALSE;
}

static void
rm_index_files (CairnStore *store)
{
  const char *names[] = { "data.mdb", "lock.mdb" };
  for (size_t i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree char *p = g_build_filename (store->index_dir, names[i], NULL);
    g_unlink (p);
  }
}

/* LMDB trusts the page numbers in its header: a truncated file would fault
 * on the first read. FALSE when the file cannot be used. */
static gboolean
file_size_ok (CairnStore *store)
{
  MDB_envinfo info;
  MDB_stat st;
  GStatBuf sb;
  g_autofree char *data = g_build_filename (store->index_dir, "data.mdb", NULL);
  if (mdb_env_info (store->index_env, &info) != 0
      || mdb_env_stat (store->index_env, &st) != 0 || g_stat (data, &sb) != 0)
    return FALSE;
  return (guint64)sb.st_size >= ((guint64)info.me_last_pgno + 1) * st.ms_psize;
}

static int
env_try_open (CairnStore *store)
{
  StoreGitPlugin *p = store->plugin;
  unsigned flags = MDB_NOTLS | (p->sync ? MDB_NOMETASYNC : MDB_NOSYNC);
  MDB_env *env;
  int rc = mdb_env_create (&env);
  if (rc != 0)
    return rc;
  if ((rc = mdb_env_set_maxdbs (env, 4)) != 0
      || (rc = mdb_env_set_mapsize (env, (size_t)p->index_map_size)) != 0
      || (rc = mdb_env_open (env, store->index_dir, flags, 0600)) != 0) {
    mdb_env_close (env);
    return rc;
  }
  store->index_env = env;
  return 0;
}

static int
open_tables (CairnStore *store)
{
  MDB_txn *txn;
  int rc = mdb_txn_begin (store->index_env, NULL, 0, &txn);
  if (rc != 0)
    return rc;
  if ((rc = mdb_dbi_open (txn, "meta", MDB_CREATE, &store->meta)) != 0
      || (rc = mdb_dbi_open (txn, "heights", MDB_CREATE, &store->heights)) != 0
      || (rc = mdb_dbi_open (txn, "hashes", MDB_CREATE, &store->hashes)) != 0
      || (rc = mdb_dbi_open (txn, "txs", MDB_CREATE, &store->txs)) != 0) {
    mdb_txn_abort (txn);
    return rc;
  }
  /* Another format (or none yet): start the cache afresh. */
  MDB_val k = { strlen (META_FORMAT), (void *)META_FORMAT }, v;
  rc = mdb_get (txn, store->meta, &k, &v);
  if (rc != 0 || v.mv_size != 4
      || store_git_get_u32be (v.mv_data) != STORE_GIT_INDEX_VERSION) {
    uint8_t version[4];
    store_git_put_u32be (version, STORE_GIT_INDEX_VERSION);
    MDB_val nv = { 4, version };
    if ((rc = mdb_drop (txn, store->meta, 0)) != 0
        || (rc = mdb_drop (txn, store->heights, 0)) != 0
        || (rc = mdb_drop (txn, store->hashes, 0)) != 0
        || (rc = mdb_drop (txn, store->txs, 0)) != 0
        || (rc = mdb_put (txn, store->meta, &k, &nv, 0)) != 0) {
      mdb_txn_abort (txn);
      return rc;
    }
  }
  return mdb_txn_commit (txn);
}

gboolean
store_git_index_open (CairnStore *store, GError **error)
{
  store->index_dir = g_build_filename (store->dir, STORE_GIT_INDEX_DIR, NULL);
  if (g_mkdir_with_parents (store->index_dir, 0700) != 0)
    return store_git_fail_errno (error, errno, "cannot create",
                                 store->index_dir);
  int rc = env_try_open (store);
  if (rc == 0 && !file_size_ok (store))
    rc = MDB_CORRUPTED;
  if (rc == 0)
    rc = open_tables (store);
  if (rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_VERSION_MISMATCH
      || rc == MDB_PAGE_NOTFOUND || rc == MDB_INCOMPATIBLE) {
    /* Only a cache: start it again from the repository. */
    store_git_log (store, G_LOG_LEVEL_WARNING,
                   "%s/data.mdb: the index is damaged (%s); rebuilding it "
                   "from %s",
                   store->index_dir, mdb_strerror (rc), store->chain.path);
    store_git_index_close (store);
    rm_index_files (store);
    rc = env_try_open (store);
    if (rc == 0)
      rc = open_tables (store);
  }
  if (rc != 0)
    return index_fail (store, error, rc, "cannot open the index");
  return TRUE;
}

void
store_git_index_close (CairnStore *store)
{
  if (store->index_env != NULL)
    mdb_env_close (store->index_env);
  store->index_env = NULL;
}

/* ---- writing ---------------------------------------------------------- */

static int
put_head (CairnStore *store, MDB_txn *txn, uint64_t height,
          const git_oid *commit)
{
  uint8_t rec[8 + GIT_OID_RAWSZ];
  store_git_put_u64be (rec, height);
  memcpy (rec + 8, commit->id, GIT_OID_RAWSZ);
  MDB_val k = { strlen (META_HEAD), (void *)META_HEAD },
          v = { sizeof rec, rec };
  return mdb_put (txn, store->meta, &k, &v, 0);
}

/* One block's records inside txn. CONFLICT for a hash or tx id already
 * indexed. */
static gboolean
put_block (CairnStore *store, MDB_txn *txn, uint64_t height,
           const git_oid *commit, const uint8_t hash[32], const uint8_t *ids,
           const uint64_t *offsets, const uint64_t *lengths, size_t n,
           GError **error)
{
  uint8_t hkey[8];
  int rc;

  store_git_put_u64be (hkey, height);
  MDB_val k = { 8, hkey }, v = { GIT_OID_RAWSZ, (void *)commit->id };
  if ((rc = mdb_put (txn, store->heights, &k, &v, 0)) != 0)
    return index_fail (store, error, rc, "cannot index a block");
  MDB_val hk = { 32, (void *)hash }, hv = { 8, hkey };
  rc = mdb_put (txn, store->hashes, &hk, &hv, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST) {
    g_autofree char *hex = cairn_hex_encode (hash, 32);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
                 "%s: block %" G_GUINT64_FORMAT ": block hash %s is already "
                 "stored at height %" G_GUINT64_FORMAT,
                 store->dir, height, hex,
                 hv.mv_size == 8 ? store_git_get_u64be (hv.mv_data) : 0);
    return FALSE;
  }
  if (rc != 0)
    return index_fail (store, error, rc, "cannot index a block hash");
  for (size_t i = 0; i < n; i++) {
    uint8_t rec[TX_RECORD];
    store_git_put_u64be (rec, height);
    store_git_put_u32be (rec + 8, (uint32_t)i);
    store_git_put_u64be (rec + 12, offsets[i]);
    store_git_put_u64be (rec + 20, lengths[i]);
    MDB_val tk = { 32, (void *)(ids + 32 * i) }, tv = { TX_RECORD, rec };
    rc = mdb_put (txn, store->txs, &tk, &tv, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) {
      g_autofree char *hex = cairn_hex_encode (ids + 32 * i, 32);
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
                   "%s: block %" G_GUINT64_FORMAT ": txs[%zu] %s is already "
                   "stored",
                   store->dir, height, i, hex);
      return FALSE;
    }
    if (rc != 0)
      return index_fail (store, error, rc, "cannot index a tx");
  }
  return TRUE;
}

gboolean
store_git_index_add (CairnStore *store, uint64_t height, const git_oid *commit,
                     const uint8_t hash[32], const CairnCommitTx *txs,
                     size_t n_txs, const uint64_t *offsets, gboolean sync,
                     GError **error)
{
  MDB_txn *txn;
  int rc = mdb_txn_begin (store->index_env, NULL, 0, &txn);
  if (rc != 0)
    return index_fail (store, error, rc, "cannot start a write");
  g_autofree uint8_t *ids = g_malloc (32 * MAX (n_txs, 1));
  g_autofree uint64_t *lengths = g_new (uint64_t, MAX (n_txs, 1));
  for (size_t i = 0; i < n_txs; i++) {
    memcpy (ids + 32 * i, txs[i].id, 32);
    lengths[i] = txs[i].result_len;
  }
  if (!put_block (store, txn, height, commit, hash, ids, offsets, lengths,
                  n_txs, error)) {
    mdb_txn_abort (txn);
    return FALSE;
  }
  if ((rc = put_head (store, txn, height, commit)) != 0) {
    mdb_txn_abort (txn);
    return index_fail (store, error, rc, "cannot write the index head");
  }
  gboolean defer = store->plugin->sync && !sync;
  if (defer)
    mdb_env_set_flags (store->index_env, MDB_NOSYNC, 1);
  rc = mdb_txn_commit (txn);
  if (defer) {
    mdb_env_set_flags (store->index_env, MDB_NOSYNC, 0);
    store->index_unsynced = TRUE;
  }
  if (rc != 0)
    return index_fail (store, error, rc, "cannot commit the index");
  return TRUE;
}

gboolean
store_git_index_sync (CairnStore *store, GError **error)
{
  int rc = mdb_env_sync (store->index_env, 1);
  if (rc != 0)
    return index_fail (store, error, rc, "cannot sync the index");
  store->index_unsynced = FALSE;
  return TRUE;
}

/* ---- reading --------------------------------------------------------------
 */

/* mdb_get in a short read txn; FALSE with *found FALSE when absent. */
static gboolean
get_copy (CairnStore *store, MDB_dbi dbi, const void *key, size_t klen,
          void *out, size_t want, gboolean *found, const char *table,
          GError **error)
{
  MDB_txn *txn;
  int rc = mdb_txn_begin (store->index_env, NULL, MDB_RDONLY, &txn);
  *found = FALSE;
  if (rc != 0)
    return index_fail (store, error, rc, "cannot start a read");
  MDB_val k = { klen, (void *)key }, v;
  rc = mdb_get (txn, dbi, &k, &v);
  if (rc == 0 && v.mv_size == want)
    memcpy (out, v.mv_data, want);
  mdb_txn_abort (txn);
  if (rc == MDB_NOTFOUND)
    return TRUE;
  if (rc != 0)
    return index_fail (store, error, rc, "cannot read the index");
  if (v.mv_size != want) {
    g_autofree char *path
        = g_build_filename (store->index_dir, "data.mdb", NULL);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "%s: table '%s': a record has %zu bytes instead of %zu; "
                 "stop the node and remove %s: it is rebuilt from %s",
                 path, table, v.mv_size, want, store->index_dir,
                 store->chain.path);
    return FALSE;
  }
  *found = TRUE;
  return TRUE;
}

gboolean
store_git_index_has_hash (CairnStore *store, const uint8_t hash[32],
                          uint64_t *height, GError **error)
{
  uint8_t v[8];
  gboolean found;
  if (!get_copy (store, store->hashes, hash, 32, v, 8, &found, "hashes", error))
    return FALSE;
  if (!found) {
    g_autofree char *hex = cairn_hex_encode (hash, 32);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                 "block with hash %s not found", hex);
    return FALSE;
  }
  if (height != NULL)
    *height = store_git_get_u64be (v);
  return TRUE;
}

gboolean
store_git_index_has_tx (CairnStore *store, const uint8_t id[32],
                        gboolean *found, GError **error)
{
  uint8_t v[TX_RECORD];
  return get_copy (store, store->txs, id, 32, v, TX_RECORD, found, "txs",
                   error);
}

gboolean
store_git_index_commit_at (CairnStore *store, uint64_t height, git_oid *out,
                           GError **error)
{
  uint8_t key[8], v[GIT_OID_RAWSZ];
  gboolean found;
  store_git_put_u64be (key, height);
  if (!get_copy (store, store->heights, key, 8, v, GIT_OID_RAWSZ, &found,
                 "heights", error))
    return FALSE;
  if (!found) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                 "block at height %" G_GUINT64_FORMAT " not found", height);
    return FALSE;
  }
  git_oid_fromraw (out, v);
  return TRUE;
}

gboolean
store_git_index_tx (CairnStore *store, const uint8_t id[32], uint64_t *height,
                    uint32_t *index, uint64_t *offset, uint64_t *length,
                    GError **error)
{
  uint8_t v[TX_RECORD];
  gboolean found;
  if (!get_copy (store, store->txs, id, 32, v, TX_RECORD, &found, "txs", error))
    return FALSE;
  if (!found) {
    g_autofree char *hex = cairn_hex_encode (id, 32);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND, "tx %s not found",
                 hex);
    return FALSE;
  }
  *height = store_git_get_u64be (v);
  *index = store_git_get_u32be (v + 8);
  *offset = store_git_get_u64be (v + 12);
  *length = store_git_get_u64be (v + 20);
  return TRUE;
}

/* ---- rebuilding from the repository ------------------------------------- */

static gboolean
read_index_head (CairnStore *store, gboolean *have, uint64_t *height,
                 git_oid *commit, GError **error)
{
  uint8_t rec[8 + GIT_OID_RAWSZ];
  if (!get_copy (store, store->meta, META_HEAD, strlen (META_HEAD), rec,
                 sizeof rec, have, "meta", error))
    return FALSE;
  if (*have) {
    *height = store_git_get_u64be (rec);
    git_oid_fromraw (commit, rec + 8);
  }
  return TRUE;
}

static gboolean
clear_tables (CairnStore *store, GError **error)
{
  MDB_txn *txn;
  int rc = mdb_txn_begin (store->index_env, NULL, 0, &txn);
  if (rc != 0)
    return index_fail (store, error, rc, "cannot start a write");
  MDB_val k = { strlen (META_HEAD), (void *)META_HEAD };
  rc = mdb_del (txn, store->meta, &k, NULL);
  if (rc == MDB_NOTFOUND)
    rc = 0;
  if (rc != 0 || (rc = mdb_drop (txn, store->heights, 0)) != 0
      || (rc = mdb_drop (txn, store->hashes, 0)) != 0
      || (rc = mdb_drop (txn, store->txs, 0)) != 0) {
    mdb_txn_abort (txn);
    return index_fail (store, error, rc, "cannot clear the index");
  }
  if ((rc = mdb_txn_commit (txn)) != 0)
    return index_fail (store, error, rc, "cannot clear the index");
  return TRUE;
}

/* The first-parent chain from the head down to height lowest: out[i] is
 * the commit of height lowest + i. */
static gboolean
walk_back (CairnStore *store, uint64_t lowest, GArray *out, GError **error)
{
  StoreGitRepo *r = &store->chain;
  git_oid at;
  git_oid_cpy (&at, &store->head_commit);
  uint64_t h = store->head;
  g_array_set_size (out, (guint)(h - lowest + 1));
  for (;;) {
    g_array_index (out, git_oid, h - lowest) = at;
    if (h == lowest)
      return TRUE;
    git_commit *c;
    int rc = git_commit_lookup (&c, r->repo, &at);
    if (rc < 0) {
      char hex[GIT_OID_HEXSZ + 1];
      git_oid_tostr (hex, sizeof hex, &at);
      return store_git_fail (
          r, error, rc,
          "cannot read the commit of block %" G_GUINT64_FORMAT " (%s)", h, hex);
    }
    unsigned parents = git_commit_parentcount (c);
    if (parents != 1) {
      char hex[GIT_OID_HEXSZ + 1];
      git_oid_tostr (hex, sizeof hex, &at);
      git_commit_free (c);
      return store_git_fail_corrupt (store, r->path, error,
                                     "the commit of block %" G_GUINT64_FORMAT
                                     " (%s) has %u parents instead of 1",
                                     h, hex, parents);
    }
    git_oid_cpy (&at, git_commit_parent_id (c, 0));
    git_commit_free (c);
    h--;
  }
}

/* Index the block whose commit tree is tree (commit hex). */
static gboolean
index_tree (CairnStore *store, MDB_txn *txn, uint64_t h, const git_oid *oid,
            const char *hex, git_tree *tree, GError **error)
{
  StoreGitRepo *r = &store->chain;
  g_autoptr (GBytes) hash_text
      = store_git_tree_blob (r, tree, "hash", TRUE, error);
  if (hash_text == NULL)
    return FALSE;
  g_autofree char *hash_hex = g_strndup (g_bytes_get_data (hash_text, NULL),
                                         g_bytes_get_size (hash_text));
  g_strchomp (hash_hex);
  uint8_t hash[32];
  if (!cairn_hex_decode (hash_hex, hash, 32))
    return store_git_fail_corrupt (
        store, r->path, error, "commit %s: 'hash' is not 64 hex digits", hex);
  g_autoptr (GBytes) results
      = store_git_tree_blob (r, tree, "results", TRUE, error);
  if (results == NULL)
    return FALSE;
  g_autoptr (GArray) parsed
      = g_array_new (FALSE, FALSE, sizeof (StoreGitResult));
  g_autofree char *where = g_strdup_printf ("%s (commit %s)", r->path, hex);
  gsize rlen;
  const uint8_t *rdata = g_bytes_get_data (results, &rlen);
  if (!store_git_results_parse (store, where, rdata, rlen, parsed, error))
    return FALSE;
  guint n = parsed->len;
  g_autofree uint8_t *ids = g_malloc (32 * MAX (n, 1));
  g_autofree uint64_t *offsets = g_new (uint64_t, MAX (n, 1));
  g_autofree uint64_t *lengths = g_new (uint64_t, MAX (n, 1));
  for (guint i = 0; i < n; i++) {
    const StoreGitResult *res = &g_array_index (parsed, StoreGitResult, i);
    memcpy (ids + 32 * i, res->id, 32);
    offsets[i] = res->offset;
    lengths[i] = res->length;
  }
  return put_block (store, txn, h, oid, hash, ids, offsets, lengths, n, error);
}

/* Index the commit of height h (read back from the repository). */
static gboolean
index_commit (CairnStore *store, MDB_txn *txn, uint64_t h, const git_oid *oid,
              GError **error)
{
  StoreGitRepo *r = &store->chain;
  git_commit *c = NULL;
  git_tree *tree = NULL;
  gboolean ok = FALSE;
  uint64_t have;
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr (hex, sizeof hex, oid);

  int rc = git_commit_lookup (&c, r->repo, oid);
  if (rc < 0)
    return store_git_fail (
        r, error, rc,
        "cannot read the commit of block %" G_GUINT64_FORMAT " (%s)", h, hex);
  if (!store_git_commit_height (r, c, &have, error)) {
  } else if (have != h) {
    store_git_fail_corrupt (store, r->path, error,
                            "commit %s is block %" G_GUINT64_FORMAT
                            " but sits at height %" G_GUINT64_FORMAT
                            " of the chain",
                            hex, have, h);
  } else if ((rc = git_commit_tree (&tree, c)) < 0) {
    store_git_fail (r, error, rc, "cannot read the tree of commit %s", hex);
  } else {
    ok = index_tree (store, txn, h, oid, hex, tree, error);
  }
  git_tree_free (tree);
  git_commit_free (c);
  return ok;
}

static gboolean
rebuild (CairnStore *store, GArray *commits, uint64_t first, GError **error)
{
  for (guint i = 0; i < commits->len;) {
    MDB_txn *txn;
    int rc = mdb_txn_begin (store->index_env, NULL, 0, &txn);
    if (rc != 0)
      return index_fail (store, error, rc, "cannot start a write");
    guint end = MIN (commits->len, i + REBUILD_BATCH);
    for (; i < end; i++) {
      if (!index_commit (store, txn, first + i,
                         &g_array_index (commits, git_oid, i), error)) {
        mdb_txn_abort (txn);
        return FALSE;
      }
    }
    rc = put_head (store, txn, first + end - 1,
                   &g_array_index (commits, git_oid, end - 1));
    if (rc == 0)
      rc = mdb_txn_commit (txn);
    else
      mdb_txn_abort (txn);
    if (rc != 0)
      return index_fail (store, error, rc, "cannot write the index");
  }
  return TRUE;
}

gboolean
store_git_index_reconcile (CairnStore *store, GError **error)
{
  gboolean have;
  uint64_t ih = 0;
  git_oid ic;

  if (!read_index_head (store, &have, &ih, &ic, error))
    return FALSE;
  if (!store->has_head)
    return !have || clear_tables (store, error);
  if (have && ih == store->head && git_oid_equal (&ic, &store->head_commit))
    return TRUE;

  g_autoptr (GArray) commits = g_array_new (FALSE, FALSE, sizeof (git_oid));
  gboolean from_genesis = TRUE;
  if (have && ih < store->head) {
    /* Behind (a crash between the ref and the index): if the index's head
     * is on the chain, add only what follows it. */
    if (!walk_back (store, ih, commits, error))
      return FALSE;
    from_genesis = !git_oid_equal (&g_array_index (commits, git_oid, 0), &ic);
    if (!from_genesis)
      g_array_remove_index (commits, 0);
  }
  if (from_genesis && !walk_back (store, 0, commits, error))
    return FALSE;
  uint64_t first = from_genesis ? 0 : ih + 1;
  if (from_genesis && !clear_tables (store, error))
    return FALSE;
  gint64 t0 = g_get_monotonic_time ();
  if (!rebuild (store, commits, first, error))
    return FALSE;
  store_git_log (store, from_genesis ? G_LOG_LEVEL_MESSAGE : G_LOG_LEVEL_INFO,
                 "%s: %s the index of blocks %" G_GUINT64_FORMAT
                 "..%" G_GUINT64_FORMAT " from %s in %.1f s",
                 store->index_dir, from_genesis ? "rebuilt" : "caught up",
                 first, store->head, store->chain.path,
                 (g_get_monotonic_time () - t0) / 1e6);
  return TRUE;
}
