/* store-lmdb: opening, creating, checking and closing a store. */
#include "store_lmdb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <glib/gstdio.h>

#define STAGING_NAME "new-store.tmp"
#define LOCK_NAME "store.lock"

char *
store_lmdb_damage_hint (const CairnStore *store)
{
  return g_strdup_printf (
      "the store in %s is damaged: restore that directory from a backup, or "
      "move it away and let the node fetch the chain again from its peers",
      store->dir);
}

/* LMDB reports a short write (a full tmpfs, a quota) as EIO: say when the
 * file system is what failed, so the operator frees space instead of
 * looking for a broken disk. */
#define SPACE_LOW_BYTES (16u << 20)

char *
store_lmdb_space_hint (const CairnStore *store)
{
  struct statvfs vfs;
  if (statvfs (store->dir, &vfs) != 0)
    return g_strdup ("");
  guint64 avail = (guint64)vfs.f_bavail * vfs.f_frsize;
  if (avail >= SPACE_LOW_BYTES)
    return g_strdup ("");
  return g_strdup_printf (
      "; the file system holding %s is full (%" G_GUINT64_FORMAT
      " bytes free, no space left for the commit): free space; nothing of "
      "this block was stored",
      store->dir, avail);
}

gboolean
store_lmdb_fail (CairnStore *store, GError **error, int rc, const char *what)
{
  int code = CAIRN_ERROR_IO;
  g_autofree char *hint = NULL;

  switch (rc) {
  case MDB_NOTFOUND:
    code = CAIRN_ERROR_NOT_FOUND;
    break;
  case MDB_KEYEXIST:
    code = CAIRN_ERROR_CONFLICT;
    break;
  case MDB_BAD_VALSIZE:
    code = CAIRN_ERROR_INVALID;
    break;
  case MDB_CORRUPTED:
  case MDB_PAGE_NOTFOUND:
  case MDB_INVALID:
  case MDB_VERSION_MISMATCH:
  case MDB_INCOMPATIBLE:
    code = CAIRN_ERROR_CORRUPT;
    hint = store_lmdb_damage_hint (store);
    break;
  case MDB_MAP_FULL:
    hint = g_strdup_printf (
        "the database reached its map_size (%" G_GUINT64_FORMAT
        " bytes); raise [store-lmdb] map_size and restart",
        store->plugin->map_size);
    break;
  case MDB_READERS_FULL:
    hint = g_strdup ("too many concurrent readers");
    break;
  case EIO:
  case ENOSPC:
  case EDQUOT: {
    g_autofree char *space = store_lmdb_space_hint (store);
    if (*space)
      hint = g_strdup (space + 2);
    break;
  }
  default:
    break;
  }
  g_set_error (error, CAIRN_ERROR, code, "%s: %s: %s%s%s", store->data_path,
               what, mdb_strerror (rc), hint ? "; " : "", hint ? hint : "");
  return FALSE;
}

gboolean
store_lmdb_fail_corrupt (CairnStore *store, GError **error, const char *fmt,
                         ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_autofree char *hint = store_lmdb_damage_hint (store);
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT, "%s: %s; %s",
               store->data_path, what, hint);
  return FALSE;
}

static gboolean
fail_errno (GError **error, int err, const char *what, const char *path)
{
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO, "%s: %s: %s", path, what,
               g_strerror (err));
  return FALSE;
}

void
store_lmdb_log (CairnStore *store, GLogLevelFlags level, const char *fmt, ...)
{
  const CairnHost *host = store->plugin->host;
  va_list ap;
  va_start (ap, fmt);
  host->logv (store->plugin->self, level, fmt, ap);
  va_end (ap);
}

/* One store per directory: LMDB itself would allow a second process, but two
 * nodes committing to one store is always a mistake, and opening one
 * environment twice in a process breaks LMDB's locks. */
static gboolean
take_dir_lock (CairnStore *store, GError **error)
{
  g_autofree char *path = g_build_filename (store->dir, LOCK_NAME, NULL);
  store->lock_fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (store->lock_fd < 0)
    return fail_errno (error, errno, "cannot open the store lock file", path);
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
    return fail_errno (error, err, "cannot lock the store", path);
  }
  return TRUE;
}

typedef struct {
  const char *name;
  size_t offset;
} TableName;

static const TableName tables[] = {
  { "meta", G_STRUCT_OFFSET (CairnStore, meta) },
  { "blocks", G_STRUCT_OFFSET (CairnStore, blocks) },
  { "hashes", G_STRUCT_OFFSET (CairnStore, hashes) },
  { "txlist", G_STRUCT_OFFSET (CairnStore, txlist) },
  { "state", G_STRUCT_OFFSET (CairnStore, state) },
  { "history", G_STRUCT_OFFSET (CairnStore, history) },
  { "private", G_STRUCT_OFFSET (CairnStore, priv) },
};

static MDB_dbi *
table_dbi (CairnStore *store, const TableName *t)
{
  return (MDB_dbi *)((char *)store + t->offset);
}

static void
remove_if_present (const char *path)
{
  if (g_remove (path) != 0 && errno != ENOENT)
    g_debug ("cannot remove %s: %s", path, g_strerror (errno));
}

static gboolean
fsync_dir (const char *dir, GError **error)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return fail_errno (error, errno, "cannot open the directory", dir);
  int rc = fsync (fd);
  int err = errno;
  close (fd);
  if (rc != 0)
    return fail_errno (error, err, "cannot sync the directory", dir);
  return TRUE;
}

int
store_lmdb_put_format (MDB_txn *txn, MDB_dbi meta)
{
  uint8_t version[4];
  store_lmdb_put_u32be (version, STORE_LMDB_FORMAT_VERSION);
  MDB_val k
      = { strlen (STORE_LMDB_META_FORMAT), (void *)STORE_LMDB_META_FORMAT };
  MDB_val v = { sizeof version, version };
  return mdb_put (txn, meta, &k, &v, 0);
}

/* Write an empty store (tables + format version) in a staging directory and
 * rename its data.mdb into place, so that a data.mdb that exists is always
 * a complete store: an empty or partial one can only be damage. */
static gboolean
create_fresh (CairnStore *store, GError **error)
{
  g_autofree char *staging = g_build_filename (store->dir, STAGING_NAME, NULL);
  g_autofree char *sdata = g_build_filename (staging, "data.mdb", NULL);
  g_autofree char *slock = g_build_filename (staging, "lock.mdb", NULL);
  MDB_env *env = NULL;
  MDB_txn *txn = NULL;
  gboolean ok = FALSE;
  int rc;

  /* Leftovers of an interrupted creation. */
  remove_if_present (sdata);
  remove_if_present (slock);
  if (g_rmdir (staging) != 0 && errno != ENOENT)
    return fail_errno (error, errno, "cannot remove the leftover directory",
                       staging);
  if (g_mkdir (staging, 0700) != 0)
    return fail_errno (error, errno, "cannot create", staging);

  if ((rc = mdb_env_create (&env)) != 0
      || (rc = mdb_env_set_maxdbs (env, G_N_ELEMENTS (tables))) != 0
      || (rc = mdb_env_set_mapsize (env, 1u << 20)) != 0
      || (rc = mdb_env_open (env, staging, MDB_NOTLS, 0600)) != 0
      || (rc = mdb_txn_begin (env, NULL, 0, &txn)) != 0) {
    store_lmdb_fail (store, error, rc, "cannot create a new store");
    goto out;
  }
  for (size_t i = 0; i < G_N_ELEMENTS (tables); i++) {
    MDB_dbi dbi;
    if ((rc = mdb_dbi_open (txn, tables[i].name, MDB_CREATE, &dbi)) != 0) {
      store_lmdb_fail (store, error, rc, "cannot create a table");
      goto out;
    }
    if (i == 0 && (rc = store_lmdb_put_format (txn, dbi)) != 0) {
      store_lmdb_fail (store, error, rc, "cannot write the format version");
      goto out;
    }
  }
  rc = mdb_txn_commit (txn);
  txn = NULL;
  if (rc != 0 || (rc = mdb_env_sync (env, 1)) != 0) {
    store_lmdb_fail (store, error, rc, "cannot write a new store");
    goto out;
  }
  mdb_env_close (env);
  env = NULL;
  if (g_rename (sdata, store->data_path) != 0) {
    fail_errno (error, errno, "cannot move the new store into place", sdata);
    goto out;
  }
  remove_if_present (slock);
  g_rmdir (staging);
  ok = fsync_dir (store->dir, error);
out:
  if (txn != NULL)
    mdb_txn_abort (txn);
  if (env != NULL)
    mdb_env_close (env);
  if (!ok) {
    remove_if_present (sdata);
    remove_if_present (slock);
    g_rmdir (staging);
  }
  return ok;
}

/* LMDB maps the file and trusts its page numbers: a file shorter than the
 * last page the meta page records would fault (SIGBUS) on first use. */
static gboolean
check_file_size (CairnStore *store, GError **error)
{
  MDB_envinfo info;
  MDB_stat st;
  GStatBuf sb;
  int rc;

  if ((rc = mdb_env_info (store->env, &info)) != 0
      || (rc = mdb_env_stat (store->env, &st)) != 0)
    return store_lmdb_fail (store, error, rc, "cannot read the store header");
  if (g_stat (store->data_path, &sb) != 0)
    return fail_errno (error, errno, "cannot stat", store->data_path);
  guint64 needed = ((guint64)info.me_last_pgno + 1) * st.ms_psize;
  if ((guint64)sb.st_size < needed)
    return store_lmdb_fail_corrupt (
        store, error,
        "the file is truncated: its header says it holds %" G_GUINT64_FORMAT
        " bytes but it has %" G_GUINT64_FORMAT,
        needed, (guint64)sb.st_size);
  return TRUE;
}

static gboolean
check_contents (CairnStore *store, MDB_txn *txn, GError **error)
{
  MDB_val k
      = { strlen (STORE_LMDB_META_FORMAT), (void *)STORE_LMDB_META_FORMAT };
  MDB_val v;
  int rc = mdb_get (txn, store->meta, &k, &v);
  if (rc == MDB_NOTFOUND)
    return store_lmdb_fail_corrupt (store, error,
                                    "table 'meta' has no format version");
  if (rc != 0)
    return store_lmdb_fail (store, error, rc, "cannot read the format version");
  if (v.mv_size != 4)
    return store_lmdb_fail_corrupt (
        store, error,
        "table 'meta': the format version record has %zu "
        "bytes instead of 4",
        v.mv_size);
  uint32_t version = store_lmdb_get_u32be (v.mv_data);
  if (version != STORE_LMDB_FORMAT_VERSION) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_IMPLEMENTED,
                 "%s: store format version %u is not supported: this "
                 "store-lmdb reads version %u; open the store with the "
                 "store-lmdb release that wrote it",
                 store->data_path, version, STORE_LMDB_FORMAT_VERSION);
    return FALSE;
  }

  /* The head record and the last block must agree. */
  uint64_t head = 0;
  gboolean have_head = TRUE;
  g_autoptr (GError) local = NULL;
  if (!store_lmdb_read_head (store, txn, &head, &local)) {
    if (!g_error_matches (local, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND)) {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
    have_head = FALSE;
  }
  MDB_cursor *cur;
  if ((rc = mdb_cursor_open (txn, store->blocks, &cur)) != 0)
    return store_lmdb_fail (store, error, rc, "cannot read table 'blocks'");
  MDB_val bk, bv;
  rc = mdb_cursor_get (cur, &bk, &bv, MDB_LAST);
  mdb_cursor_close (cur);
  if (rc != 0 && rc != MDB_NOTFOUND)
    return store_lmdb_fail (store, error, rc, "cannot read table 'blocks'");
  if (rc == MDB_NOTFOUND) {
    if (have_head)
      return store_lmdb_fail_corrupt (store, error,
                                      "the head is height %" G_GUINT64_FORMAT
                                      " but table 'blocks' is empty",
                                      head);
    return TRUE;
  }
  if (bk.mv_size != 8)
    return store_lmdb_fail_corrupt (
        store, error, "table 'blocks': a key has %zu bytes instead of 8",
        bk.mv_size);
  uint64_t last = store_lmdb_get_u64be (bk.mv_data);
  if (!have_head)
    return store_lmdb_fail_corrupt (
        store, error,
        "the last block is height %" G_GUINT64_FORMAT
        " but the head record is missing",
        last);
  if (last != head)
    return store_lmdb_fail_corrupt (
        store, error,
        "the last block is height %" G_GUINT64_FORMAT
        " but the head record says %" G_GUINT64_FORMAT,
        last, head);
  return TRUE;
}

/* The format version before the tables are opened: 1 is converted. */
static gboolean
migrate_if_old (CairnStore *store, GError **error)
{
  MDB_txn *txn;
  MDB_dbi meta;
  int rc = mdb_txn_begin (store->env, NULL, MDB_RDONLY, &txn);
  if (rc != 0)
    return store_lmdb_fail (store, error, rc, "cannot start a read");
  MDB_val k
      = { strlen (STORE_LMDB_META_FORMAT), (void *)STORE_LMDB_META_FORMAT };
  MDB_val v;
  gboolean old = mdb_dbi_open (txn, "meta", 0, &meta) == 0
                 && mdb_get (txn, meta, &k, &v) == 0 && v.mv_size == 4
                 && store_lmdb_get_u32be (v.mv_data) == 1;
  mdb_txn_abort (txn);
  /* Anything else is checked by open_tables. */
  return !old || store_lmdb_migrate_v1 (store, error);
}

static gboolean
open_tables (CairnStore *store, GError **error)
{
  MDB_txn *txn;
  int rc = mdb_txn_begin (store->env, NULL, MDB_RDONLY, &txn);
  if (rc != 0)
    return store_lmdb_fail (store, error, rc, "cannot start a read");
  for (size_t i = 0; i < G_N_ELEMENTS (tables); i++) {
    rc = mdb_dbi_open (txn, tables[i].name, 0, table_dbi (store, &tables[i]));
    if (rc == MDB_NOTFOUND) {
      mdb_txn_abort (txn);
      if (i == 0) {
        g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                     "%s: this LMDB database is not a store-lmdb store (it "
                     "has no table 'meta'); point the node at its own data "
                     "directory",
                     store->data_path);
        return FALSE;
      }
      return store_lmdb_fail_corrupt (store, error, "table '%s' is missing",
                                      tables[i].name);
    }
    if (rc != 0) {
      mdb_txn_abort (txn);
      g_autofree char *what
          = g_strdup_printf ("cannot open table '%s'", tables[i].name);
      return store_lmdb_fail (store, error, rc, what);
    }
  }
  if (!check_contents (store, txn, error)) {
    mdb_txn_abort (txn);
    return FALSE;
  }
  /* Committing (not aborting) keeps the table handles for the env. */
  if ((rc = mdb_txn_commit (txn)) != 0)
    return store_lmdb_fail (store, error, rc, "cannot open the tables");
  return TRUE;
}

/* LMDB has no page checksums: garbage inside a B-tree page can trip one of
 * its assertions, after which it calls abort(). Say which file is damaged
 * and what to do before that happens. */
static void
on_lmdb_assert (MDB_env *env, const char *msg)
{
  CairnStore *store = mdb_env_get_userctx (env);
  if (store == NULL)
    return;
  g_autofree char *hint = store_lmdb_damage_hint (store);
  fprintf (stderr, "store-lmdb: %s: LMDB found a damaged page (%s); %s\n",
           store->data_path, msg, hint);
  store_lmdb_log (store, G_LOG_LEVEL_CRITICAL,
                  "%s: LMDB found a damaged page (%s); %s", store->data_path,
                  msg, hint);
}

static gboolean
open_env (CairnStore *store, GError **error)
{
  StoreLmdbPlugin *p = store->plugin;
  unsigned flags = MDB_NOTLS | (p->sync ? 0 : MDB_NOSYNC);
  int rc;

  MDB_env *env;
  if ((rc = mdb_env_create (&env)) != 0)
    return store_lmdb_fail (store, error, rc, "cannot create an environment");
  mdb_env_set_userctx (env, store);
  mdb_env_set_assert (env, on_lmdb_assert);
  /* One more: format 1's table "txs", which a migration reads. */
  if ((rc = mdb_env_set_maxdbs (env, G_N_ELEMENTS (tables) + 1)) != 0
      || (rc = mdb_env_set_mapsize (env, (size_t)p->map_size)) != 0
      || (rc = mdb_env_open (env, store->dir, flags, 0600)) != 0) {
    /* A failed mdb_env_open still needs mdb_env_close, nothing else. */
    mdb_env_close (env);
  } else {
    store->env = env;
  }
  if (rc == MDB_INVALID)
    return store_lmdb_fail_corrupt (
        store, error, "not a valid LMDB file (its header pages are damaged)");
  if (rc == MDB_VERSION_MISMATCH)
    return store_lmdb_fail_corrupt (
        store, error,
        "written by an incompatible LMDB version, or its header is damaged");
  if (rc != 0)
    return store_lmdb_fail (store, error, rc, "cannot open the store");

  int maxkey = mdb_env_get_maxkeysize (store->env);
  if (maxkey < STORE_LMDB_NEEDED_KEYSIZE) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_IMPLEMENTED,
                 "%s: this LMDB library allows keys of %d bytes, store-lmdb "
                 "needs %d; use an LMDB built with the default MDB_MAXKEYSIZE",
                 store->data_path, maxkey, STORE_LMDB_NEEDED_KEYSIZE);
    return FALSE;
  }
  if (!check_file_size (store, error))
    return FALSE;

  int dead = 0;
  if ((rc = mdb_reader_check (store->env, &dead)) != 0)
    return store_lmdb_fail (store, error, rc, "cannot check the reader table");
  if (dead > 0)
    store_lmdb_log (store, G_LOG_LEVEL_INFO,
                    "%s: cleared %d reader slot(s) left by a process that died",
                    store->dir, dead);
  return migrate_if_old (store, error) && open_tables (store, error)
         && store_lmdb_txindex_open (store, error);
}

CairnStore *
store_lmdb_open (CairnPlugin *self, const char *dir, GError **error)
{
  const CairnHost *host = store_lmdb_host ();
  StoreLmdbPlugin *p;
  CairnStore *store;
  GStatBuf sb;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  p = host != NULL && self != NULL ? host->get_data (self) : NULL;
  if (p == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                 "store-lmdb: open called before the plugin's init");
    return NULL;
  }
  if (dir == NULL)
    dir = host->data_dir (self);

  store = g_new0 (CairnStore, 1);
  store->plugin = p;
  store->lock_fd = -1;
  store->statm_fd = -1;
  store->dir = g_strdup (dir);
  store->data_path = g_build_filename (dir, "data.mdb", NULL);
  g_mutex_init (&store->readers_lock);
  store->idle_readers = g_ptr_array_new ();

  if (g_mkdir_with_parents (dir, 0700) != 0) {
    fail_errno (error, errno, "cannot create the store directory", dir);
    goto fail;
  }
  if (!take_dir_lock (store, error))
    goto fail;

  if (g_stat (store->data_path, &sb) != 0) {
    if (errno != ENOENT) {
      fail_errno (error, errno, "cannot stat", store->data_path);
      goto fail;
    }
    if (!create_fresh (store, error))
      goto fail;
    store_lmdb_log (store, G_LOG_LEVEL_INFO, "created a new store in %s", dir);
  } else if (!S_ISREG (sb.st_mode)) {
    store_lmdb_fail_corrupt (store, error, "not a regular file");
    goto fail;
  } else if (sb.st_size == 0) {
    store_lmdb_fail_corrupt (store, error, "the file is empty (0 bytes)");
    goto fail;
  }

  if (!open_env (store, error))
    goto fail;
  return store;

fail:
  store_lmdb_close (store);
  return NULL;
}

void
store_lmdb_close (CairnStore *store)
{
  if (store == NULL)
    return;
  store_lmdb_txindex_close (store);
  for (guint i = 0; i < store->idle_readers->len; i++)
    mdb_txn_abort (store->idle_readers->pdata[i]);
  g_ptr_array_unref (store->idle_readers);
  if (store->env != NULL) {
    /* Without sync at commit, at least a clean shutdown is durable. */
    if (!store->plugin->sync) {
      int rc = mdb_env_sync (store->env, 1);
      if (rc != 0)
        store_lmdb_log (store, G_LOG_LEVEL_WARNING,
                        "%s: cannot sync on close: %s", store->data_path,
                        mdb_strerror (rc));
    }
    mdb_env_close (store->env);
  }
  if (store->lock_fd >= 0)
    close (store->lock_fd);
  if (store->statm_fd >= 0)
    close (store->statm_fd);
  g_mutex_clear (&store->readers_lock);
  g_free (store->data_path);
  g_free (store->dir);
  g_free (store);
}
