/* store-git: packing. Every commit adds one small pack (store_git_repo.c);
 * every pack_every blocks, everything the chain gained since the last
 * checkpoint goes into one pack with delta compression, kept (a .keep file:
 * `git repack` and `git gc` leave it alone), the head is tagged
 * checkpoint-<height>, and the small packs are removed. Objects that no
 * commit reaches (a pack written before a crash) go with them.
 *
 * Order, so that a crash at any point loses nothing: the new pack and its
 * .keep are fsynced first, then the tag is written, then the old packs go.
 * A crash in between leaves objects twice (harmless; the next checkpoint
 * cleans up), never missing. */
#include "store_git.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

static char *
pack_dir (StoreGitRepo *r)
{
  return g_build_filename (r->path, "objects", "pack", NULL);
}

/* pack-<40 hex> names of the packs in objects/pack. */
static GPtrArray *
list_packs (StoreGitRepo *r)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *dir = pack_dir (r);
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    if (g_str_has_prefix (name, "pack-") && g_str_has_suffix (name, ".pack"))
      g_ptr_array_add (out, g_strndup (name, strlen (name) - 5));
  if (d != NULL)
    g_dir_close (d);
  return out;
}

static gboolean
is_kept (StoreGitRepo *r, const char *stem)
{
  g_autofree char *dir = pack_dir (r);
  g_autofree char *keep = g_strdup_printf ("%s/%s.keep", dir, stem);
  return g_file_test (keep, G_FILE_TEST_EXISTS);
}

static void
remove_pack (StoreGitRepo *r, const char *stem)
{
  /* The index first: a pack without its index is invisible to git. */
  static const char *const exts[]
      = { ".idx", ".pack", ".rev", ".bitmap", ".keep", ".mtimes" };
  g_autofree char *dir = pack_dir (r);
  for (size_t i = 0; i < G_N_ELEMENTS (exts); i++) {
    g_autofree char *p = g_strdup_printf ("%s/%s%s", dir, stem, exts[i]);
    if (g_unlink (p) != 0 && errno != ENOENT)
      store_git_log (r->store, G_LOG_LEVEL_WARNING, "%s: cannot remove: %s", p,
                     g_strerror (errno));
  }
}

/* Write the packbuilder's objects as a pack (fsynced, with a .keep when
 * keep_reason is set); *stem receives pack-<sha>. */
static gboolean
write_pack (StoreGitRepo *r, git_packbuilder *pb, const char *keep_reason,
            char **stem, GError **error)
{
  if (!store_git_pack_write (r, pb, stem, error))
    return FALSE;
  g_autofree char *dir = pack_dir (r);
  const char *exts[] = { ".pack", ".idx" };
  for (size_t i = 0; i < G_N_ELEMENTS (exts); i++) {
    g_autofree char *p = g_strdup_printf ("%s/%s%s", dir, *stem, exts[i]);
    if (!store_git_fsync_path (p, FALSE, error))
      return FALSE;
  }
  if (keep_reason != NULL) {
    g_autofree char *keep = g_strdup_printf ("%s/%s.keep", dir, *stem);
    GError *e = NULL;
    if (!g_file_set_contents (keep, keep_reason, -1, &e)) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO, "%s: %s", keep,
                   e->message);
      g_error_free (e);
      return FALSE;
    }
    if (!store_git_fsync_path (keep, FALSE, error))
      return FALSE;
  }
  return store_git_fsync_path (dir, TRUE, error);
}

/* The newest checkpoint tag below height that names a commit of the
 * chain (per the index): its commit in *base. */
static gboolean
last_checkpoint (CairnStore *store, uint64_t height, git_oid *base,
                 gboolean *found, GError **error)
{
  StoreGitRepo *r = &store->chain;
  git_strarray tags = { 0 };
  uint64_t best = 0;

  *found = FALSE;
  int rc = git_tag_list_match (&tags, STORE_GIT_CHECKPOINT_PREFIX "*", r->repo);
  if (rc < 0)
    return store_git_fail (r, error, rc, "cannot list the tags");
  for (size_t i = 0; i < tags.count; i++) {
    guint64 h;
    git_oid want, have;
    g_autofree char *ref = g_strconcat ("refs/tags/", tags.strings[i], NULL);
    if (!g_ascii_string_to_unsigned (tags.strings[i]
                                         + strlen (STORE_GIT_CHECKPOINT_PREFIX),
                                     10, 0, G_MAXUINT64, &h, NULL)
        || h >= height || (*found && h <= best)
        || git_reference_name_to_id (&have, r->repo, ref) < 0) {
      git_error_clear ();
      continue;
    }
    g_autoptr (GError) local = NULL;
    if (!store_git_index_commit_at (store, h, &want, &local)
        || !git_oid_equal (&want, &have))
      continue; /* a tag someone moved: not a checkpoint of this chain */
    best = h;
    git_oid_cpy (base, &have);
    *found = TRUE;
  }
  git_strarray_dispose (&tags);
  return TRUE;
}

/* ---- collecting a checkpoint's objects ------------------------------------
 */

typedef struct {
  StoreGitRepo *r;
  git_packbuilder *pb;
  GHashTable *seen; /* git_oid* (owned) */
  gboolean insert;  /* FALSE: only mark as seen (the base's tree) */
} Collect;

static guint
oid_hash (gconstpointer p)
{
  const unsigned char *id = ((const git_oid *)p)->id;
  return (guint)id[0] << 24 | (guint)id[1] << 16 | (guint)id[2] << 8 | id[3];
}

static gboolean
oid_equal (gconstpointer a, gconstpointer b)
{
  return git_oid_equal (a, b);
}

/* TRUE the first time oid is met. */
static gboolean
first_time (Collect *c, const git_oid *oid)
{
  if (g_hash_table_contains (c->seen, oid))
    return FALSE;
  git_oid *copy = g_new (git_oid, 1);
  git_oid_cpy (copy, oid);
  g_hash_table_add (c->seen, copy);
  return TRUE;
}

/* Every object of a tree not met before, named by its path: the
 * packbuilder looks for deltas among objects of similar names, so the
 * versions of one trie node are compared with each other (libgit2's own
 * git_packbuilder_insert_walk names no tree, which made packs 40% larger
 * here). */
static gboolean
collect_tree (Collect *c, const git_oid *oid, GString *path, GError **error)
{
  git_tree *tree;
  if (!first_time (c, oid))
    return TRUE;
  int rc = git_tree_lookup (&tree, c->r->repo, oid);
  if (rc == 0 && c->insert)
    rc = git_packbuilder_insert (c->pb, oid, path->str);
  if (rc < 0)
    return store_git_fail (c->r, error, rc, "cannot collect tree %s",
                           path->str);
  gboolean ok = TRUE;
  size_t n = git_tree_entrycount (tree), keep = path->len;
  for (size_t i = 0; i < n && ok; i++) {
    const git_tree_entry *e = git_tree_entry_byindex (tree, i);
    g_string_append_printf (path, "%s%s", keep ? "/" : "",
                            git_tree_entry_name (e));
    if (git_tree_entry_type (e) == GIT_OBJECT_TREE) {
      ok = collect_tree (c, git_tree_entry_id (e), path, error);
    } else if (first_time (c, git_tree_entry_id (e)) && c->insert
               && (rc = git_packbuilder_insert (c->pb, git_tree_entry_id (e),
                                                path->str))
                      < 0) {
      ok = store_git_fail (c->r, error, rc, "cannot collect %s", path->str);
    }
    g_string_truncate (path, keep);
  }
  git_tree_free (tree);
  return ok;
}

/* The commits after base (all when there is none) up to commit, and every
 * object they reach that base's tree does not. */
static gboolean
collect_checkpoint (StoreGitRepo *r, git_packbuilder *pb, const git_oid *commit,
                    const git_oid *base, GError **error)
{
  Collect c
      = { r, pb, g_hash_table_new_full (oid_hash, oid_equal, g_free, NULL),
          FALSE };
  g_autoptr (GString) path = g_string_new (NULL);
  git_revwalk *walk = NULL;
  git_commit *cm = NULL;
  gboolean ok = FALSE;
  git_oid id;
  int rc;

  if (base != NULL) {
    if ((rc = git_commit_lookup (&cm, r->repo, base)) < 0) {
      store_git_fail (r, error, rc, "cannot read the last checkpoint");
      goto out;
    }
    if (!collect_tree (&c, git_commit_tree_id (cm), path, error))
      goto out;
    git_commit_free (cm);
    cm = NULL;
  }
  c.insert = TRUE;
  if ((rc = git_revwalk_new (&walk, r->repo)) < 0
      || (rc = git_revwalk_push (walk, commit)) < 0
      || (base != NULL && (rc = git_revwalk_hide (walk, base)) < 0)) {
    store_git_fail (r, error, rc, "cannot walk the chain");
    goto out;
  }
  while ((rc = git_revwalk_next (&id, walk)) == 0) {
    if ((rc = git_packbuilder_insert (pb, &id, NULL)) < 0
        || (rc = git_commit_lookup (&cm, r->repo, &id)) < 0) {
      store_git_fail (r, error, rc, "cannot collect a commit");
      goto out;
    }
    g_string_truncate (path, 0);
    ok = collect_tree (&c, git_commit_tree_id (cm), path, error);
    git_commit_free (cm);
    cm = NULL;
    if (!ok)
      goto out;
  }
  ok = rc == GIT_ITEROVER;
  if (!ok)
    store_git_fail (r, error, rc, "cannot walk the chain");
out:
  git_commit_free (cm);
  git_revwalk_free (walk);
  g_hash_table_unref (c.seen);
  return ok;
}

/* ---- checkpoints in the background ------------------------------------ */

/* A checkpoint: the thread collects and packs (the slow part: delta
 * search over everything since the last checkpoint, about a minute for
 * 1000 blocks of 100 txs) with a libgit2 handle of its own; the store's
 * thread finishes it (tag, removal of the packs it covers) at a later
 * commit or at close. */
struct StoreGitCheckpoint {
  CairnStore *store;
  uint64_t height;
  git_oid commit, base;
  gboolean have_base;
  GPtrArray *covers; /* packs it replaces (present when it started) */
  GThread *thread;
  gint done; /* atomic */
  /* the thread's results, read after the join */
  gboolean ok;
  GError *error;
  char *stem;
  size_t objects;
  uint64_t before;
  gint64 t0;
};

static void
checkpoint_free (StoreGitCheckpoint *cp)
{
  if (cp->covers != NULL)
    g_ptr_array_unref (cp->covers);
  g_clear_error (&cp->error);
  g_free (cp->stem);
  g_free (cp);
}

static gpointer
checkpoint_thread (gpointer data)
{
  StoreGitCheckpoint *cp = data;
  CairnStore *store = cp->store;
  /* A repository handle of this thread's own (libgit2 objects are not
   * shared between threads); path and store are only read. */
  StoreGitRepo r = { .store = store,
                     .name = "chain",
                     .ref = STORE_GIT_CHAIN_REF,
                     .path = store->chain.path };
  git_packbuilder *pb = NULL;
  g_autofree char *reason = NULL;
  int rc = git_repository_open_ext (
      &r.repo, r.path, GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE,
      NULL);
  if (rc < 0 || (rc = git_packbuilder_new (&pb, r.repo)) < 0) {
    store_git_fail (&r, &cp->error, rc, "cannot start packing");
    goto out;
  }
  git_packbuilder_set_threads (pb, 1);
  if (!collect_checkpoint (&r, pb, &cp->commit,
                           cp->have_base ? &cp->base : NULL, &cp->error))
    goto out;
  cp->objects = git_packbuilder_object_count (pb);
  reason = g_strdup_printf (
      "cairn store-git: blocks up to %" G_GUINT64_FORMAT "\n", cp->height);
  if (!write_pack (&r, pb, reason, &cp->stem, &cp->error))
    goto out;
  STORE_GIT_STEP ("consolidate-pack");
  cp->ok = TRUE;
out:
  git_packbuilder_free (pb);
  git_repository_free (r.repo);
  g_atomic_int_set (&cp->done, 1);
  return NULL;
}

/* Tag, remove what the new pack covers, reload the packs. */
static gboolean
checkpoint_complete (CairnStore *store, StoreGitCheckpoint *cp, GError **error)
{
  StoreGitRepo *r = &store->chain;
  git_object *target = NULL;
  git_oid tag;
  g_autofree char *name = g_strdup_printf (
      STORE_GIT_CHECKPOINT_PREFIX "%" G_GUINT64_FORMAT, cp->height);
  int rc = git_object_lookup (&target, r->repo, &cp->commit, GIT_OBJECT_COMMIT);
  if (rc == 0)
    rc = git_tag_create_lightweight (&tag, r->repo, name, target, 1);
  git_object_free (target);
  if (rc < 0)
    return store_git_fail (r, error, rc, "cannot tag %s", name);
  g_autofree char *tag_file
      = g_build_filename (r->path, "refs", "tags", name, NULL);
  g_autofree char *tag_dir = g_path_get_dirname (tag_file);
  if (!store_git_fsync_path (tag_file, FALSE, error)
      || !store_git_fsync_path (tag_dir, TRUE, error))
    return FALSE;
  STORE_GIT_STEP ("consolidate-tag");

  /* Everything the chain reaches up to the checkpoint is now in kept
   * packs: the packs present when it started (all of them below the
   * checkpoint) can go. Packs written since stay. */
  guint removed = 0;
  for (guint i = 0; i < cp->covers->len; i++) {
    if (strcmp (cp->covers->pdata[i], cp->stem) != 0) {
      remove_pack (r, cp->covers->pdata[i]);
      removed++;
    }
  }
  if (!store_git_repo_reopen (r, error))
    return FALSE;
  g_autoptr (GPtrArray) packs = list_packs (r);
  r->unkept_packs = 0;
  for (guint i = 0; i < packs->len; i++)
    r->unkept_packs += !is_kept (r, packs->pdata[i]);
  STORE_GIT_STEP ("consolidate-done");
  store_git_log (store, G_LOG_LEVEL_INFO,
                 "%s: packed %zu objects of blocks up to %" G_GUINT64_FORMAT
                 " into %s, removed %u packs: objects/ %" G_GUINT64_FORMAT
                 " -> %" G_GUINT64_FORMAT " bytes in %.2f s",
                 r->path, cp->objects, cp->height, cp->stem, removed,
                 cp->before, store_git_repo_disk_usage (r),
                 (g_get_monotonic_time () - cp->t0) / 1e6);
  return TRUE;
}

void
store_git_checkpoint_finish (CairnStore *store, gboolean wait)
{
  StoreGitCheckpoint *cp = store->checkpoint;
  if (cp == NULL || (!wait && !g_atomic_int_get (&cp->done)))
    return;
  g_thread_join (cp->thread);
  store->checkpoint = NULL;
  g_autoptr (GError) e = NULL;
  if (!cp->ok || !checkpoint_complete (store, cp, &e))
    store_git_log (store, G_LOG_LEVEL_WARNING,
                   "%s: packing the checkpoint of block %" G_GUINT64_FORMAT
                   " failed (it is tried again at the next one): %s",
                   store->chain.path, cp->height,
                   cp->ok ? e->message : cp->error->message);
  checkpoint_free (cp);
}

gboolean
store_git_checkpoint_start (CairnStore *store, uint64_t height,
                            const git_oid *commit, gboolean remove_old,
                            GError **error)
{
  StoreGitRepo *r = &store->chain;
  /* One at a time: a checkpoint slower than pack_every blocks makes the
   * next one wait. */
  store_git_checkpoint_finish (store, TRUE);
  StoreGitCheckpoint *cp = g_new0 (StoreGitCheckpoint, 1);
  cp->store = store;
  cp->height = height;
  git_oid_cpy (&cp->commit, commit);
  if (!last_checkpoint (store, height, &cp->base, &cp->have_base, error)) {
    checkpoint_free (cp);
    return FALSE;
  }
  /* What the new pack will cover: the packs without .keep (all from blocks
   * up to height), and without a base the kept ones too. When redoing a
   * checkpoint behind the head, later blocks' packs exist: none. */
  cp->covers = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) packs = list_packs (r);
  for (guint i = 0; remove_old && i < packs->len; i++)
    if (!cp->have_base || !is_kept (r, packs->pdata[i]))
      g_ptr_array_add (cp->covers, g_strdup (packs->pdata[i]));
  cp->before = store_git_repo_disk_usage (r);
  cp->t0 = g_get_monotonic_time ();
  cp->thread
      = g_thread_try_new ("store-git-pack", checkpoint_thread, cp, error);
  if (cp->thread == NULL) {
    checkpoint_free (cp);
    return FALSE;
  }
  store->checkpoint = cp;
  return TRUE;
}

/* ---- merging small packs ------------------------------------------------ */

typedef struct {
  char *stem;
  guint64 size;
} PackSize;

static void
pack_size_clear (gpointer p)
{
  g_free (((PackSize *)p)->stem);
}

static gint
pack_size_cmp (gconstpointer a, gconstpointer b)
{
  guint64 x = ((const PackSize *)a)->size, y = ((const PackSize *)b)->size;
  return x < y ? -1 : x > y;
}

/* Append the object ids listed in a pack's .idx (version 2: magic,
 * version, 256 fan-out counts, then the sorted ids). */
static gboolean
idx_oids (StoreGitRepo *r, const char *stem, GArray *out, GError **error)
{
  g_autofree char *dir = pack_dir (r);
  g_autofree char *path = g_strdup_printf ("%s/%s.idx", dir, stem);
  GError *e = NULL;
  GMappedFile *map = g_mapped_file_new (path, FALSE, &e);
  if (map == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO, "%s: %s", path,
                 e->message);
    g_error_free (e);
    return FALSE;
  }
  const uint8_t *d = (const uint8_t *)g_mapped_file_get_contents (map);
  gsize len = g_mapped_file_get_length (map);
  gboolean ok = len >= 8 + 1024 && memcmp (d, "\377tOc\0\0\0\2", 8) == 0;
  guint32 n = ok ? store_git_get_u32be (d + 8 + 4 * 255) : 0;
  ok = ok && (guint64)n * GIT_OID_RAWSZ <= len - 8 - 1024;
  for (guint32 i = 0; ok && i < n; i++) {
    git_oid oid;
    git_oid_fromraw (&oid, d + 8 + 1024 + (gsize)i * GIT_OID_RAWSZ);
    g_array_append_val (out, oid);
  }
  g_mapped_file_unref (map);
  if (!ok)
    return store_git_fail_corrupt (r->store, path, error,
                                   "not a pack index of version 2");
  return TRUE;
}

typedef struct {
  git_indexer *idx;
  git_indexer_progress stats;
  GChecksum *sum;
  GByteArray *chunk;
} Stream;

static int
stream_flush (Stream *st)
{
  g_checksum_update (st->sum, st->chunk->data, st->chunk->len);
  int rc = git_indexer_append (st->idx, st->chunk->data, st->chunk->len,
                               &st->stats);
  g_byte_array_set_size (st->chunk, 0);
  return rc;
}

/* One pack of the objects of several (each once): streamed to the indexer
 * in chunks, so memory stays bounded whatever their size. Objects are read
 * pack by pack, so each lookup finds its pack first (libgit2 tries the
 * pack of the last hit before the others). */
static gboolean
write_merged (StoreGitRepo *r, GPtrArray *per_pack, GHashTable *todo,
              char **stem, GError **error)
{
  git_indexer_options opts = GIT_INDEXER_OPTIONS_INIT;
  g_autofree char *dir = pack_dir (r);
  /* Stored, like the per-block packs: the checkpoint compresses. */
  g_autoptr (GZlibCompressor) z
      = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB, 0);
  Stream st
      = { NULL, { 0 }, g_checksum_new (G_CHECKSUM_SHA1), g_byte_array_new () };
  gboolean ok = FALSE;
  int rc = git_indexer_new (&st.idx, dir, 0, NULL, &opts);
  if (rc < 0) {
    store_git_fail (r, error, rc, "cannot start a pack");
    goto out;
  }
  uint8_t header[12] = { 'P', 'A', 'C', 'K', 0, 0, 0, 2 };
  store_git_put_u32be (header + 8, g_hash_table_size (todo));
  g_byte_array_append (st.chunk, header, sizeof header);
  for (guint k = 0; k < per_pack->len; k++) {
    GArray *oids = per_pack->pdata[k];
    for (guint i = 0; i < oids->len; i++) {
      git_odb_object *obj;
      const git_oid *oid = &g_array_index (oids, git_oid, i);
      if (!g_hash_table_remove (todo, oid))
        continue; /* already written from another pack */
      if ((rc = git_odb_read (&obj, r->odb, oid)) < 0) {
        char hex[GIT_OID_HEXSZ + 1];
        git_oid_tostr (hex, sizeof hex, oid);
        store_git_fail (r, error, rc, "cannot read object %s to merge packs",
                        hex);
        goto out;
      }
      gboolean put = store_git_pack_object (
          st.chunk, z, git_odb_object_type (obj), git_odb_object_data (obj),
          git_odb_object_size (obj), error);
      git_odb_object_free (obj);
      if (!put)
        goto out;
      if (st.chunk->len >= (32u << 20) && (rc = stream_flush (&st)) < 0) {
        store_git_fail (r, error, rc, "cannot write a pack");
        goto out;
      }
    }
  }
  g_checksum_update (st.sum, st.chunk->data, st.chunk->len);
  uint8_t trailer[20];
  gsize tlen = sizeof trailer;
  g_checksum_get_digest (st.sum, trailer, &tlen);
  g_byte_array_append (st.chunk, trailer, sizeof trailer);
  rc = git_indexer_append (st.idx, st.chunk->data, st.chunk->len, &st.stats);
  if (rc == 0)
    rc = git_indexer_commit (st.idx, &st.stats);
  if (rc < 0) {
    store_git_fail (r, error, rc, "cannot write a pack");
    goto out;
  }
  *stem = g_strdup_printf ("pack-%s", git_indexer_name (st.idx));
  ok = TRUE;
out:
  git_indexer_free (st.idx);
  g_checksum_free (st.sum);
  g_byte_array_unref (st.chunk);
  return ok;
}

gboolean
store_git_merge_small_packs (StoreGitRepo *r, GError **error)
{
  g_autofree char *stem = NULL;
  if (r->unkept_packs < STORE_GIT_MERGE_AT)
    return TRUE;
  g_autoptr (GPtrArray) packs = list_packs (r);
  g_autoptr (GArray) sizes = g_array_new (FALSE, FALSE, sizeof (PackSize));
  g_array_set_clear_func (sizes, pack_size_clear);
  g_autofree char *dir = pack_dir (r);
  for (guint i = 0; i < packs->len; i++) {
    GStatBuf sb;
    g_autofree char *p
        = g_strdup_printf ("%s/%s.pack", dir, (char *)packs->pdata[i]);
    if (is_kept (r, packs->pdata[i]) || g_stat (p, &sb) != 0)
      continue;
    PackSize ps = { g_strdup (packs->pdata[i]), (guint64)sb.st_size };
    g_array_append_val (sizes, ps);
  }
  r->unkept_packs = sizes->len;
  if (sizes->len < STORE_GIT_MERGE_AT)
    return TRUE;
  g_array_sort (sizes, pack_size_cmp);

  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (GPtrArray) per_pack
      = g_ptr_array_new_with_free_func ((GDestroyNotify)g_array_unref);
  /* The same object in two packs (a value written in two blocks): once. */
  g_autoptr (GHashTable) todo = g_hash_table_new (oid_hash, oid_equal);
  for (guint i = 0; i < STORE_GIT_MERGE_COUNT; i++) {
    GArray *oids = g_array_new (FALSE, FALSE, sizeof (git_oid));
    g_ptr_array_add (per_pack, oids);
    if (!idx_oids (r, g_array_index (sizes, PackSize, i).stem, oids, error))
      return FALSE;
  }
  for (guint k = 0; k < per_pack->len; k++) {
    GArray *oids = per_pack->pdata[k];
    for (guint i = 0; i < oids->len; i++)
      g_hash_table_add (todo, &g_array_index (oids, git_oid, i));
  }
  guint n_objects = g_hash_table_size (todo);

  /* Written and fsynced before the packs it replaces go. */
  if (!write_merged (r, per_pack, todo, &stem, error))
    return FALSE;
  const char *exts[] = { ".pack", ".idx" };
  for (size_t i = 0; i < G_N_ELEMENTS (exts); i++) {
    g_autofree char *p = g_strdup_printf ("%s/%s%s", dir, stem, exts[i]);
    if (!store_git_fsync_path (p, FALSE, error))
      return FALSE;
  }
  if (!store_git_fsync_path (dir, TRUE, error))
    return FALSE;
  STORE_GIT_STEP ("merge-pack");
  for (guint i = 0; i < STORE_GIT_MERGE_COUNT; i++)
    if (strcmp (g_array_index (sizes, PackSize, i).stem, stem) != 0)
      remove_pack (r, g_array_index (sizes, PackSize, i).stem);
  if (!store_git_repo_reopen (r, error))
    return FALSE;
  r->unkept_packs = sizes->len - STORE_GIT_MERGE_COUNT + 1;
  store_git_log (r->store, G_LOG_LEVEL_DEBUG,
                 "%s: merged %d packs (%u objects) into %s in %.2f s", r->path,
                 STORE_GIT_MERGE_COUNT, n_objects, stem,
                 (g_get_monotonic_time () - t0) / 1e6);
  return TRUE;
}

gboolean
store_git_checkpoint_repair (CairnStore *store, GError **error)
{
  StoreGitRepo *r = &store->chain;
  uint64_t every = store->plugin->pack_every;
  git_oid want, have;

  if (every == 0 || !store->has_head || store->head < every)
    return TRUE;
  uint64_t c = store->head - store->head % every;
  g_autofree char *ref = g_strdup_printf (
      "refs/tags/" STORE_GIT_CHECKPOINT_PREFIX "%" G_GUINT64_FORMAT, c);
  if (!store_git_index_commit_at (store, c, &want, error))
    return FALSE;
  if (git_reference_name_to_id (&have, r->repo, ref) == 0
      && git_oid_equal (&have, &want))
    return TRUE;
  git_error_clear ();
  store_git_log (store, G_LOG_LEVEL_INFO,
                 "%s: the checkpoint of block %" G_GUINT64_FORMAT
                 " did not finish: packing it again",
                 r->path, c);
  return store_git_checkpoint_start (store, c, &want, c == store->head, error);
}

gboolean
store_git_consolidate_private (CairnStore *store, GError **error)
{
  StoreGitRepo *r = &store->priv;
  git_packbuilder *pb = NULL;
  g_autofree char *stem = NULL;
  g_autoptr (GPtrArray) packs = NULL;
  gboolean exists, ok = FALSE;
  git_oid top;
  int rc;

  if (!store_git_ref_read (r, &top, &exists, error))
    return !exists;
  if ((rc = git_packbuilder_new (&pb, r->repo)) < 0
      || (rc = git_packbuilder_insert_commit (pb, &top)) < 0) {
    store_git_fail (r, error, rc, "cannot collect the objects to pack");
    goto out;
  }
  git_packbuilder_set_threads (pb, 1);
  if (!write_pack (r, pb, NULL, &stem, error))
    goto out;
  packs = list_packs (r);
  for (guint i = 0; i < packs->len; i++)
    if (strcmp (packs->pdata[i], stem) != 0)
      remove_pack (r, packs->pdata[i]);
  ok = store_git_repo_reopen (r, error);
  r->packs_since_consolidation = 0;
  r->unkept_packs = 1;
out:
  git_packbuilder_free (pb);
  return ok;
}

static uint64_t
du (const char *path)
{
  GStatBuf sb;
  uint64_t total = 0;
  if (g_lstat (path, &sb) != 0)
    return 0;
  if (!S_ISDIR (sb.st_mode))
    return (uint64_t)sb.st_size;
  GDir *d = g_dir_open (path, 0, NULL);
  const char *name;
  while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
    g_autofree char *child = g_build_filename (path, name, NULL);
    total += du (child);
  }
  if (d != NULL)
    g_dir_close (d);
  return total;
}

uint64_t
store_git_repo_disk_usage (StoreGitRepo *r)
{
  g_autofree char *objects = g_build_filename (r->path, "objects", NULL);
  return du (objects);
}
