/* store-git: commit a block. Objects go to one pack (fsynced), then the
 * private commit of the block's private writes, then refs/heads/chain
 * moves (fsynced): the commit point. A crash before it leaves the previous
 * head (opening rolls the private commit back); after it, opening brings
 * the index up to date. */
#include "store_git.h"

#include <string.h>

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
                 "store-git: private write: %s", what);
  else
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "store-git: commit of height %" G_GUINT64_FORMAT ": %s",
                 height, what);
  return FALSE;
}

gboolean
store_git_check_writes (uint64_t height, const char *field,
                        const CairnWrite *writes, size_t n, GError **error)
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
                 "store-git: commit data is %s (size %u, need %zu)",
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
  return store_git_check_writes (h, "writes", data->writes, data->n_writes,
                                 error)
         && store_git_check_writes (h, "private_writes", data->private_writes,
                                    data->n_private_writes, error);
}

/* head + 1, no hash or tx id stored before (nor twice in the block). */
static gboolean
check_new (CairnStore *store, const CairnCommitData *data, GError **error)
{
  uint64_t h = data->height;
  if (!store->has_head && h != 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
                 "%s: cannot commit height %" G_GUINT64_FORMAT
                 ": the store is empty, so the first block must be height 0",
                 store->dir, h);
    return FALSE;
  }
  if (store->has_head && h != store->head + 1) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
                 "%s: cannot commit height %" G_GUINT64_FORMAT
                 ": the head is %" G_GUINT64_FORMAT
                 ", so the next block must be %" G_GUINT64_FORMAT,
                 store->dir, h, store->head, store->head + 1);
    return FALSE;
  }
  g_autoptr (GError) local = NULL;
  uint64_t at;
  if (store_git_index_has_hash (store, data->block_hash, &at, &local)) {
    g_autofree char *hex = cairn_hex_encode (data->block_hash, 32);
    g_set_error (
        error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
        "%s: cannot commit height %" G_GUINT64_FORMAT
        ": block hash %s is already stored at height %" G_GUINT64_FORMAT,
        store->dir, h, hex, at);
    return FALSE;
  }
  if (!g_error_matches (local, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND)) {
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  g_autoptr (GHashTable) seen = g_hash_table_new (g_bytes_hash, g_bytes_equal);
  g_autoptr (GPtrArray) keep
      = g_ptr_array_new_with_free_func ((GDestroyNotify)g_bytes_unref);
  for (size_t i = 0; i < data->n_txs; i++) {
    gboolean found;
    GBytes *id = g_bytes_new_static (data->txs[i].id, 32);
    g_ptr_array_add (keep, id);
    if (!g_hash_table_add (seen, id))
      found = TRUE;
    else if (!store_git_index_has_tx (store, data->txs[i].id, &found, error))
      return FALSE;
    if (found) {
      g_autofree char *hex = cairn_hex_encode (data->txs[i].id, 32);
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
                   "%s: cannot commit height %" G_GUINT64_FORMAT
                   ": txs[%zu] %s is already stored",
                   store->dir, h, i, hex);
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
add_text_blob (StoreGitRepo *r, GPtrArray *entries, const char *name,
               const char *text, GError **error)
{
  git_oid oid;
  if (!store_git_write (r, GIT_OBJECT_BLOB, text, strlen (text), &oid, error))
    return FALSE;
  g_ptr_array_add (entries, store_git_entry_new (name, &oid, FALSE));
  return TRUE;
}

/* The block's objects (in memory): its tree and the commit. */
static gboolean
build_commit (CairnStore *store, const CairnCommitData *data, int64_t time_s,
              uint64_t *offsets, git_oid *commit, GError **error)
{
  StoreGitRepo *r = &store->chain;
  git_oid state = { { 0 } }, tree, oid;
  g_autoptr (GPtrArray) entries
      = g_ptr_array_new_with_free_func ((GDestroyNotify)store_git_entry_free);

  if (store->has_head) {
    git_oid head;
    if (!store_git_commit_state (store, CAIRN_HEAD, &head, &state, error))
      return FALSE;
  }
  if (!store_git_trie_apply (r, &state, data->writes, data->n_writes, error))
    return FALSE;
  if (!git_oid_is_zero (&state))
    g_ptr_array_add (entries, store_git_entry_new ("state", &state, TRUE));

  g_autofree char *height
      = g_strdup_printf ("%" G_GUINT64_FORMAT "\n", data->height);
  g_autofree char *hash_hex = cairn_hex_encode (data->block_hash, 32);
  g_autofree char *hash = g_strconcat (hash_hex, "\n", NULL);
  g_autoptr (GBytes) results
      = store_git_results_encode (data->txs, data->n_txs, offsets);
  gsize rlen;
  const void *rdata = g_bytes_get_data (results, &rlen);
  if (!add_text_blob (r, entries, "height", height, error)
      || !add_text_blob (r, entries, "hash", hash, error)
      || !store_git_block_write (r, data->block, data->block_len, entries,
                                 error)
      || !store_git_write (r, GIT_OBJECT_BLOB, rdata != NULL ? rdata : "", rlen,
                           &oid, error))
    return FALSE;
  g_ptr_array_add (entries, store_git_entry_new ("results", &oid, FALSE));
  if (!store_git_tree_write (r, entries, &tree, error))
    return FALSE;

  g_autofree char *message
      = g_strdup_printf ("block %" G_GUINT64_FORMAT "\n\nhash %s\ntxs %zu\n",
                         data->height, hash_hex, data->n_txs);
  return store_git_write_commit (r, &tree,
                                 store->has_head ? &store->head_commit : NULL,
                                 time_s, message, commit, error);
}

/* Undo a block whose ref moved but whose index failed: the ref back, the
 * private commit rolled back. When that fails too, the store refuses
 * everything until it is reopened (which reconciles from the files). */
static void
undo_block (CairnStore *store, uint64_t height, gboolean had_head,
            const git_oid *old_head, uint64_t old_height, const git_oid *commit,
            gboolean had_private)
{
  g_autoptr (GError) e = NULL;
  gboolean ok
      = store_git_ref_move (&store->chain, commit, had_head ? old_head : NULL,
                            TRUE, "undo a failed commit", &e)
        && (!had_private || store_git_private_rollback (store, height, &e));
  store->has_head = had_head;
  store->head = old_height;
  if (had_head)
    git_oid_cpy (&store->head_commit, old_head);
  if (!ok) {
    store->broken = g_strdup (e->message);
    store_git_log (
        store, G_LOG_LEVEL_CRITICAL,
        "%s: cannot undo the failed commit of block %" G_GUINT64_FORMAT ": %s",
        store->dir, height, e->message);
  }
}

/* Keep the number of packs small between checkpoints (every lookup tries
 * each pack); logged, not fatal, like packing. */
static void
merge_packs (CairnStore *store)
{
  StoreGitRepo *repos[] = { &store->chain, &store->priv };
  for (size_t i = 0; i < G_N_ELEMENTS (repos); i++) {
    g_autoptr (GError) e = NULL;
    /* A checkpoint being packed reads the chain's packs: none may go. */
    if (repos[i] == &store->chain && store->checkpoint != NULL)
      continue;
    if (!store_git_merge_small_packs (repos[i], &e))
      store_git_log (store, G_LOG_LEVEL_WARNING, "%s: merging packs failed: %s",
                     repos[i]->path, e->message);
  }
}

/* After the commit: consolidation is housekeeping; a failure is logged
 * (the block is committed) and tried again at the next checkpoint. */
static void
maybe_consolidate (CairnStore *store, uint64_t height)
{
  StoreGitPlugin *p = store->plugin;
  g_autoptr (GError) e = NULL;

  store_git_checkpoint_finish (store, FALSE);
  merge_packs (store);
  if (p->pack_every == 0)
    return;
  if (height > 0 && height % p->pack_every == 0
      && !store_git_checkpoint_start (store, height, &store->head_commit, TRUE,
                                      &e)) {
    store_git_log (store, G_LOG_LEVEL_WARNING,
                   "%s: packing at block %" G_GUINT64_FORMAT " failed: %s",
                   store->chain.path, height, e->message);
    g_clear_error (&e);
  }
  if (store->priv.packs_since_consolidation >= p->pack_every
      && !store_git_consolidate_private (store, &e)) {
    store_git_log (store, G_LOG_LEVEL_WARNING, "%s: packing failed: %s",
                   store->priv.path, e->message);
    g_clear_error (&e);
  }
}

gboolean
store_git_commit (CairnStore *store, const CairnCommitData *data,
                  GError **error)
{
  git_oid commit, old_head = { { 0 } };
  gboolean ok = FALSE, private_moved = FALSE, had_head;
  uint64_t old_height;
  g_autofree char *why = NULL;

  g_return_val_if_fail (store != NULL, FALSE);
  if (!check_data (data, error))
    return FALSE;
  gboolean defer = CAIRN_STRUCT_HAS (data, data->size, flags)
                   && (data->flags & CAIRN_COMMIT_DEFER_SYNC);
  gboolean sync = store->plugin->sync && !defer;
  g_autofree uint64_t *offsets = g_new0 (uint64_t, MAX (data->n_txs, 1));
  int64_t time_s = store_git_block_time (data->block, data->block_len);

  g_rec_mutex_lock (&store->lock);
  if (!store_git_check_usable (store, error) || !check_new (store, data, error)
      || !build_commit (store, data, time_s, offsets, &commit, error))
    goto fail;
  STORE_GIT_STEP ("objects");
  if (!store_git_repo_flush (&store->chain, sync, error))
    goto fail;
  STORE_GIT_STEP ("pack");
  if (data->n_private_writes > 0) {
    if (!store_git_private_commit (store, data->height, &commit,
                                   data->private_writes, data->n_private_writes,
                                   time_s, sync, error))
      goto fail;
    private_moved = TRUE;
  }

  had_head = store->has_head;
  old_head = store->head_commit;
  old_height = store->head;
  why = g_strdup_printf ("block %" G_GUINT64_FORMAT, data->height);
  if (!store_git_ref_move (&store->chain, had_head ? &old_head : NULL, &commit,
                           sync, why, error))
    goto fail;
  STORE_GIT_STEP ("ref");
  store->has_head = TRUE;
  store->head = data->height;
  git_oid_cpy (&store->head_commit, &commit);
  if (!store_git_index_add (store, data->height, &commit, data->block_hash,
                            data->txs, data->n_txs, offsets, sync, error)) {
    undo_block (store, data->height, had_head, &old_head, old_height, &commit,
                private_moved);
    goto out;
  }
  STORE_GIT_STEP ("index");
  maybe_consolidate (store, data->height);
  ok = TRUE;
  goto out;

fail:
  store_git_repo_discard (&store->chain);
  store_git_repo_discard (&store->priv);
  if (private_moved) {
    g_autoptr (GError) e = NULL;
    if (!store_git_private_rollback (store, data->height, &e)) {
      store->broken = g_strdup (e->message);
      store_git_log (store, G_LOG_LEVEL_CRITICAL, "%s: %s", store->dir,
                     e->message);
    }
  }
out:
  g_rec_mutex_unlock (&store->lock);
  return ok;
}

gboolean
store_git_sync (CairnStore *store, GError **error)
{
  g_rec_mutex_lock (&store->lock);
  /* Objects before the refs that name them. */
  gboolean ok = store_git_repo_sync_packs (&store->chain, error)
                && store_git_repo_sync_packs (&store->priv, error)
                && (!store->priv.ref_unsynced
                    || store_git_repo_sync_ref (&store->priv, error))
                && (!store->chain.ref_unsynced
                    || store_git_repo_sync_ref (&store->chain, error))
                && ((!store->index_unsynced && store->plugin->sync)
                    || store_git_index_sync (store, error));
  g_rec_mutex_unlock (&store->lock);
  return ok;
}
