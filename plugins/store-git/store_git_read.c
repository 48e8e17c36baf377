/* store-git: lookups and iteration (state at any height, blocks, txs). */
#include "store_git.h"

#include <string.h>

gboolean
store_git_commit_height (StoreGitRepo *r, git_commit *commit, uint64_t *height,
                         GError **error)
{
  git_tree *tree = NULL;
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr (hex, sizeof hex, git_commit_id (commit));
  int rc = git_commit_tree (&tree, commit);
  if (rc < 0)
    return store_git_fail (r, error, rc, "cannot read the tree of commit %s",
                           hex);
  g_autoptr (GBytes) text
      = store_git_tree_blob (r, tree, "height", TRUE, error);
  git_tree_free (tree);
  if (text == NULL)
    return FALSE;
  gsize len;
  const char *d = g_bytes_get_data (text, &len);
  g_autofree char *s = g_strndup (d, len);
  guint64 h;
  if (len < 2 || s[len - 1] != '\n')
    return store_git_fail_corrupt (r->store, r->path, error,
                                   "commit %s: 'height' is not a number and a "
                                   "newline",
                                   hex);
  s[len - 1] = '\0';
  if (!g_ascii_string_to_unsigned (s, 10, 0, G_MAXUINT64 - 1, &h, NULL))
    return store_git_fail_corrupt (r->store, r->path, error,
                                   "commit %s: 'height' is not a number", hex);
  *height = h;
  return TRUE;
}

gboolean
store_git_head (CairnStore *store, uint64_t *height, GError **error)
{
  gboolean ok = FALSE;
  g_rec_mutex_lock (&store->lock);
  if (!store_git_check_usable (store, error)) {
  } else if (!store->has_head) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                 "%s: the store is empty (no block committed yet)", store->dir);
  } else {
    if (height != NULL)
      *height = store->head;
    ok = TRUE;
  }
  g_rec_mutex_unlock (&store->lock);
  return ok;
}

/* The commit of an explicit height (or the head): NOT_FOUND above the head
 * or on an empty store. */
static gboolean
commit_of (CairnStore *store, uint64_t height, git_oid *commit, GError **error)
{
  if (!store->has_head || (height != CAIRN_HEAD && height > store->head)) {
    if (!store->has_head)
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                   "block at height %" G_GUINT64_FORMAT
                   " not found (the store is empty)",
                   height);
    else
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                   "height %" G_GUINT64_FORMAT
                   " is above the head (%" G_GUINT64_FORMAT ")",
                   height, store->head);
    return FALSE;
  }
  if (height == CAIRN_HEAD || height == store->head) {
    git_oid_cpy (commit, &store->head_commit);
    return TRUE;
  }
  return store_git_index_commit_at (store, height, commit, error);
}

static gboolean
lookup_commit_tree (StoreGitRepo *r, const git_oid *commit, git_tree **tree,
                    GError **error)
{
  git_commit *c = NULL;
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr (hex, sizeof hex, commit);
  int rc = git_commit_lookup (&c, r->repo, commit);
  if (rc < 0)
    return store_git_fail (r, error, rc, "cannot read commit %s", hex);
  rc = git_commit_tree (tree, c);
  git_commit_free (c);
  if (rc < 0)
    return store_git_fail (r, error, rc, "cannot read the tree of commit %s",
                           hex);
  return TRUE;
}

gboolean
store_git_commit_state (CairnStore *store, uint64_t height, git_oid *commit,
                        git_oid *state, GError **error)
{
  git_tree *tree;
  if (!commit_of (store, height, commit, error)
      || !lookup_commit_tree (&store->chain, commit, &tree, error))
    return FALSE;
  const git_tree_entry *e = git_tree_entry_byname (tree, "state");
  gboolean ok = TRUE;
  if (e == NULL) {
    memset (state, 0, sizeof *state);
  } else if (git_tree_entry_type (e) != GIT_OBJECT_TREE) {
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr (hex, sizeof hex, commit);
    ok = store_git_fail_corrupt (store, store->chain.path, error,
                                 "commit %s: 'state' is not a tree", hex);
  } else {
    git_oid_cpy (state, git_tree_entry_id (e));
  }
  git_tree_free (tree);
  return ok;
}

GBytes *
store_git_block_get (CairnStore *store, uint64_t height, GError **error)
{
  git_oid commit;
  git_tree *tree;
  GBytes *out = NULL;

  g_rec_mutex_lock (&store->lock);
  if (height == CAIRN_HEAD || !store->has_head || height > store->head) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                 "block at height %" G_GUINT64_FORMAT " not found", height);
  } else if (store_git_check_usable (store, error)
             && commit_of (store, height, &commit, error)
             && lookup_commit_tree (&store->chain, &commit, &tree, error)) {
    out = store_git_block_read (&store->chain, tree, error);
    git_tree_free (tree);
  }
  g_rec_mutex_unlock (&store->lock);
  return out;
}

gboolean
store_git_block_find (CairnStore *store, const uint8_t hash[32],
                      uint64_t *height, GError **error)
{
  g_rec_mutex_lock (&store->lock);
  gboolean ok = store_git_check_usable (store, error)
                && store_git_index_has_hash (store, hash, height, error);
  g_rec_mutex_unlock (&store->lock);
  return ok;
}

gboolean
store_git_tx_get (CairnStore *store, const uint8_t id[32], uint64_t *height,
                  uint32_t *index, GBytes **result, GError **error)
{
  uint64_t h, offset, length;
  uint32_t idx;
  git_oid commit;
  git_tree *tree = NULL;
  gboolean ok = FALSE;

  g_rec_mutex_lock (&store->lock);
  if (!store_git_check_usable (store, error)
      || !store_git_index_tx (store, id, &h, &idx, &offset, &length, error))
    goto out;
  if (result != NULL) {
    if (!commit_of (store, h, &commit, error)
        || !lookup_commit_tree (&store->chain, &commit, &tree, error))
      goto out;
    g_autoptr (GBytes) all
        = store_git_tree_blob (&store->chain, tree, "results", TRUE, error);
    if (all == NULL)
      goto out;
    if (offset > g_bytes_get_size (all)
        || length > g_bytes_get_size (all) - offset) {
      char hex[GIT_OID_HEXSZ + 1];
      git_oid_tostr (hex, sizeof hex, &commit);
      store_git_fail_corrupt (
          store, store->index_dir, error,
          "the index places a result of block %" G_GUINT64_FORMAT
          " outside its results blob (commit %s); stop "
          "the node and remove %s: it is rebuilt",
          h, hex, store->index_dir);
      goto out;
    }
    *result = g_bytes_new_from_bytes (all, offset, length);
  }
  if (height != NULL)
    *height = h;
  if (index != NULL)
    *index = idx;
  ok = TRUE;
out:
  git_tree_free (tree);
  g_rec_mutex_unlock (&store->lock);
  return ok;
}

static gboolean
check_key (const char *key, GError **error)
{
  if (key != NULL && key[0] != '\0')
    return TRUE;
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
               "store-git: the key is empty");
  return FALSE;
}

GBytes *
store_git_state_get (CairnStore *store, const char *key, uint64_t height,
                     GError **error)
{
  git_oid commit, state;
  GBytes *out = NULL;

  if (!check_key (key, error))
    return NULL;
  g_rec_mutex_lock (&store->lock);
  if (!store_git_check_usable (store, error)) {
  } else if (!store->has_head) {
    if (height == CAIRN_HEAD)
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                   "key '%s' not found", key);
    else
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                   "key '%s' not found at height %" G_GUINT64_FORMAT, key,
                   height);
  } else if (store_git_commit_state (store, height, &commit, &state, error)) {
    g_autoptr (GError) local = NULL;
    out = store_git_trie_get (&store->chain, &state, key, &local);
    if (out == NULL && height != CAIRN_HEAD
        && g_error_matches (local, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND))
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                   "key '%s' not found at height %" G_GUINT64_FORMAT, key,
                   height);
    else if (out == NULL)
      g_propagate_error (error, g_steal_pointer (&local));
  }
  g_rec_mutex_unlock (&store->lock);
  return out;
}

gboolean
store_git_state_iter (CairnStore *store, const char *prefix, uint64_t height,
                      CairnKvFn fn, void *user_data, GError **error)
{
  git_oid commit, state;
  gboolean ok = FALSE;

  g_return_val_if_fail (fn != NULL, FALSE);
  g_rec_mutex_lock (&store->lock);
  if (!store_git_check_usable (store, error)) {
  } else if (!store->has_head && height == CAIRN_HEAD) {
    ok = TRUE; /* an empty store at the head: nothing to visit */
  } else if (store_git_commit_state (store, height, &commit, &state, error)) {
    ok = store_git_trie_iter (&store->chain, &state, prefix, fn, user_data,
                              error);
  }
  g_rec_mutex_unlock (&store->lock);
  return ok;
}
