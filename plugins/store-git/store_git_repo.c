/* store-git: one bare repository: creation, objects written through an
 * in-memory backend and flushed as one pack, refs moved with fsync. */
#include "store_git.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <glib/gstdio.h>

/* Above the default backends (loose 1, packed 2): new objects go to
 * memory until the commit writes them as a pack. */
#define MEMPACK_PRIORITY 999

gboolean
store_git_fail (StoreGitRepo *r, GError **error, int rc, const char *fmt, ...)
{
  const git_error *e = git_error_last ();
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_autofree char *msg
      = g_strdup (e != NULL && e->message != NULL ? e->message : "failed");
  int klass = e != NULL ? e->klass : GIT_ERROR_NONE;
  int code = CAIRN_ERROR_CORRUPT;

  switch (klass) {
  case GIT_ERROR_OS:
  case GIT_ERROR_NOMEMORY:
  case GIT_ERROR_FILESYSTEM:
  case GIT_ERROR_THREAD:
    code = CAIRN_ERROR_IO;
    break;
  default:
    break;
  }
  if (rc == GIT_ELOCKED)
    code = CAIRN_ERROR_CONFLICT;
  if (code == CAIRN_ERROR_CORRUPT) {
    g_autofree char *hint = store_git_damage_hint (r->store);
    g_set_error (error, CAIRN_ERROR, code, "%s: %s: %s; %s", r->path, what, msg,
                 hint);
  } else {
    g_set_error (error, CAIRN_ERROR, code, "%s: %s: %s", r->path, what, msg);
  }
  git_error_clear ();
  return FALSE;
}

static void pack_reset (StoreGitRepo *r);
static char *pack_dir (StoreGitRepo *r);
static gboolean is_pack_name (const char *name, const char *ext);

/* ---- opening and creating --------------------------------------------- */

static gboolean
set_config (StoreGitRepo *r, git_repository *repo, GError **error)
{
  git_config *cfg = NULL;
  int rc;
  if ((rc = git_repository_config (&cfg, repo)) < 0)
    return store_git_fail (r, error, rc, "cannot open the config");
  /* No reflog (one line per block would double the ref writes), no
   * automatic gc by git commands run on the repository (they would race
   * with the node's own packing), the store's format and role. */
  if ((rc = git_config_set_bool (cfg, "core.logAllRefUpdates", 0)) < 0
      || (rc = git_config_set_int32 (cfg, "gc.auto", 0)) < 0
      || (rc = git_config_set_int32 (cfg, "cairn.format",
                                     STORE_GIT_FORMAT_VERSION))
             < 0
      || (rc = git_config_set_string (cfg, "cairn.role", r->name)) < 0) {
    git_config_free (cfg);
    return store_git_fail (r, error, rc, "cannot write the config");
  }
  git_config_free (cfg);
  return TRUE;
}

static void
rm_rf (const char *path)
{
  GStatBuf sb;
  if (g_lstat (path, &sb) != 0)
    return;
  if (S_ISDIR (sb.st_mode)) {
    GDir *d = g_dir_open (path, 0, NULL);
    const char *name;
    while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
      g_autofree char *child = g_build_filename (path, name, NULL);
      rm_rf (child);
    }
    if (d != NULL)
      g_dir_close (d);
    g_rmdir (path);
  } else {
    g_unlink (path);
  }
}

/* A fresh repository in <path>.new, renamed into place: a repository that
 * exists is always complete. */
static gboolean
create_fresh (StoreGitRepo *r, GError **error)
{
  g_autofree char *staging = g_strconcat (r->path, ".new", NULL);
  git_repository_init_options opts = GIT_REPOSITORY_INIT_OPTIONS_INIT;
  git_repository *repo = NULL;
  int rc;

  rm_rf (staging);
  opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH
               | GIT_REPOSITORY_INIT_NO_REINIT;
  opts.mode = GIT_REPOSITORY_INIT_SHARED_UMASK;
  opts.initial_head = r->ref + strlen ("refs/heads/");
  opts.description = g_str_equal (r->name, "chain")
                         ? "Cairn ledger: one commit per block on "
                           "refs/heads/chain (store-git)"
                         : "Cairn node-private keys (store-git); never "
                           "share this repository";
  if ((rc = git_repository_init_ext (&repo, staging, &opts)) < 0) {
    store_git_fail (r, error, rc, "cannot create a repository in %s", staging);
    rm_rf (staging);
    return FALSE;
  }
  gboolean ok = set_config (r, repo, error);
  git_repository_free (repo);
  if (ok && g_rename (staging, r->path) != 0)
    ok = store_git_fail_errno (error, errno,
                               "cannot move the new repository "
                               "into place",
                               staging);
  if (!ok) {
    rm_rf (staging);
    return FALSE;
  }
  return store_git_fsync_path (r->store->dir, TRUE, error);
}

/* A chain repository without our config, e.g. made by `git clone` (which
 * does not copy the config): ours if refs/heads/chain names a commit with
 * a block's layout. */
static gboolean
looks_like_chain (StoreGitRepo *r)
{
  git_oid oid;
  git_commit *c = NULL;
  git_tree *t = NULL;
  gboolean ok = FALSE;
  if (g_str_equal (r->name, "chain")
      && git_reference_name_to_id (&oid, r->repo, r->ref) == 0
      && git_commit_lookup (&c, r->repo, &oid) == 0
      && git_commit_tree (&t, c) == 0)
    ok = git_tree_entry_byname (t, "height") != NULL
         && git_tree_entry_byname (t, "hash") != NULL
         && git_tree_entry_byname (t, "results") != NULL;
  git_error_clear ();
  git_tree_free (t);
  git_commit_free (c);
  return ok;
}

static gboolean
check_format (StoreGitRepo *r, GError **error)
{
  git_config *cfg = NULL;
  int32_t version = 0;
  git_buf role = GIT_BUF_INIT;
  int rc;

  if (!git_repository_is_bare (r->repo))
    return store_git_fail_corrupt (r->store, r->path, error,
                                   "not a bare repository");
  if ((rc = git_repository_config_snapshot (&cfg, r->repo)) < 0)
    return store_git_fail (r, error, rc, "cannot read the config");
  rc = git_config_get_int32 (&version, cfg, "cairn.format");
  if (rc == 0)
    rc = git_config_get_string_buf (&role, cfg, "cairn.role");
  git_config_free (cfg);
  if (rc == GIT_ENOTFOUND) {
    git_error_clear ();
    git_buf_dispose (&role);
    if (looks_like_chain (r)) {
      store_git_log (r->store, G_LOG_LEVEL_MESSAGE,
                     "%s: a store-git chain without store-git's config (a "
                     "git clone?): adopting it",
                     r->path);
      return set_config (r, r->repo, error);
    }
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "%s: this git repository is not a store-git %s repository "
                 "(its config has no cairn.format and it has no %s with "
                 "blocks); point the node at its own data directory",
                 r->path, r->name, r->ref);
    return FALSE;
  }
  if (rc < 0) {
    git_buf_dispose (&role);
    return store_git_fail (r, error, rc, "cannot read the config");
  }
  gboolean role_ok = g_strcmp0 (role.ptr, r->name) == 0;
  g_autofree char *role_text = g_strdup (role.ptr);
  git_buf_dispose (&role);
  if (version != STORE_GIT_FORMAT_VERSION) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_IMPLEMENTED,
                 "%s: store format version %d is not supported: this "
                 "store-git reads version %d; open the store with the "
                 "store-git release that wrote it",
                 r->path, version, STORE_GIT_FORMAT_VERSION);
    return FALSE;
  }
  if (!role_ok)
    return store_git_fail_corrupt (r->store, r->path, error,
                                   "cairn.role is '%s' but this is the "
                                   "place of the %s repository",
                                   role_text, r->name);
  return TRUE;
}

static gboolean
attach (StoreGitRepo *r, GError **error)
{
  int rc = git_repository_open_ext (
      &r->repo, r->path,
      GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE, NULL);
  if (rc < 0) {
    r->repo = NULL;
    return store_git_fail (r, error, rc, "cannot open the repository");
  }
  if (!check_format (r, error))
    return FALSE;
  if ((rc = git_repository_odb (&r->odb, r->repo)) < 0) {
    r->odb = NULL;
    return store_git_fail (r, error, rc, "cannot open the object database");
  }
  git_odb_backend *mp = NULL;
  if ((rc = git_mempack_new (&mp)) < 0)
    return store_git_fail (r, error, rc, "cannot create a memory backend");
  if ((rc = git_odb_add_backend (r->odb, mp, MEMPACK_PRIORITY)) < 0) {
    mp->free (mp);
    return store_git_fail (r, error, rc, "cannot add a memory backend");
  }
  r->mempack = mp;
  return TRUE;
}

static void
detach (StoreGitRepo *r)
{
  if (r->odb != NULL)
    git_odb_free (r->odb); /* frees the mempack */
  if (r->repo != NULL)
    git_repository_free (r->repo);
  r->odb = NULL;
  r->repo = NULL;
  r->mempack = NULL;
}

gboolean
store_git_repo_open (CairnStore *store, StoreGitRepo *r, const char *name,
                     const char *dirname, const char *ref, GError **error)
{
  GStatBuf sb;

  r->store = store;
  r->name = name;
  r->ref = ref;
  r->path = g_build_filename (store->dir, dirname, NULL);
  r->pack = g_byte_array_new ();
  pack_reset (r);
  /* Stored, not compressed (zlib level 0): the next checkpoint packs
   * these objects again with deltas and compression; until then, writing
   * and reading them back costs a copy instead of deflate and inflate
   * (commits took twice as long at level 1). */
  r->deflate = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB, 0);
  r->unsynced = g_ptr_array_new_with_free_func (g_free);

  if (g_stat (r->path, &sb) != 0) {
    if (errno != ENOENT)
      return store_git_fail_errno (error, errno, "cannot stat", r->path);
    if (!create_fresh (r, error))
      return FALSE;
    store_git_log (store, G_LOG_LEVEL_DEBUG, "created the %s repository %s",
                   name, r->path);
  } else if (!S_ISDIR (sb.st_mode)) {
    return store_git_fail_corrupt (store, r->path, error,
                                   "not a directory (a git repository was "
                                   "expected)");
  }
  if (!attach (r, error))
    return FALSE;
  store_git_repo_cleanup_packs (r);
  /* Packs since the last consolidation (those without a .keep), so that
   * restarts do not put packing off. */
  g_autofree char *dir = pack_dir (r);
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *entry;
  while (d != NULL && (entry = g_dir_read_name (d)) != NULL)
    if (is_pack_name (entry, ".pack")) {
      g_autofree char *keep = g_strdup_printf ("%s/%.45s.keep", dir, entry);
      r->unkept_packs += !g_file_test (keep, G_FILE_TEST_EXISTS);
    }
  if (d != NULL)
    g_dir_close (d);
  r->packs_since_consolidation = r->unkept_packs;
  return TRUE;
}

void
store_git_repo_close (StoreGitRepo *r)
{
  detach (r);
  if (r->pack != NULL)
    g_byte_array_unref (r->pack);
  g_clear_object (&r->deflate);
  if (r->unsynced != NULL)
    g_ptr_array_unref (r->unsynced);
  g_free (r->path);
  memset (r, 0, sizeof *r);
}

gboolean
store_git_repo_reopen (StoreGitRepo *r, GError **error)
{
  store_git_repo_discard (r);
  detach (r);
  return attach (r, error);
}

/* ---- objects and packs ------------------------------------------------- */

/* The header of a new pack: "PACK", version 2, the count (patched at the
 * flush). */
static void
pack_reset (StoreGitRepo *r)
{
  static const uint8_t header[12] = { 'P', 'A', 'C', 'K', 0, 0, 0, 2 };
  g_byte_array_set_size (r->pack, 0);
  g_byte_array_append (r->pack, header, sizeof header);
  r->pack_count = 0;
}

gboolean
store_git_pack_object (GByteArray *out, GZlibCompressor *z, git_object_t type,
                       const void *data, size_t len, GError **error)
{
  uint8_t hdr[16];
  size_t n = 0, rest = len >> 4;
  /* type and size: 4 bits of size, then 7 bits per byte, low bits first */
  hdr[n++] = (uint8_t)((rest ? 0x80 : 0) | ((unsigned)type << 4) | (len & 15));
  while (rest) {
    hdr[n++] = (uint8_t)((rest >> 7 ? 0x80 : 0) | (rest & 0x7f));
    rest >>= 7;
  }
  g_byte_array_append (out, hdr, (guint)n);

  GConverter *conv = G_CONVERTER (z);
  const uint8_t *in = data;
  size_t in_left = len;
  g_converter_reset (conv);
  for (;;) {
    guint at = out->len;
    gsize room = in_left + in_left / 8 + 64, read = 0, written = 0;
    g_byte_array_set_size (out, at + (guint)room);
    GConverterResult res = g_converter_convert (
        conv, in, in_left, out->data + at, room, G_CONVERTER_INPUT_AT_END,
        &read, &written, error);
    g_byte_array_set_size (out, at + (guint)written);
    if (res == G_CONVERTER_ERROR) {
      g_prefix_error (error, "cannot compress an object: ");
      return FALSE;
    }
    in += read;
    in_left -= read;
    if (res == G_CONVERTER_FINISHED)
      return TRUE;
  }
}

gboolean
store_git_write (StoreGitRepo *r, git_object_t type, const void *data,
                 size_t len, git_oid *oid, GError **error)
{
  int rc = git_odb_hash (oid, data, len, type);
  if (rc < 0)
    return store_git_fail (r, error, rc, "cannot hash an object");
  /* Twice in one batch (the same value written to two keys): once. */
  if (r->mempack->exists (r->mempack, oid))
    return TRUE;
  /* Straight to the memory backend: git_odb_write would first look for
   * the object in every pack (a directory scan on each miss), ten times
   * slower; a duplicate of an older object costs a few bytes until the
   * next checkpoint. */
  if ((rc = r->mempack->write (r->mempack, oid, data, len, type)) < 0)
    return store_git_fail (r, error, rc, "cannot store an object");
  if (!store_git_pack_object (r->pack, r->deflate, type, data, len, error)) {
    g_prefix_error (error, "%s: ", r->path);
    return FALSE;
  }
  r->pack_count++;
  return TRUE;
}

void
store_git_repo_discard (StoreGitRepo *r)
{
  if (r->mempack != NULL)
    git_mempack_reset (r->mempack);
  if (r->pack != NULL)
    pack_reset (r);
}

static char *
pack_dir (StoreGitRepo *r)
{
  return g_build_filename (r->path, "objects", "pack", NULL);
}

/* libgit2's indexer checks the pack (every object inflated and hashed
 * again) and writes pack-<sha>.pack and .idx, each through a temporary
 * name. */
static gboolean
index_pack (StoreGitRepo *r, const uint8_t *pack, size_t len, char **stem,
            GError **error)
{
  git_indexer_options opts = GIT_INDEXER_OPTIONS_INIT;
  git_indexer_progress stats;
  git_indexer *idx = NULL;
  g_autofree char *dir = pack_dir (r);
  /* No odb: the pack is complete (no thin deltas to resolve). */
  int rc = git_indexer_new (&idx, dir, 0, NULL, &opts);
  if (rc == 0)
    rc = git_indexer_append (idx, pack, len, &stats);
  if (rc == 0)
    rc = git_indexer_commit (idx, &stats);
  if (rc == 0)
    *stem = g_strdup_printf ("pack-%s", git_indexer_name (idx));
  git_indexer_free (idx);
  if (rc < 0)
    return store_git_fail (r, error, rc, "cannot write a pack in %s", dir);
  return TRUE;
}

/* What the packbuilder produces, handed to the indexer in big pieces:
 * the indexer maps the growing pack file again for every append, so one
 * append per object (as git_packbuilder_write does) costs an mmap and a
 * munmap each. */
#define PACK_CHUNK (32u << 20)

typedef struct {
  git_indexer *idx;
  git_indexer_progress stats;
  GByteArray *buf;
  int rc;
} PackFeed;

static int
feed_cb (void *data, size_t size, void *payload)
{
  PackFeed *f = payload;
  g_byte_array_append (f->buf, data, (guint)size);
  if (f->buf->len >= PACK_CHUNK) {
    f->rc = git_indexer_append (f->idx, f->buf->data, f->buf->len, &f->stats);
    g_byte_array_set_size (f->buf, 0);
  }
  return f->rc;
}

gboolean
store_git_pack_write (StoreGitRepo *r, git_packbuilder *pb, char **stem,
                      GError **error)
{
  git_indexer_options opts = GIT_INDEXER_OPTIONS_INIT;
  g_autofree char *dir = pack_dir (r);
  PackFeed f = { NULL, { 0 }, g_byte_array_new (), 0 };
  int rc = git_indexer_new (&f.idx, dir, 0, NULL, &opts);
  if (rc == 0)
    rc = git_packbuilder_foreach (pb, feed_cb, &f);
  if (rc == 0 && f.buf->len > 0)
    rc = git_indexer_append (f.idx, f.buf->data, f.buf->len, &f.stats);
  if (rc == 0)
    rc = git_indexer_commit (f.idx, &f.stats);
  if (rc == 0)
    *stem = g_strdup_printf ("pack-%s", git_indexer_name (f.idx));
  g_byte_array_unref (f.buf);
  git_indexer_free (f.idx);
  if (rc < 0)
    return store_git_fail (r, error, rc, "cannot write a pack in %s", dir);
  return TRUE;
}

gboolean
store_git_repo_flush (StoreGitRepo *r, gboolean sync, GError **error)
{
  g_autofree char *dir = NULL, *stem = NULL;
  gboolean ok = FALSE;
  int rc;

  if (r->pack_count == 0)
    return TRUE;
  /* The count, then the SHA-1 of everything as the trailer. */
  store_git_put_u32be (r->pack->data + 8, r->pack_count);
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA1);
  g_checksum_update (sum, r->pack->data, r->pack->len);
  uint8_t trailer[20];
  gsize tlen = sizeof trailer;
  g_checksum_get_digest (sum, trailer, &tlen);
  g_byte_array_append (r->pack, trailer, sizeof trailer);
  if (!index_pack (r, r->pack->data, r->pack->len, &stem, error))
    goto out;
  dir = pack_dir (r);
  const char *exts[] = { ".pack", ".idx" };
  for (size_t i = 0; i < G_N_ELEMENTS (exts); i++) {
    g_autofree char *path = g_strdup_printf ("%s/%s%s", dir, stem, exts[i]);
    if (!sync)
      g_ptr_array_add (r->unsynced, g_steal_pointer (&path));
    else if (!store_git_fsync_path (path, FALSE, error))
      goto out;
  }
  if (!sync)
    r->dirs_unsynced = TRUE;
  else if (!store_git_fsync_path (dir, TRUE, error))
    goto out;
  r->packs_since_consolidation++;
  r->unkept_packs++;
  /* Let the pack backend see the new pack before the memory copy goes. */
  if ((rc = git_odb_refresh (r->odb)) < 0) {
    store_git_fail (r, error, rc, "cannot load the new pack");
    goto out;
  }
  ok = TRUE;
out:
  store_git_repo_discard (r);
  return ok;
}

gboolean
store_git_repo_sync_packs (StoreGitRepo *r, GError **error)
{
  while (r->unsynced->len > 0) {
    const char *path = r->unsynced->pdata[0];
    /* A pack merged away since: nothing to flush. */
    if (g_file_test (path, G_FILE_TEST_EXISTS)
        && !store_git_fsync_path (path, FALSE, error))
      return FALSE;
    g_ptr_array_remove_index (r->unsynced, 0);
  }
  if (r->dirs_unsynced) {
    g_autofree char *dir = pack_dir (r);
    if (!store_git_fsync_path (dir, TRUE, error))
      return FALSE;
    r->dirs_unsynced = FALSE;
  }
  return TRUE;
}

/* ---- refs -------------------------------------------------------------- */

gboolean
store_git_ref_read (StoreGitRepo *r, git_oid *oid, gboolean *exists,
                    GError **error)
{
  git_reference *ref = NULL;
  int rc = git_reference_lookup (&ref, r->repo, r->ref);
  *exists = FALSE;
  if (rc == GIT_ENOTFOUND) {
    git_error_clear ();
    return FALSE;
  }
  /* From here on something is there: FALSE means damaged. */
  *exists = TRUE;
  if (rc < 0)
    return store_git_fail (r, error, rc, "cannot read %s", r->ref);
  const git_oid *target = git_reference_target (ref);
  if (target == NULL) {
    git_reference_free (ref);
    return store_git_fail_corrupt (r->store, r->path, error,
                                   "%s is a symbolic ref; it must name a "
                                   "commit",
                                   r->ref);
  }
  git_oid_cpy (oid, target);
  git_reference_free (ref);
  return TRUE;
}

gboolean
store_git_repo_sync_ref (StoreGitRepo *r, GError **error)
{
  g_autofree char *file = g_build_filename (r->path, r->ref, NULL);
  g_autofree char *dir = g_path_get_dirname (file);
  /* A ref removed (rolled back to nothing) has no file to flush. */
  if (g_file_test (file, G_FILE_TEST_EXISTS)
      && !store_git_fsync_path (file, FALSE, error))
    return FALSE;
  if (!store_git_fsync_path (dir, TRUE, error))
    return FALSE;
  r->ref_unsynced = FALSE;
  return TRUE;
}

gboolean
store_git_ref_move (StoreGitRepo *r, const git_oid *old, const git_oid *new_oid,
                    gboolean sync, const char *why, GError **error)
{
  git_reference *ref = NULL;
  int rc;

  if (new_oid == NULL) {
    /* Back to no ref at all (undoing a first commit). */
    rc = git_reference_lookup (&ref, r->repo, r->ref);
    if (rc == 0)
      rc = git_reference_delete (ref);
  } else if (old == NULL) {
    rc = git_reference_create (&ref, r->repo, r->ref, new_oid, 0, why);
  } else {
    /* Compare and swap: refuses when someone else moved the ref. */
    rc = git_reference_create_matching (&ref, r->repo, r->ref, new_oid, 1, old,
                                        why);
  }
  git_reference_free (ref);
  if (rc < 0)
    return store_git_fail (r, error, rc, "cannot move %s", r->ref);
  if (!sync) {
    r->ref_unsynced = TRUE;
    return TRUE;
  }
  return store_git_repo_sync_ref (r, error);
}

/* ---- commits ----------------------------------------------------------- */

gboolean
store_git_write_commit (StoreGitRepo *r, const git_oid *tree,
                        const git_oid *parent, int64_t time_s,
                        const char *message, git_oid *out, GError **error)
{
  char hex[GIT_OID_HEXSZ + 1];
  g_autoptr (GString) s = g_string_new (NULL);

  git_oid_tostr (hex, sizeof hex, tree);
  g_string_append_printf (s, "tree %s\n", hex);
  if (parent != NULL) {
    git_oid_tostr (hex, sizeof hex, parent);
    g_string_append_printf (s, "parent %s\n", hex);
  }
  g_string_append_printf (
      s,
      "author " STORE_GIT_IDENT " %" G_GINT64_FORMAT " +0000\n"
      "committer " STORE_GIT_IDENT " %" G_GINT64_FORMAT " +0000\n\n%s",
      time_s, time_s, message);
  return store_git_write (r, GIT_OBJECT_COMMIT, s->str, s->len, out, error);
}

/* ---- leftovers ----------------------------------------------------------- */

static gboolean
is_pack_name (const char *name, const char *ext)
{
  size_t len = strlen (name), elen = strlen (ext);
  if (len != 5 + GIT_OID_HEXSZ + elen || strncmp (name, "pack-", 5) != 0
      || strcmp (name + 5 + GIT_OID_HEXSZ, ext) != 0)
    return FALSE;
  for (size_t i = 5; i < 5 + GIT_OID_HEXSZ; i++)
    if (!g_ascii_isxdigit (name[i]))
      return FALSE;
  return TRUE;
}

void
store_git_repo_cleanup_packs (StoreGitRepo *r)
{
  g_autofree char *dir = pack_dir (r);
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL) {
    g_autofree char *path = g_build_filename (dir, name, NULL);
    gboolean remove = FALSE;
    /* libgit2's and git's temporary files of a write a crash cut short. */
    if (g_str_has_prefix (name, "pack_git2_") || g_str_has_prefix (name, "tmp_")
        || g_str_has_suffix (name, ".lock")) {
      remove = TRUE;
    } else if (is_pack_name (name, ".idx") || is_pack_name (name, ".keep")) {
      /* The index is renamed into place before its pack: an index (or a
       * keep file) without its pack is a write that did not finish. */
      g_autofree char *stem = g_strndup (name, 5 + GIT_OID_HEXSZ);
      g_autofree char *pack = g_strdup_printf ("%s/%s.pack", dir, stem);
      remove = !g_file_test (pack, G_FILE_TEST_EXISTS);
    }
    if (remove) {
      store_git_log (r->store, G_LOG_LEVEL_INFO,
                     "%s: removing %s, left by an interrupted write", r->path,
                     name);
      g_unlink (path);
    }
  }
  g_dir_close (d);
  /* A ref lock left by a crash would refuse every later update. */
  g_autofree char *lock = g_strdup_printf ("%s/%s.lock", r->path, r->ref);
  if (g_file_test (lock, G_FILE_TEST_EXISTS)) {
    store_git_log (r->store, G_LOG_LEVEL_INFO,
                   "%s: removing %s.lock, left by an interrupted write",
                   r->path, r->ref);
    g_unlink (lock);
  }
  g_autofree char *packed
      = g_build_filename (r->path, "packed-refs.lock", NULL);
  g_unlink (packed);
}
