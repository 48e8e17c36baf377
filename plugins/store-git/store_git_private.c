/* store-git: the private namespace, in its own repository private.git so
 * that nothing private is ever in chain.git (a clone of it is safe to
 * give away). refs/heads/private names a commit without parents whose tree
 * is the trie of the private keys (store_git_trie.c); its message says
 * what wrote it:
 *
 *   block <height> <chain commit>      the private writes of a block
 *   private write                      host->private_put and friends
 *
 * followed by "previous <commit>" (the commit it replaced). A block's
 * private commit is written before the chain's ref moves; when the chain
 * does not reach that block (a crash or a failed commit), the private ref
 * goes back to the previous commit. Old commits are not kept: packing
 * private.git keeps only what its ref reaches. */
#include "store_git.h"

#include <string.h>

#define MAX_ROLLBACK 16

/* The tree of the private ref's commit (zero oid: no keys). */
static gboolean
private_root (CairnStore *store, git_oid *commit, gboolean *exists,
              git_oid *root, GError **error)
{
  StoreGitRepo *r = &store->priv;
  git_commit *c;

  memset (root, 0, sizeof *root);
  if (!store_git_ref_read (r, commit, exists, error))
    return !*exists;
  int rc = git_commit_lookup (&c, r->repo, commit);
  if (rc < 0) {
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr (hex, sizeof hex, commit);
    return store_git_fail (r, error, rc, "%s names commit %s", r->ref, hex);
  }
  git_oid_cpy (root, git_commit_tree_id (c));
  git_commit_free (c);
  return TRUE;
}

gboolean
store_git_private_commit (CairnStore *store, uint64_t height,
                          const git_oid *chain, const CairnWrite *writes,
                          size_t n, int64_t time_s, gboolean sync,
                          GError **error)
{
  StoreGitRepo *r = &store->priv;
  git_oid prev, root, tree, commit;
  gboolean exists;
  char hex[GIT_OID_HEXSZ + 1];
  g_autoptr (GString) msg = g_string_new (NULL);

  if (!private_root (store, &prev, &exists, &root, error)
      || !store_git_trie_apply (r, &root, writes, n, error))
    goto fail;
  if (git_oid_is_zero (&root)) {
    g_autoptr (GPtrArray) none = g_ptr_array_new ();
    if (!store_git_tree_write (r, none, &tree, error))
      goto fail;
  } else {
    git_oid_cpy (&tree, &root);
  }
  if (height == CAIRN_HEAD) {
    g_string_append (msg, "private write\n");
  } else {
    git_oid_tostr (hex, sizeof hex, chain);
    g_string_append_printf (msg, "block %" G_GUINT64_FORMAT " %s\n", height,
                            hex);
  }
  if (exists) {
    git_oid_tostr (hex, sizeof hex, &prev);
    g_string_append_printf (msg, "\nprevious %s\n", hex);
  }
  if (!store_git_write_commit (r, &tree, NULL, time_s, msg->str, &commit, error)
      || !store_git_repo_flush (r, sync, error))
    goto fail;
  if (!store_git_ref_move (r, exists ? &prev : NULL, &commit, sync,
                           height == CAIRN_HEAD ? "private write" : "block",
                           error))
    return FALSE;
  STORE_GIT_STEP (height == CAIRN_HEAD ? "private-write" : "private");
  return TRUE;
fail:
  store_git_repo_discard (r);
  return FALSE;
}

/* What the private ref's commit says: *block is CAIRN_HEAD for a private
 * write; *has_prev FALSE for the first commit. */
static gboolean
describe (CairnStore *store, const git_oid *commit, uint64_t *block,
          gboolean *has_prev, git_oid *prev, GError **error)
{
  StoreGitRepo *r = &store->priv;
  git_commit *c;
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr (hex, sizeof hex, commit);
  int rc = git_commit_lookup (&c, r->repo, commit);
  if (rc < 0)
    return store_git_fail (r, error, rc, "cannot read commit %s", hex);
  g_auto (GStrv) lines = g_strsplit (git_commit_message (c), "\n", -1);
  git_commit_free (c);
  guint64 h = 0;
  *block = CAIRN_HEAD;
  *has_prev = FALSE;
  if (g_str_has_prefix (lines[0], "block ")) {
    g_auto (GStrv) f = g_strsplit (lines[0] + 6, " ", 3);
    if (g_strv_length (f) != 2
        || !g_ascii_string_to_unsigned (f[0], 10, 0, G_MAXUINT64 - 1, &h, NULL))
      goto bad;
    *block = h;
  } else if (strcmp (lines[0], "private write") != 0) {
    goto bad;
  }
  for (guint i = 1; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "previous ")) {
      if (git_oid_fromstr (prev, lines[i] + 9) < 0) {
        git_error_clear ();
        goto bad;
      }
      *has_prev = TRUE;
    }
  return TRUE;
bad:
  return store_git_fail_corrupt (store, r->path, error,
                                 "commit %s: the message does not say which "
                                 "block or write made it",
                                 hex);
}

static gboolean
roll_back_one (CairnStore *store, const git_oid *top, uint64_t block,
               GError **error)
{
  StoreGitRepo *r = &store->priv;
  uint64_t b;
  gboolean has_prev;
  git_oid prev;
  if (!describe (store, top, &b, &has_prev, &prev, error))
    return FALSE;
  if (has_prev && !git_odb_exists (r->odb, &prev)) {
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr (hex, sizeof hex, &prev);
    return store_git_fail_corrupt (store, r->path, error,
                                   "the private writes of block "
                                   "%" G_GUINT64_FORMAT
                                   " must be undone but the previous commit "
                                   "%s is missing",
                                   block, hex);
  }
  store_git_log (store, G_LOG_LEVEL_INFO,
                 "%s: undoing the private writes of block %" G_GUINT64_FORMAT
                 ", which the chain does not hold",
                 r->path, block);
  return store_git_ref_move (r, top, has_prev ? &prev : NULL,
                             store->plugin->sync, "undo", error);
}

gboolean
store_git_private_rollback (CairnStore *store, uint64_t height, GError **error)
{
  git_oid top, root;
  gboolean exists;
  uint64_t b;
  gboolean has_prev;
  git_oid prev;
  if (!private_root (store, &top, &exists, &root, error))
    return FALSE;
  if (!exists || !describe (store, &top, &b, &has_prev, &prev, error))
    return exists ? FALSE : TRUE;
  if (b != height)
    return TRUE; /* not the block's commit: nothing of it to undo */
  return roll_back_one (store, &top, height, error);
}

gboolean
store_git_private_reconcile (CairnStore *store, GError **error)
{
  for (int i = 0; i < MAX_ROLLBACK; i++) {
    git_oid top, root, prev;
    gboolean exists, has_prev;
    uint64_t b;
    if (!private_root (store, &top, &exists, &root, error))
      return FALSE;
    if (!exists)
      return TRUE;
    if (!describe (store, &top, &b, &has_prev, &prev, error))
      return FALSE;
    if (b == CAIRN_HEAD || (store->has_head && b <= store->head))
      return TRUE;
    if (!roll_back_one (store, &top, b, error))
      return FALSE;
  }
  return store_git_fail_corrupt (store, store->priv.path, error,
                                 "more than %d private commits belong to "
                                 "blocks the chain does not hold",
                                 MAX_ROLLBACK);
}

GBytes *
store_git_private_get (CairnStore *store, const char *key, GError **error)
{
  git_oid commit, root;
  gboolean exists;
  GBytes *out = NULL;

  if (key == NULL || key[0] == '\0') {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "store-git: the key is empty");
    return NULL;
  }
  g_rec_mutex_lock (&store->lock);
  if (store_git_check_usable (store, error)
      && private_root (store, &commit, &exists, &root, error))
    out = store_git_trie_get (&store->priv, &root, key, error);
  g_rec_mutex_unlock (&store->lock);
  return out;
}

gboolean
store_git_private_iter (CairnStore *store, const char *prefix, CairnKvFn fn,
                        void *user_data, GError **error)
{
  git_oid commit, root;
  gboolean exists, ok = FALSE;

  g_return_val_if_fail (fn != NULL, FALSE);
  g_rec_mutex_lock (&store->lock);
  if (store_git_check_usable (store, error)
      && private_root (store, &commit, &exists, &root, error))
    ok = store_git_trie_iter (&store->priv, &root, prefix, fn, user_data,
                              error);
  g_rec_mutex_unlock (&store->lock);
  return ok;
}

gboolean
store_git_private_write (CairnStore *store, const CairnWrite *writes, size_t n,
                         GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (!store_git_check_writes (CAIRN_HEAD, "writes", writes, n, error))
    return FALSE;
  if (n == 0)
    return TRUE;
  g_rec_mutex_lock (&store->lock);
  gboolean ok
      = store_git_check_usable (store, error)
        && store_git_private_commit (store, CAIRN_HEAD, NULL, writes, n,
                                     g_get_real_time () / G_USEC_PER_SEC,
                                     store->plugin->sync, error);
  if (ok) {
    g_autoptr (GError) e = NULL;
    if (store->plugin->pack_every > 0
        && store->priv.packs_since_consolidation >= store->plugin->pack_every
        && !store_git_consolidate_private (store, &e))
      store_git_log (store, G_LOG_LEVEL_WARNING, "%s: packing failed: %s",
                     store->priv.path, e->message);
    g_clear_error (&e);
    if (!store_git_merge_small_packs (&store->priv, &e))
      store_git_log (store, G_LOG_LEVEL_WARNING, "%s: merging packs failed: %s",
                     store->priv.path, e->message);
  }
  g_rec_mutex_unlock (&store->lock);
  return ok;
}
