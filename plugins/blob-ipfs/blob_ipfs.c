/* blob-ipfs: blobs in an IPFS node, through its HTTP RPC API, with the
 * ids blob-fs gives. This file: descriptor, config, registration and the
 * CairnBlobstoreIface callbacks. See README.md. */
#include "blob_ipfs.h"

#include <string.h>

#include <jansson.h>

/* put, get and stat may run on any thread and must not call the host: each
 * plugin instance's settings are found here, by its handle. */
static GMutex instances_lock;
static GHashTable *instances; /* CairnPlugin * -> BlobIpfs * (a ref) */

static BlobIpfs *
settings_of (CairnPlugin *self, GError **error)
{
  BlobIpfs *b = NULL;

  g_mutex_lock (&instances_lock);
  if (instances != NULL && (b = g_hash_table_lookup (instances, self)) != NULL)
    blob_ipfs_ref (b);
  g_mutex_unlock (&instances_lock);
  if (b == NULL)
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                 "blob-ipfs: called before the plugin's init or after its "
                 "fini");
  return b;
}

static gboolean
blob_ipfs_iface_put (CairnPlugin *self, GInputStream *in, char **cid,
                     GCancellable *cancellable, GError **error)
{
  g_autoptr (BlobIpfs) b = settings_of (self, error);
  return b != NULL && blob_ipfs_put (b, in, cid, cancellable, error);
}

static GInputStream *
blob_ipfs_iface_get (CairnPlugin *self, const char *cid, uint64_t offset,
                     uint64_t length, GError **error)
{
  g_autoptr (BlobIpfs) b = settings_of (self, error);
  if (b == NULL)
    return NULL;
  return blob_ipfs_reader_new (b, cid, offset, length, error);
}

static gboolean
blob_ipfs_iface_stat (CairnPlugin *self, const char *cid, uint64_t *size,
                      GError **error)
{
  g_autoptr (BlobIpfs) b = settings_of (self, error);
  return b != NULL && blob_ipfs_size (b, cid, size, error);
}

static const CairnBlobstoreIface blobstore_iface = {
  .iface_version = CAIRN_BLOBSTORE_IFACE_VERSION,
  .put = blob_ipfs_iface_put,
  .get = blob_ipfs_iface_get,
  .stat = blob_ipfs_iface_stat,
};

/* [blob-ipfs] api_url: http(s)://host[:port][/path], without a query;
 * the calls go to <api_url>/api/v0/<command>. */
static char *
parse_api_url (const char *text, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GUri) uri = g_uri_parse (text, G_URI_FLAGS_NONE, &local);
  const char *why = NULL;

  if (uri == NULL)
    why = local->message;
  else if (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0
           && g_strcmp0 (g_uri_get_scheme (uri), "https") != 0)
    why = "not an http:// or https:// URL";
  else if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    why = "no host";
  else if (g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL)
    why = "a query or fragment has no place in it";
  else if (g_uri_get_userinfo (uri) != NULL)
    why = "credentials in the URL are not supported";
  if (why != NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "[blob-ipfs] api_url = '%s': %s (write the daemon's API "
                 "address, e.g. http://127.0.0.1:5001)",
                 text, why);
    return NULL;
  }
  char *url = g_strdup (text);
  gsize n = strlen (url);
  while (n > 0 && url[n - 1] == '/')
    url[--n] = '\0';
  return url;
}

/* Says in the log whether the daemon answers now; blobs fail (with their
 * own clear errors) until it does, but the node starts either way. */
static void
say_hello (CairnPlugin *self, const CairnHost *host, BlobIpfs *b)
{
  g_autoptr (SoupSession) session = blob_ipfs_session (b);
  g_autoptr (SoupMessage) msg = blob_ipfs_message (b, "version", "");
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) in
      = blob_ipfs_send (b, session, msg, NULL, NULL, &error);
  g_autoptr (GBytes) body
      = in != NULL ? blob_ipfs_read_body (b, msg, in, 65536, NULL, &error)
                   : NULL;
  if (body == NULL) {
    cairn_log (host, self, G_LOG_LEVEL_MESSAGE,
               "%s; blobs fail until the daemon answers", error->message);
    return;
  }
  gsize len;
  const char *text = g_bytes_get_data (body, &len);
  json_t *j = json_loadb (text, len, 0, NULL);
  const char *version = json_string_value (json_object_get (j, "Version"));
  cairn_log (host, self, G_LOG_LEVEL_INFO, "IPFS daemon at %s, version %s",
             b->api_url, version != NULL ? version : "unknown");
  json_decref (j);
}

static gboolean
blob_ipfs_init (CairnPlugin *self, const CairnHost *host, GError **error)
{
  g_autofree char *api_url = NULL;
  int64_t timeout_s, lookup_ms;
  gboolean offline, pin;

  if (!host->config_string (self, "api_url", "http://127.0.0.1:5001", &api_url,
                            error)
      || !host->config_int (self, "timeout_s", 60, 1, 86400, &timeout_s, error)
      || !host->config_int (self, "lookup_timeout_ms", 2000, 1, 600000,
                            &lookup_ms, error)
      || !host->config_bool (self, "offline", TRUE, &offline, error)
      || !host->config_bool (self, "pin", TRUE, &pin, error))
    return FALSE;
  g_autofree char *url = parse_api_url (api_url, error);
  if (url == NULL)
    return FALSE;

  g_autoptr (BlobIpfs) b = g_new0 (BlobIpfs, 1);
  g_atomic_ref_count_init (&b->ref);
  b->api_url = g_steal_pointer (&url);
  b->timeout_s = (guint)timeout_s;
  b->lookup_timeout_ms = (guint)lookup_ms;
  b->offline = offline;
  b->pin = pin;

  if (!host->register_blobstore (self, &blobstore_iface, sizeof blobstore_iface,
                                 error))
    return FALSE;
  say_hello (self, host, b);

  g_mutex_lock (&instances_lock);
  if (instances == NULL)
    instances = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                       (GDestroyNotify)blob_ipfs_unref);
  g_hash_table_replace (instances, self, g_steal_pointer (&b));
  g_mutex_unlock (&instances_lock);
  return TRUE;
}

static void
blob_ipfs_fini (CairnPlugin *self)
{
  g_mutex_lock (&instances_lock);
  if (instances != NULL) {
    g_hash_table_remove (instances, self);
    if (g_hash_table_size (instances) == 0)
      g_clear_pointer (&instances, g_hash_table_unref);
  }
  g_mutex_unlock (&instances_lock);
}

CAIRN_PLUGIN_DEFINE (blob_ipfs, .id = "blob-ipfs", .version = BLOB_IPFS_VERSION,
                     .vendor = "Cairn", .license = "Apache-2.0",
                     .description = "Blobs in an IPFS node through its HTTP "
                                    "RPC API, with blob-fs's CIDs, every "
                                    "byte checked",
                     .kinds = CAIRN_KIND_BLOBSTORE, .init = blob_ipfs_init,
                     .fini = blob_ipfs_fini)
