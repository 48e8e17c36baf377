/* blob-fs: the default blob store. Content-addressed blobs on local disk
 * with the ids IPFS gives the same bytes. This file: descriptor, config,
 * registration and the CairnBlobstoreIface callbacks. See README.md. */
#include "blob_fs.h"

/* put, get and stat may run on any thread and must not call the host
 * (whose functions are for the main thread), not even get_data: each
 * plugin instance's store is found here, by its handle. */
static GMutex stores_lock;
static GHashTable *stores; /* CairnPlugin * -> BlobFsStore * (a ref) */

static BlobFsStore *
store_of (CairnPlugin *self, GError **error)
{
  BlobFsStore *store = NULL;

  g_mutex_lock (&stores_lock);
  if (stores != NULL && (store = g_hash_table_lookup (stores, self)) != NULL)
    blob_fs_store_ref (store);
  g_mutex_unlock (&stores_lock);
  if (store == NULL)
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                 "blob-fs: called before the plugin's init or after its fini");
  return store;
}

static gboolean
blob_fs_put (CairnPlugin *self, GInputStream *in, char **cid,
             GCancellable *cancellable, GError **error)
{
  g_autoptr (BlobFsStore) store = store_of (self, error);
  uint8_t digest[BLOB_FS_DIGEST_LEN];

  if (store == NULL
      || !blob_fs_import (store, in, BLOB_FS_CHUNK_SIZE, BLOB_FS_MAX_LINKS,
                          digest, cancellable, error))
    return FALSE;
  *cid = blob_fs_cid_v1 (digest);
  return TRUE;
}

static GInputStream *
blob_fs_get (CairnPlugin *self, const char *cid, uint64_t offset,
             uint64_t length, GError **error)
{
  g_autoptr (BlobFsStore) store = store_of (self, error);
  if (store == NULL)
    return NULL;
  return blob_fs_reader_new (store, cid, offset, length, error);
}

static gboolean
blob_fs_stat (CairnPlugin *self, const char *cid, uint64_t *size,
              GError **error)
{
  g_autoptr (BlobFsStore) store = store_of (self, error);
  return store != NULL && blob_fs_blob_size (store, cid, size, error);
}

static const CairnBlobstoreIface blobstore_iface = {
  .iface_version = CAIRN_BLOBSTORE_IFACE_VERSION,
  .put = blob_fs_put,
  .get = blob_fs_get,
  .stat = blob_fs_stat,
};

/* [blob-fs] dir: absolute, or relative to the plugin's data directory;
 * empty (the default) is the data directory itself. */
static char *
store_dir (CairnPlugin *self, const CairnHost *host, const char *dir)
{
  if (g_path_is_absolute (dir))
    return g_strdup (dir);
  return g_build_filename (host->data_dir (self), dir, NULL);
}

static gboolean
blob_fs_init (CairnPlugin *self, const CairnHost *host, GError **error)
{
  g_autofree char *dir_opt = NULL;
  gboolean sync;
  guint removed = 0;

  if (!host->config_string (self, "dir", "", &dir_opt, error)
      || !host->config_bool (self, "sync", TRUE, &sync, error))
    return FALSE;
  g_autofree char *dir = store_dir (self, host, dir_opt);
  g_autoptr (BlobFsStore) store
      = blob_fs_store_open (dir, sync, &removed, error);
  if (store == NULL) {
    if (*dir_opt != '\0')
      g_prefix_error (error, "[blob-fs] dir = '%s': ", dir_opt);
    return FALSE;
  }
  if (removed > 0)
    cairn_log (host, self, G_LOG_LEVEL_INFO,
               "removed %u leftover file(s) of unfinished uploads from %s/tmp",
               removed, dir);
  if (!host->register_blobstore (self, &blobstore_iface, sizeof blobstore_iface,
                                 error))
    return FALSE;

  g_mutex_lock (&stores_lock);
  if (stores == NULL)
    stores = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                    (GDestroyNotify)blob_fs_store_unref);
  g_hash_table_replace (stores, self, g_steal_pointer (&store));
  g_mutex_unlock (&stores_lock);
  return TRUE;
}

static void
blob_fs_fini (CairnPlugin *self)
{
  g_mutex_lock (&stores_lock);
  if (stores != NULL) {
    g_hash_table_remove (stores, self);
    if (g_hash_table_size (stores) == 0)
      g_clear_pointer (&stores, g_hash_table_unref);
  }
  g_mutex_unlock (&stores_lock);
}

CAIRN_PLUGIN_DEFINE (blob_fs, .id = "blob-fs", .version = "0.1.0",
                     .vendor = "Cairn", .license = "Apache-2.0",
                     .description = "Content-addressed blobs on local disk, "
                                    "with IPFS's CIDs (the default blob "
                                    "store)",
                     .kinds = CAIRN_KIND_BLOBSTORE, .init = blob_fs_init,
                     .fini = blob_fs_fini)
