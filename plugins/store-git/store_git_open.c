/* store-git: opening (creating, checking, reconciling after a crash) and
 * closing a store; error messages and fsync. */
#include "store_git.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <glib/gstdio.h>

#define LOCK_NAME "store.lock"

char *
store_git_damage_hint (const CairnStore *store)
{
  return g_strdup_printf (
      "the store in %s is damaged: restore that directory from a backup, or "
      "move it away and let the node fetch the chain again from its peers",
      store->dir);
}

gboolean
store_git_fail_corrupt (CairnStore *store, const char *path, GError **error,
                        const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_autofree char *hint = store_git_damage_hint (store);
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT, "%s: %s; %s", path,
               what, hint);
  return FALSE;
}

gboolean
store_git_fail_errno (GError **error, int err, const char *what,
                      const char *path)
{
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO, "%s: %s: %s", path, what,
               g_strerror (err));
  return FALSE;
}

void
store_git_log (CairnStore *store, GLogLevelFlags level, const char *fmt, ...)
{
  const CairnHost *host = store->plugin->host;
  va_list ap;
  va_start (ap, fmt);
  host->logv (store->plugin->self, level, fmt, ap);
  va_end (ap);
}

gboolean
store_git_check_usable (CairnStore *store, GError **error)
{
  if (store->broken == NULL)
    return TRUE;
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO,
               "%s: the store stopped after a failed commit that could not "
               "be undone (%s); restart the node: opening the store "
               "repairs it",
               store->dir, store->broken);
  return FALSE;
}

gboolean
store_git_fsync_path (const char *path, gboolean is_dir, GError **error)
{
  int fd
      = open (path, (is_dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0)
    return store_git_fail_errno (error, errno, "cannot open to sync", path);
  int rc = is_dir ? fsync (fd) : fdatasync (fd);
  int err = errno;
  close (fd);
  if (rc != 0)
    return store_git_fail_errno (error, err, "cannot sync", path);
  return TRUE;
}

/* One store per directory: two nodes committing to one store is always a
 * mistake. */
static gboolean
take_dir_lock (CairnStore *store, GError **error)
{
  g_autofree char *path = g_build_filename (store->dir, LOCK_NAME, NULL);
  store->lock_fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (store->lock_fd < 0)
    return store_git_fail_errno (error, errno,
                                 "cannot open the store lock file", path);
  if (flock (store->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err == EWOULDBLOCK) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
                   "%s: the store is already open (by this or another "
                   "process: %s is locked); stop the other node or use "
                   "another data directory",
                   store->dir, path);
      return FALSE;
    }
    return store_git_fail_errno (error, err, "cannot lock the store", path);
  }
  return TRUE;
}

/* The head: refs/heads/chain, its commit readable, its height blob. */
static gboolean
load_head (CairnStore *store, GError **error)
{
  StoreGitRepo *r = &store->chain;
  gboolean exists;
  git_oid oid;
  git_commit *commit = NULL;

  store->has_head = FALSE;
  if (!store_git_ref_read (r, &oid, &exists, error))
    return !exists;
  int rc = git_commit_lookup (&commit, r->repo, &oid);
  if (rc < 0) {
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr (hex, sizeof hex, &oid);
    const git_error *e = git_error_last ();
    g_autofree char *msg = g_strdup (e ? e->message : "not found");
    git_error_clear ();
    g_autofree char *ref_path = g_build_filename (r->path, r->ref, NULL);
    return store_git_fail_corrupt (store, ref_path, error,
                                   "the ref names commit %s, which cannot be "
                                   "read (%s)",
                                   hex, msg);
  }
  uint64_t h;
  gboolean ok = store_git_commit_height (r, commit, &h, error);
  git_commit_free (commit);
  if (!ok)
    return FALSE;
  store->has_head = TRUE;
  store->head = h;
  git_oid_cpy (&store->head_commit, &oid);
  return TRUE;
}

CairnStore *
store_git_open (CairnPlugin *self, const char *dir, GError **error)
{
  const CairnHost *host = store_git_host ();
  StoreGitPlugin *p;
  CairnStore *store;
  g_autofree char *chain = NULL;
  g_autoptr (GError) pack_error = NULL;
  gboolean fresh;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  p = host != NULL && self != NULL ? host->get_data (self) : NULL;
  if (p == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                 "store-git: open called before the plugin's init");
    return NULL;
  }
  if (dir == NULL)
    dir = host->data_dir (self);

  store = g_new0 (CairnStore, 1);
  store->plugin = p;
  store->lock_fd = -1;
  store->dir = g_strdup (dir);
  g_rec_mutex_init (&store->lock);
  /* libgit2 is initialised by the plugin's init; one more reference per
   * store so a store outliving fini still works. */
  git_libgit2_init ();

  if (g_mkdir_with_parents (dir, 0700) != 0) {
    store_git_fail_errno (error, errno, "cannot create the store directory",
                          dir);
    goto fail;
  }
  chain = g_build_filename (dir, STORE_GIT_CHAIN_DIR, NULL);
  fresh = !g_file_test (chain, G_FILE_TEST_EXISTS);
  if (!take_dir_lock (store, error)
      || !store_git_repo_open (store, &store->chain, "chain",
                               STORE_GIT_CHAIN_DIR, STORE_GIT_CHAIN_REF, error)
      || !store_git_repo_open (store, &store->priv, "private",
                               STORE_GIT_PRIVATE_DIR, STORE_GIT_PRIVATE_REF,
                               error)
      || !load_head (store, error)
      || !store_git_private_reconcile (store, error)
      || !store_git_index_open (store, error)
      || !store_git_index_reconcile (store, error))
    goto fail;
  /* Housekeeping: a failure is reported, the store is usable anyway. */
  if (!store_git_checkpoint_repair (store, &pack_error))
    store_git_log (store, G_LOG_LEVEL_WARNING, "%s: %s", dir,
                   pack_error->message);
  if (fresh)
    store_git_log (store, G_LOG_LEVEL_INFO, "created a new store in %s", dir);
  return store;

fail:
  store_git_close (store);
  return NULL;
}

void
store_git_close (CairnStore *store)
{
  if (store == NULL)
    return;
  /* A checkpoint being packed is finished (a kill leaves it to be redone
   * at the next open). */
  store_git_checkpoint_finish (store, TRUE);
  /* Deferred commits (or sync = false) become durable at a clean close. */
  if (store->broken == NULL && store->chain.repo != NULL
      && store->priv.repo != NULL && store->index_env != NULL) {
    g_autoptr (GError) error = NULL;
    if (!store_git_sync (store, &error))
      store_git_log (store, G_LOG_LEVEL_WARNING, "%s: cannot sync on close: %s",
                     store->dir, error->message);
  }
  store_git_index_close (store);
  store_git_repo_close (&store->priv);
  store_git_repo_close (&store->chain);
  if (store->lock_fd >= 0)
    close (store->lock_fd);
  g_rec_mutex_clear (&store->lock);
  g_free (store->broken);
  g_free (store->index_dir);
  g_free (store->dir);
  g_free (store);
  git_libgit2_shutdown ();
}
