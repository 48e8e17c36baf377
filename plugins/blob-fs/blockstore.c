/* blob-fs: blocks on disk.
 *
 *   <dir>/blocks/<XX>/<KEY>.data   one block; KEY is the multihash in
 *                                  base32 upper case ("CIQ…"), XX its
 *                                  next-to-last two characters (go-ipfs's
 *                                  flatfs "next-to-last/2" layout)
 *   <dir>/tmp/<KEY>.<random>       a block being written
 *
 * A block is written to tmp/, fsynced, and renamed into place, so a block
 * file is always whole. The directories touched are fsynced by
 * blob_fs_batch_commit, which the importer calls before it writes any node
 * that links to those blocks: a node is on disk only after everything
 * below it. Whatever a crash leaves in tmp/ is removed at the next open. */
#include "blob_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

struct BlobFsStore {
  char *dir;
  char *blocks_dir;
  char *tmp_dir;
  gboolean sync;
};

struct BlobFsBatch {
  BlobFsStore *store;
  GHashTable *dirty; /* directories with renames not yet fsynced */
  GByteArray *scratch;
};

static gboolean
io_fail (GError **error, int err, const char *what, const char *path)
{
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO, "blob-fs: cannot %s %s: %s",
               what, path, g_strerror (err));
  return FALSE;
}

static void
store_clear (BlobFsStore *store)
{
  g_free (store->dir);
  g_free (store->blocks_dir);
  g_free (store->tmp_dir);
}

BlobFsStore *
blob_fs_store_ref (BlobFsStore *store)
{
  return g_atomic_rc_box_acquire (store);
}

void
blob_fs_store_unref (BlobFsStore *store)
{
  if (store != NULL)
    g_atomic_rc_box_release_full (store, (GDestroyNotify)store_clear);
}

const char *
blob_fs_store_dir (BlobFsStore *store)
{
  return store->dir;
}

static gboolean
make_dir (const char *path, GError **error)
{
  if (g_mkdir_with_parents (path, 0700) != 0)
    return io_fail (error, errno, "create the directory", path);
  return TRUE;
}

/* Removes every file in tmp/: each is a block of an upload that did not
 * finish (a finished block was renamed out of tmp/). */
static gboolean
clean_tmp (const char *tmp_dir, guint *n_removed, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GDir) d = g_dir_open (tmp_dir, 0, &local);
  const char *name;

  *n_removed = 0;
  if (d == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO, "blob-fs: %s",
                 local->message);
    return FALSE;
  }
  while ((name = g_dir_read_name (d)) != NULL) {
    g_autofree char *path = g_build_filename (tmp_dir, name, NULL);
    if (g_unlink (path) != 0)
      return io_fail (error, errno, "remove the leftover upload file", path);
    (*n_removed)++;
  }
  return TRUE;
}

BlobFsStore *
blob_fs_store_open (const char *dir, gboolean sync, guint *n_removed,
                    GError **error)
{
  BlobFsStore *store = g_atomic_rc_box_new0 (BlobFsStore);
  g_autoptr (BlobFsStore) guard = store;

  store->dir = g_strdup (dir);
  store->blocks_dir = g_build_filename (dir, "blocks", NULL);
  store->tmp_dir = g_build_filename (dir, "tmp", NULL);
  store->sync = sync;
  if (!make_dir (store->blocks_dir, error) || !make_dir (store->tmp_dir, error)
      || !clean_tmp (store->tmp_dir, n_removed, error))
    return NULL;
  if (access (store->tmp_dir, W_OK) != 0) {
    io_fail (error, errno, "write into", store->tmp_dir);
    return NULL;
  }
  return g_steal_pointer (&guard);
}

char *
blob_fs_store_block_path (BlobFsStore *store,
                          const uint8_t digest[BLOB_FS_DIGEST_LEN])
{
  g_autofree char *key = blob_fs_block_key (digest);
  size_t n = strlen (key);
  char shard[3] = { key[n - 3], key[n - 2], '\0' };
  g_autofree char *file = g_strconcat (key, ".data", NULL);
  return g_build_filename (store->blocks_dir, shard, file, NULL);
}

/* ---- reading ----------------------------------------------------------- */

static gboolean
read_file (const char *path, int fd, GByteArray *buf, GError **error)
{
  struct stat st;
  size_t done = 0;

  if (fstat (fd, &st) != 0)
    return io_fail (error, errno, "stat", path);
  if (st.st_size > BLOB_FS_MAX_BLOCK) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "%s is %jd bytes; no block is larger than %u", path,
                 (intmax_t)st.st_size, BLOB_FS_MAX_BLOCK);
    return FALSE;
  }
  g_byte_array_set_size (buf, (guint)st.st_size);
  while (done < buf->len) {
    ssize_t n = read (fd, buf->data + done, buf->len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return io_fail (error, errno, "read", path);
    if (n == 0)
      break; /* shrank under us: the hash check below fails */
    done += (size_t)n;
  }
  g_byte_array_set_size (buf, (guint)done);
  return TRUE;
}

gboolean
blob_fs_store_read (BlobFsStore *store,
                    const uint8_t digest[BLOB_FS_DIGEST_LEN], GByteArray *buf,
                    GError **error)
{
  g_autofree char *path = blob_fs_store_block_path (store, digest);
  uint8_t got[BLOB_FS_DIGEST_LEN];
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0 && errno == ENOENT) {
    g_autofree char *cid = blob_fs_cid_v1 (digest);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                 "block %s is not stored (no file %s)", cid, path);
    return FALSE;
  }
  if (fd < 0)
    return io_fail (error, errno, "open", path);
  gboolean ok = read_file (path, fd, buf, error);
  close (fd);
  if (!ok)
    return FALSE;
  blob_fs_sha256 (buf->data, buf->len, got);
  if (memcmp (got, digest, BLOB_FS_DIGEST_LEN) != 0) {
    g_autofree char *cid = blob_fs_cid_v1 (digest);
    g_autofree char *got_cid = blob_fs_cid_v1 (got);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "block %s is corrupt: its file %s (%u bytes) hashes to %s",
                 cid, path, buf->len, got_cid);
    return FALSE;
  }
  return TRUE;
}

/* ---- writing ----------------------------------------------------------- */

BlobFsBatch *
blob_fs_batch_new (BlobFsStore *store)
{
  BlobFsBatch *batch = g_new0 (BlobFsBatch, 1);
  batch->store = blob_fs_store_ref (store);
  batch->dirty = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  batch->scratch = g_byte_array_new ();
  return batch;
}

void
blob_fs_batch_free (BlobFsBatch *batch)
{
  if (batch == NULL)
    return;
  blob_fs_store_unref (batch->store);
  g_hash_table_unref (batch->dirty);
  g_byte_array_unref (batch->scratch);
  g_free (batch);
}

/* TRUE when path already holds exactly block. */
static gboolean
already_stored (BlobFsBatch *batch, const char *path, const void *block,
                size_t len)
{
  struct stat st;
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  gboolean same = FALSE;

  if (fd < 0)
    return FALSE;
  if (fstat (fd, &st) == 0 && (size_t)st.st_size == len
      && read_file (path, fd, batch->scratch, NULL))
    same = batch->scratch->len == len
           && memcmp (batch->scratch->data, block, len) == 0;
  close (fd);
  return same;
}

static gboolean
write_all (int fd, const char *path, const uint8_t *p, size_t len,
           GError **error)
{
  while (len > 0) {
    ssize_t n = write (fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return io_fail (error, errno, "write", path);
    p += n;
    len -= (size_t)n;
  }
  return TRUE;
}

gboolean
blob_fs_batch_put (BlobFsBatch *batch, const uint8_t digest[BLOB_FS_DIGEST_LEN],
                   const void *block, size_t len, GError **error)
{
  BlobFsStore *store = batch->store;
  g_autofree char *path = blob_fs_store_block_path (store, digest);
  g_autofree char *shard = g_path_get_dirname (path);
  g_autofree char *key = blob_fs_block_key (digest);

  if (already_stored (batch, path, block, len))
    return TRUE;
  if (g_mkdir (shard, 0700) == 0)
    g_hash_table_add (batch->dirty, g_strdup (store->blocks_dir));
  else if (errno != EEXIST)
    return io_fail (error, errno, "create the directory", shard);

  g_autofree char *tmp = g_strdup_printf ("%s/%s.XXXXXX", store->tmp_dir, key);
  int fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    return io_fail (error, errno, "create", tmp);
  gboolean ok = write_all (fd, tmp, block, len, error);
  if (ok && store->sync && fdatasync (fd) != 0)
    ok = io_fail (error, errno, "sync", tmp);
  if (close (fd) != 0 && ok)
    ok = io_fail (error, errno, "close", tmp);
  if (ok && rename (tmp, path) != 0)
    ok = io_fail (error, errno, "rename into place", tmp);
  if (!ok) {
    g_unlink (tmp);
    return FALSE;
  }
  g_hash_table_add (batch->dirty, g_steal_pointer (&shard));
  return TRUE;
}

gboolean
blob_fs_batch_commit (BlobFsBatch *batch, GError **error)
{
  GHashTableIter it;
  gpointer dir;

  if (batch->store->sync) {
    g_hash_table_iter_init (&it, batch->dirty);
    while (g_hash_table_iter_next (&it, &dir, NULL)) {
      int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0)
        return io_fail (error, errno, "open", dir);
      int rc = fsync (fd), err = errno;
      close (fd);
      if (rc != 0)
        return io_fail (error, err, "sync the directory", dir);
    }
  }
  g_hash_table_remove_all (batch->dirty);
  return TRUE;
}
